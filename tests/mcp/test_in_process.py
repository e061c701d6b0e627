"""The MCP server in this process (the SDK's in-process client), for what needs this process's settings."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from mcp import Client

from chat.mcp.caller import Caller
from chat.mcp.server import build_server
from chat.models import Run, SpendBudget

pytestmark = pytest.mark.django_db(transaction=True)


def call_as(user, tool: str, arguments: dict):
    """One tool call of `user`'s, as over stdio (no token)."""

    async def main():
        async with Client(
            build_server(Caller(user=user, token=None, site_url="http://testserver"))
        ) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(main())


def test_a_key_that_can_no_longer_be_read_is_a_tool_error_that_says_so(alice, alices_key, presets, settings):
    # A budget's estimate reads the user's endpoints, and with them the key (off demo mode,
    # where the server's endpoint is OpenRouter, at an address nothing answers).
    settings.FUSIONROOM_DEMO = False
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("5.00"))
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]

    result = call_as(alice, "fuse", {"question": "Why?"})

    assert result.is_error
    assert "Your stored key can no longer be read" in result.content[0].text
    assert not Run.objects.exists()


def test_a_panel_argument_longer_than_any_panel_name_is_refused(alice, presets):
    result = call_as(alice, "fuse", {"question": "Why?", "panel": "x" * 201})

    assert result.is_error and "at most 200 characters" in result.content[0].text
    assert not Run.objects.exists()


@pytest.mark.parametrize("run_id", [0, 2**64])
def test_a_run_id_no_run_can_have_is_refused_before_any_query(alice, run_id):
    async def main():
        async with Client(
            build_server(Caller(user=alice, token=None, site_url="http://testserver"))
        ) as client:
            return await client.call_tool("get_run", {"run_id": run_id})

    result = asyncio.run(main())

    assert result.is_error and "run_id" in result.content[0].text


def test_get_run_of_a_run_still_going_says_so_rather_than_pass_off_a_partial_answer(alice, alice_run):
    Run.objects.filter(pk=alice_run.pk).update(fused_text="The sky is")

    result = call_as(alice, "get_run", {"run_id": alice_run.pk})

    assert not result.is_error
    assert result.content[0].text == f"Run {alice_run.pk} is still running: ask get_run again in a moment."
    assert result.structured_content["status"] == "running"
