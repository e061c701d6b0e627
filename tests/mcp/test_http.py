"""/mcp over HTTP: API tokens, the API's switch, stateless requests, the body's bound."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import httpx2
import pytest

from chat.models import ApiToken, Run
from fusionroom.asgi import application
from tests.mcp.conftest import call, over_http, run_client

pytestmark = pytest.mark.django_db(transaction=True)

# What a client of the handshake era sends with every request after `initialize`.
LEGACY_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def tools_call(name: str, arguments: dict) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def answer_of(response: httpx2.Response) -> dict:
    """The JSON-RPC answer of a POST, sent as JSON or as the last event of an SSE stream."""
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [
            line.removeprefix("data:").strip()
            for line in response.text.splitlines()
            if line.startswith("data:")
        ]
        return json.loads(data[-1])
    return response.json()


@pytest.fixture
def endpoint(mcp_web, live) -> str:
    return f"{mcp_web.url}/mcp"


def test_a_request_without_a_token_is_refused_as_the_api_refuses_it(endpoint):
    response = httpx2.post(endpoint, json=tools_call("list_panels", {}), headers=LEGACY_HEADERS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="fusionroom"'


def test_the_sdk_client_with_an_unknown_token_is_refused(endpoint, alice):
    statuses = []

    with pytest.raises(ExceptionGroup, match="unhandled errors"):
        run_client(
            lambda: over_http(endpoint, "frk-not-a-token", statuses=statuses),
            lambda client: client.list_tools(),
        )

    assert statuses and set(statuses) == {401}


def test_a_revoked_token_is_refused(endpoint, token):
    token[0].revoke()

    response = httpx2.post(
        endpoint,
        json=tools_call("list_panels", {}),
        headers={**LEGACY_HEADERS, "Authorization": f"Bearer {token[1]}"},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def in_process(path: str, *, host: str = "testserver", **headers: str) -> httpx.Response:
    """A POST of list_panels to the ASGI application itself, with this process's settings."""

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.post(path, json=tools_call("list_panels", {}), headers=headers)

    return asyncio.run(post())


def test_mcp_is_off_with_the_api(token, settings):
    settings.FUSIONROOM_API = False

    response = in_process("/mcp", Authorization=f"Bearer {token[1]}", **LEGACY_HEADERS)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "api_disabled"


def test_a_host_the_site_does_not_serve_is_refused_before_the_token_is_read(token, settings):
    settings.ALLOWED_HOSTS = ["fusion.example.org"]

    response = in_process("/mcp", host="evil.example", Authorization=f"Bearer {token[1]}", **LEGACY_HEADERS)

    assert response.status_code == 400
    token[0].refresh_from_db()
    assert token[0].last_used_at is None


def test_plain_http_is_sent_to_https_before_the_token_is_read_as_django_sends_every_request(token, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = in_process("/mcp", Authorization=f"Bearer {token[1]}", **LEGACY_HEADERS)

    assert (response.status_code, response.headers["Location"]) == (301, "https://testserver/mcp")
    token[0].refresh_from_db()
    assert token[0].last_used_at is None


def test_the_path_with_a_slash_is_the_mcp_server_too(endpoint, token):
    result = run_client(
        lambda: over_http(endpoint + "/", token[1]), lambda client: client.call_tool("list_panels", {})
    )

    assert not result.is_error and result.structured_content["panels"]


def test_every_request_stands_alone_with_no_session_before_it(endpoint, token):
    # No initialize and no Mcp-Session-Id: any web process behind the balancer can answer.
    response = httpx2.post(
        endpoint,
        json=tools_call("list_panels", {}),
        headers={**LEGACY_HEADERS, "Authorization": f"Bearer {token[1]}"},
    )

    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    panels = answer_of(response)["result"]["structuredContent"]["panels"]
    assert [panel["name"] for panel in panels] == ["Quality", "Budget"]


def test_a_handshake_era_client_gets_the_answer_and_the_progress_too(endpoint, token, sim):
    progress = []

    async def record(done, total, message):
        progress.append(message)

    result = run_client(
        lambda: over_http(endpoint, token[1], mode="legacy"),
        lambda client: client.call_tool(
            "fuse", {"question": "Why is the sky blue?"}, progress_callback=record
        ),
    )

    assert not result.is_error and result.content[0].text == result.structured_content["answer"] != ""
    assert any(message.endswith("answered") for message in progress)


def test_a_tokens_allowed_models_limit_the_panels_it_lists_and_fuses(endpoint, alice, live):
    _, secret = ApiToken.objects.issue(alice, "budget only", allowed_models=["fusion/budget"])

    async def list_then_fuse(client):
        listed = await client.call_tool("list_panels", {})
        return listed, await client.call_tool("fuse", {"question": "Why?", "panel": "Quality"})

    listed, refused = run_client(lambda: over_http(endpoint, secret), list_then_fuse)

    assert [panel["model"] for panel in listed.structured_content["panels"]] == ["fusion/budget"]
    assert refused.is_error and "There is no panel 'Quality'. Your panels: Budget." in refused.content[0].text
    assert not Run.objects.exists()


def test_a_run_over_the_tokens_budget_is_a_tool_error(endpoint, alice, make_run):
    token, secret = ApiToken.objects.issue(alice, "capped", budget_usd=Decimal("0.50"))
    Run.objects.filter(pk=make_run(alice).pk).update(api_token=token, status=Run.Status.DONE, cost=0.50)

    result = call(lambda: over_http(endpoint, secret), "fuse", {"question": "Why?"})

    assert result.is_error and "would go over the budget of the API token 'capped'" in result.content[0].text
    assert Run.objects.count() == 1


def test_a_run_is_marked_with_the_token_it_came_with(endpoint, token, sim):
    result = call(lambda: over_http(endpoint, token[1]), "fuse", {"question": "Why?"})

    assert Run.objects.get(pk=result.structured_content["run_id"]).api_token == token[0]


def test_a_body_over_the_bound_is_refused(endpoint, token, settings):
    body = json.dumps(tools_call("fuse", {"question": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}))

    response = httpx2.post(
        endpoint,
        content=body,
        headers={**LEGACY_HEADERS, "Authorization": f"Bearer {token[1]}", "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert not Run.objects.exists()
