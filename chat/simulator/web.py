"""A pocket web for offline search and fetch: a SearXNG-compatible /search and the /pages it finds.

- ``GET /search?q=...&format=json``: five results for the query, the same every time, whose
  URLs are this server's own pages (the shape of SearXNG's JSON: ``results[].{title,url,content}``).
- ``GET /pages/<slug>``: an HTML article about the slug's words, with a nav bar and a script
  for the extractor to leave out.
- ``GET /pages/hop-<n>``: redirects to ``hop-<n-1>``; ``hop-0`` is an ordinary page.
- ``GET /pages/huge``: about 50 MB of HTML sent gzipped (some 100 KB on the wire), for the
  fetcher's decoded-size cap.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import re

from aiohttp import web

RESULTS_PER_QUERY = 5
HUGE_PAGE_BYTES = 50 * 1024 * 1024
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){0,11}")
_HOP = re.compile(r"hop-([0-9]{1,2})")
_ANGLES = ("an overview", "a field guide", "common questions", "trade-offs in practice", "a short history")
_CLAIMS = (
    "Most teams start small and measure before they change anything.",
    "The trade-offs depend more on the workload than on the tool.",
    "Published benchmarks disagree, mostly because they test different things.",
    "Operators report that the boring option usually wins in the long run.",
    "The documentation covers the common cases well and the edge cases poorly.",
    "Costs grow with usage in ways that are easy to underestimate.",
)


def add_web_routes(app: web.Application) -> None:
    app.router.add_get("/search", search)
    app.router.add_get("/pages/{slug}", page)


async def search(request: web.Request) -> web.Response:
    query = " ".join(request.query.get("q", "").split())
    if request.query.get("format") != "json":
        return web.Response(status=403, text="Only format=json is simulated.")
    origin = f"{request.scheme}://{request.host}"
    base = _slug_of(query)
    results = []
    for index in range(1, RESULTS_PER_QUERY + 1):
        slug = f"{base}-{index}"
        title, paragraphs = article(slug)
        results.append(
            {
                "title": title,
                "url": f"{origin}/pages/{slug}",
                "content": paragraphs[0],
                "engine": "simulated",
                "engines": ["simulated"],
                "score": round(1.0 / index, 3),
                "category": "general",
            }
        )
    body = {
        "query": query,
        "number_of_results": len(results),
        "results": results,
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [],
        "unresponsive_engines": [],
    }
    return web.json_response(body)


async def page(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    if slug == "huge":
        return web.Response(
            body=_huge_page_gzipped(),
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
        )
    hop = _HOP.fullmatch(slug)
    if hop is not None and int(hop.group(1)) > 0:
        raise web.HTTPFound(f"/pages/hop-{int(hop.group(1)) - 1}")
    if not _SLUG.fullmatch(slug):
        raise web.HTTPNotFound(text="No such page.")
    return web.Response(text=render(slug), content_type="text/html", charset="utf-8")


def article(slug: str) -> tuple[str, list[str]]:
    """The title and paragraphs of the page at `slug`, the same every time."""
    words = slug.split("-")
    index = int(words[-1]) if words[-1].isdigit() and len(words) > 1 else 0
    topic_words = words[:-1] if index else words
    topic = " ".join(topic_words).capitalize() or "This topic"
    angle = _ANGLES[(index - 1) % len(_ANGLES)] if index else "notes"
    seed = int.from_bytes(hashlib.sha256(slug.encode()).digest()[:4], "big")
    claims = [_CLAIMS[(seed + step) % len(_CLAIMS)] for step in range(3)]
    paragraphs = [
        f"{topic}: {angle}. This simulated page exists so FusionRoom can search and fetch offline.",
        *(f"On {topic.lower()}: {claim}" for claim in claims),
    ]
    return f"{topic} — {angle}", paragraphs


def render(slug: str) -> str:
    title, paragraphs = article(slug)
    body = "\n".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>\n"
        "<nav><a href='/'>Home</a> <a href='/search?q=more&amp;format=json'>More</a></nav>\n"
        f"<article><h1>{html.escape(title)}</h1>\n{body}\n</article>\n"
        "<script>document.title = 'not for the reader';</script>\n</body></html>\n"
    )


def _slug_of(query: str) -> str:
    words = re.findall(r"[a-z0-9]+", query.lower())[:8]
    return "-".join(words) or "nothing"


@functools.cache
def _huge_page_gzipped() -> bytes:
    head = b"<!doctype html><html><head><title>Huge page</title></head><body><p>"
    line = b"All work and no play makes the fetcher stop at its cap. "
    filler = line * ((HUGE_PAGE_BYTES - len(head)) // len(line))
    return gzip.compress(head + filler + b"</p></body></html>", compresslevel=9, mtime=0)
