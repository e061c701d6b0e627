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


def fuse_as(caller: Caller, arguments: dict):
    async def main():
        async with Client(build_server(caller)) as client:
            return await client.call_tool("fuse", arguments)

    return asyncio.run(main())


def test_a_key_that_can_no_longer_be_read_is_a_tool_error_that_says_so(alice, alices_key, presets, settings):
    # A budget's estimate reads the user's endpoints, and with them the key (off demo mode,
    # where the server's endpoint is OpenRouter, at an address nothing answers).
    settings.FUSIONROOM_DEMO = False
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("5.00"))
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]

    result = fuse_as(Caller(user=alice, token=None, site_url="http://testserver"), {"question": "Why?"})

    assert result.is_error
    assert "Your stored key can no longer be read" in result.content[0].text
    assert not Run.objects.exists()
