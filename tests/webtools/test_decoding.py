"""Decompression is bounded per chunk: a bomb never inflates past the cap, even inside one chunk."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import httpx
import pytest

from chat.webtools import WebToolsError
from chat.webtools.decoding import read_capped


def _response(body: bytes, encoding: str) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Encoding": encoding}, stream=httpx.ByteStream(body))


@pytest.mark.asyncio
async def test_one_chunk_of_gzip_bomb_inflates_only_to_the_cap():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)  # about 50 KB

    tracemalloc.start()
    try:
        body = await read_capped(_response(bomb, "gzip"), 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(bomb) < 100_000
    assert body.capped is True
    assert len(body.content) == 1_000_000
    assert peak < 5 * 1024 * 1024


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),
        ("identity", lambda data: data),
        ("", lambda data: data),
    ],
)
async def test_small_bodies_are_read_whole(encoding, compress):
    body = await read_capped(_response(compress(b"hello " * 100), encoding), 1_000)

    assert body.content == b"hello " * 100
    assert body.capped is False


@pytest.mark.asyncio
async def test_a_body_of_exactly_the_cap_is_not_capped():
    body = await read_capped(_response(gzip.compress(b"x" * 1_000), "gzip"), 1_000)

    assert (len(body.content), body.capped) == (1_000, False)


@pytest.mark.asyncio
async def test_a_corrupt_compressed_body_is_an_error():
    with pytest.raises(WebToolsError, match="corrupt"):
        await read_capped(_response(b"\x1f\x8b\x08\x00garbage-garbage", "gzip"), 1_000)


@pytest.mark.asyncio
@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, gzip"])
async def test_encodings_we_did_not_ask_for_are_refused(encoding):
    with pytest.raises(WebToolsError, match="content encoding"):
        await read_capped(_response(b"...", encoding), 1_000)
