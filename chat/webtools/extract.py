"""A downloaded body as a FetchedPage: readable text (trafilatura for HTML), cut to a token budget."""

from __future__ import annotations

import codecs

import charset_normalizer
import trafilatura

from chat.webtools.text import clean_text, one_line, strip_tags
from chat.webtools.types import FetchedPage

CHARS_PER_TOKEN = 4
_TITLE_LIMIT = 300


def page_from_body(
    url: str,
    media_type: str,
    charset: str | None,
    body: bytes,
    *,
    token_budget: int,
    body_capped_at: int | None = None,
) -> FetchedPage:
    """Extract `body` (of `media_type`: text/html, application/xhtml+xml or text/plain).

    `body_capped_at` is the byte cap when the download stopped there: the page then says so.
    CPU-bound on large pages; callers on an event loop run it in a thread.
    """
    decoded = decode(body, charset)
    if media_type == "text/plain":
        title, text = "", clean_text(decoded)
    else:
        title, text = _readable(decoded, url)
    text, cut = truncate(text, token_budget)
    if body_capped_at is not None:
        text += f"\n\n[Truncated: only the first {body_capped_at:,} bytes of the page were read.]"
    return FetchedPage(
        url=url,
        title=one_line(title, _TITLE_LIMIT) or url,
        text=text,
        truncated=cut or body_capped_at is not None,
    )


def decode(body: bytes, charset: str | None) -> str:
    """`body` as text: the declared charset when it is a real one, else UTF-8, else a guess."""
    if charset:
        try:
            return body.decode(codecs.lookup(charset).name, errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", errors="replace")


def truncate(text: str, token_budget: int) -> tuple[str, bool]:
    """`text` cut to about `token_budget` tokens (4 characters each) at a word, with a marker."""
    limit = token_budget * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", limit * 9 // 10)
    if space > 0:
        cut = cut[:space]
    marker = f"\n\n[Truncated: the page goes on beyond the {token_budget:,}-token budget.]"
    return cut.rstrip() + marker, True


def _readable(html: str, url: str) -> tuple[str, str]:
    beginning = html[:2_000].lower()
    # trafilatura wants a whole document; a bare fragment ("<p>hi</p>") it throws away.
    whole = html if "<html" in beginning or "<body" in beginning else f"<html><body>{html}</body></html>"
    document = trafilatura.bare_extraction(
        whole,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        favor_recall=True,
    )
    if not isinstance(document, trafilatura.settings.Document) or not document.text:
        # Too short or too odd for trafilatura: every visible text node, scripts left out.
        return strip_tags(html)
    return document.title or strip_tags(html)[0], clean_text(document.text)
