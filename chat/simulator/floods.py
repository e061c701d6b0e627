"""Bodies without end for the flood faults: generated as they are sent, never held whole."""

from __future__ import annotations

import json
from collections.abc import Iterator

CHUNK_BYTES = 64 * 1024
# One block, made once and sent again and again: a 200 MB flood costs the simulator 64 KiB.
_FILLER = (b"flood " * (CHUNK_BYTES // 6 + 1))[:CHUNK_BYTES]
_ERROR_OPENING = b'{"error": {"code": 500, "message": "Internal Server Error '
_ERROR_CLOSING = b'"}}'
# What an endless answer says, a thousand characters a chunk.
ENDLESS_TEXT = ("and so on " * 100)[:1000]


def answer_flood(unit: str, total_chars: int, chunk_chars: int = 1000) -> Iterator[str]:
    """`unit` repeated to `total_chars` characters, handed out `chunk_chars` at a time."""
    repeated = unit * (chunk_chars // len(unit) + 2)
    offset = sent = 0
    while sent < total_chars:
        size = min(chunk_chars, total_chars - sent)
        yield repeated[offset : offset + size]
        sent += size
        offset = (offset + size) % len(unit)


def error_flood(total_bytes: int) -> Iterator[bytes]:
    """A JSON error object of `total_bytes`, its message padded out: a gateway's giant error page."""
    yield from _framed(_ERROR_OPENING, total_bytes, _ERROR_CLOSING)


def giant_line(total_bytes: int) -> Iterator[bytes]:
    """One SSE `data:` line of `total_bytes` that never reaches its line ending."""
    yield from _framed(b"data: ", total_bytes, b"")


def catalog_flood(entries: list[dict[str, object]], total_bytes: int) -> Iterator[bytes]:
    """A /models listing of about `total_bytes`: the real entries, then made-up ones to pad it out."""
    opening = json.dumps({"data": entries})[:-2].encode()  # without the closing "]}"
    yield opening
    sent, number = len(opening), 0
    while sent < total_bytes:
        block = b"".join(b', {"id": "flood/model-%09d", "name": "Flood"}' % (number + n) for n in range(1000))
        number += 1000
        sent += len(block)
        yield block
    yield b"]}"


def _framed(opening: bytes, total_bytes: int, closing: bytes) -> Iterator[bytes]:
    yield opening
    left = max(total_bytes - len(opening) - len(closing), 0)
    while left > 0:
        chunk = _FILLER if left >= CHUNK_BYTES else _FILLER[:left]
        left -= len(chunk)
        yield chunk
    if closing:
        yield closing
