"""How much FusionRoom reads of what an upstream sends: error bodies, catalogs, stream events."""

from __future__ import annotations

import httpx

# The defaults of FUSIONROOM_MAX_ERROR_BODY_BYTES and FUSIONROOM_MAX_CATALOG_BYTES: an error
# body is quoted in 300 characters at most, and OpenRouter's whole catalog is about 1 MiB.
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_CATALOG_BYTES = 16 * 1024 * 1024
# The longest line, or event, of a stream: a chat-completions chunk carries a few tokens, and
# one that carries a whole answer of the longest kept (200,000 characters, escaped) still fits.
MAX_EVENT_CHARS = 2 * 1024 * 1024


async def read_at_most(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The first `max_bytes` of a streamed response's body, and whether more was on the way.

    Stops reading as soon as the cap is passed, so a body of any size costs at most the cap
    and one chunk; the caller's `async with` then closes the response, and with it the
    connection (which is not reused: the rest of the body was never read).
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(parts)[:max_bytes], True
    return b"".join(parts), False
