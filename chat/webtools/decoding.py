"""Reading a response body up to a cap on its DECODED size, so a gzip bomb cannot fill memory.

httpx's own decoders inflate each network chunk whole (64 KiB of gzip can become 64 MiB);
here zlib is asked for at most what is left under the cap, chunk by chunk.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import httpx

from chat.webtools.types import WebToolsError

ACCEPT_ENCODING = "gzip, deflate"


class _Decoder:
    """Content-Encoding: identity."""

    def decode(self, data: bytes, max_length: int) -> bytes:
        return data[:max_length]

    def flush(self, max_length: int) -> bytes:
        return b""


class _ZlibDecoder(_Decoder):
    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def decode(self, data: bytes, max_length: int) -> bytes:
        try:
            output = self._zlib.decompress(data, max_length)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise _corrupt() from None
            # "deflate" is meant to be zlib-wrapped, but some servers send it raw.
            self._wbits = -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(self._wbits)
            return self.decode(data, max_length)
        self._started = True
        return output

    def flush(self, max_length: int) -> bytes:
        try:
            return self._zlib.flush(max_length) if max_length > 0 else b""
        except zlib.error:
            raise _corrupt() from None


def _decoder_for(encoding: str) -> _Decoder:
    codings = [coding.strip() for coding in encoding.lower().split(",") if coding.strip()]
    if not codings or codings == ["identity"]:
        return _Decoder()
    if codings in (["gzip"], ["x-gzip"]):
        return _ZlibDecoder(zlib.MAX_WBITS | 16)
    if codings == ["deflate"]:
        return _ZlibDecoder(zlib.MAX_WBITS)
    raise WebToolsError(f"Refused: the page is sent with content encoding {encoding!r}, which is not read.")


def _corrupt() -> WebToolsError:
    return WebToolsError("The page's compressed body is corrupt.")


@dataclass(frozen=True)
class Body:
    content: bytes
    capped: bool


async def read_capped(response: httpx.Response, max_bytes: int) -> Body:
    """Up to `max_bytes` of `response`'s decoded body; `capped` when there was more.

    Stops reading from the network as soon as the cap is passed (compressed bytes count
    against it too), so neither a bomb nor an endless body is read to its end.
    """
    decoder = _decoder_for(response.headers.get("content-encoding", ""))
    content = bytearray()
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        # One byte more than the cap: getting it means there was more.
        content += decoder.decode(chunk, max_bytes + 1 - len(content))
        if len(content) > max_bytes or received > max_bytes:
            return Body(bytes(content[:max_bytes]), capped=True)
    content += decoder.flush(max_bytes + 1 - len(content))
    if len(content) > max_bytes:
        return Body(bytes(content[:max_bytes]), capped=True)
    return Body(bytes(content), capped=False)
