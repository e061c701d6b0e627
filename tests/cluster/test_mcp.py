"""The MCP server behind `make run-cluster`'s round-robin balancer: each request stands alone."""

from __future__ import annotations

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from chat.models import ApiToken, Panel, Run
from chat.simulator import SimulatorThread
from tests.cluster.processes import Cluster

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_a_handshake_era_client_is_served_by_either_web_process_and_its_run_by_a_worker(
    cluster: Cluster, sim: SimulatorThread, alice: User, presets: dict[str, Panel]
) -> None:
    launcher = cluster.launcher(web=2, workers=1)
    balancer = launcher.wait_for_line(r"Listening on (http://127\.0\.0\.1:\d+)").group(1)
    for number in (1, 2):
        launcher.wait_for_line(rf"\[web-{number}\] Listening on TCP address")
    _, secret = await sync_to_async(ApiToken.objects.issue)(alice, "agent")
    progress: list[str] = []

    async def record(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    # A connection per request, so the balancer hands each to the next web process: a session
    # kept in one process's memory (from initialize) would be unknown to the other.
    headers = {"Authorization": f"Bearer {secret}"}
    one_off = httpx2.Limits(max_keepalive_connections=0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60, limits=one_off) as http,
        Client(streamable_http_client(f"{balancer}/mcp", http_client=http), mode="legacy") as client,
    ):
        listed = await client.call_tool("list_panels", {})
        fused = await client.call_tool(
            "fuse", {"question": "Why is the sky blue?", "panel": "Budget"}, progress_callback=record
        )

    assert [panel["name"] for panel in listed.structured_content["panels"]] == ["Quality", "Budget"]
    assert not fused.is_error and fused.content[0].text == fused.structured_content["answer"] != ""
    assert any(message.endswith("answered") for message in progress)
    run = await Run.objects.aget(pk=fused.structured_content["run_id"])
    assert run.api_token_id is not None and run.panel_name == "Budget"
    for number in (1, 2):
        launcher.wait_for_line(rf'\[web-{number}\] .*"POST /mcp" 200')
