"""A stream's chunks made the quick way are the very bytes the general way makes."""

from __future__ import annotations

import json

import pytest

from chat.views.api import sse

TEXTS = ["Hello", 'a "quoted" word', "line\nbreak\ttab \\ backslash", "é 中文 🙂", "", "stand-in"]


@pytest.mark.parametrize("key", ["content", "reasoning"])
@pytest.mark.parametrize("text", TEXTS)
def test_a_text_delta_is_the_chunk_the_general_form_encodes(key, text):
    chunks = sse.Chunks("chatcmpl-1", 'odd/"model" stand-in')

    assert chunks.text(key, text) == chunks.encode({key: text})


def test_every_chunk_of_a_stream_has_its_id_model_and_one_created_time():
    chunks = sse.Chunks("chatcmpl-1", "moonshotai/kimi-k2.6")

    said = [
        json.loads(chunks.text("content", "Hi")[6:]),
        json.loads(chunks.encode({}, finish_reason="stop")[6:]),
    ]

    assert {(c["id"], c["model"], c["created"], c["object"]) for c in said} == {
        ("chatcmpl-1", "moonshotai/kimi-k2.6", chunks.created, "chat.completion.chunk")
    }
    assert said[0]["choices"] == [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]
