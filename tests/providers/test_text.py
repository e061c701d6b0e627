"""Model text made safe to store, alone and as the client yields it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.text import safe_text
from chat.providers.types import ChatRequest, ReasoningDelta, StreamEnd, StreamEvent, TextDelta, ToolCallDelta
from tests.providers.conftest import Provider, ScriptedStream, sse, streaming, text_chunk

MakeClient = Callable[..., OpenAICompatibleClient]

# Any str at all: st.text() leaves surrogates out and rarely draws NUL, so both are mixed in by
# hand (a list of draws, not one merged alphabet, in which they would be vanishingly rare).
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"]), st.just("\x00"))).map(
    "".join
)


def test_it_removes_nul() -> None:
    assert safe_text("a\x00b\x00") == "ab"


def test_it_replaces_a_lone_surrogate() -> None:
    assert safe_text("caf\ud800e") == "caf\ufffde"


def test_it_joins_a_surrogate_pair_into_its_character() -> None:
    assert safe_text("smile \ud83d\ude00") == "smile \U0001f600"


def test_it_replaces_a_pair_in_the_wrong_order() -> None:
    assert safe_text("\ude00\ud83d") == "\ufffd\ufffd"


def test_it_returns_ordinary_text_as_it_is() -> None:
    text = "Grüße, 世界 \U0001f600\n\ttabs"
    assert safe_text(text) is text


@given(ANY_TEXT)
def test_any_text_becomes_valid_utf8_without_nul(text: str) -> None:
    safe = safe_text(text)

    safe.encode("utf-8")
    assert "\x00" not in safe


@given(ANY_TEXT)
def test_making_text_safe_twice_changes_nothing_more(text: str) -> None:
    assert safe_text(safe_text(text)) == safe_text(text)


@given(st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8")))
def test_text_that_is_already_safe_is_left_alone(text: str) -> None:
    assert safe_text(text) == text


def test_a_provider_errors_message_is_made_safe() -> None:
    assert ProviderError("bad\x00 \ud800").message == "bad \ufffd"


# --- Through the client --------------------------------------------------------------------------


def delta_event(**delta: object) -> bytes:
    """One SSE event of a delta; json.dumps writes NUL and lone surrogates as \\u escapes, as
    a provider's JSON would."""
    return sse({"choices": [{"index": 0, "delta": delta}]})


async def collect(client: OpenAICompatibleClient, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in client.stream(request)]


@pytest.mark.asyncio
async def test_the_client_yields_text_without_nul_or_lone_surrogates(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = delta_event(content="a\x00b\ud83d!") + sse("[DONE]")

    events = await collect(make_client(Provider(streaming(body))), request_)

    assert events == [TextDelta(text="ab\ufffd!"), StreamEnd(complete=True)]


@pytest.mark.asyncio
async def test_the_client_makes_reasoning_safe(make_client: MakeClient, request_: ChatRequest) -> None:
    body = delta_event(reasoning="think\x00ing \udc00") + sse("[DONE]")

    events = await collect(make_client(Provider(streaming(body))), request_)

    assert events[0] == ReasoningDelta(text="thinking \ufffd")


@pytest.mark.asyncio
async def test_the_client_makes_tool_call_fragments_safe(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    function = {"name": "web_search", "arguments": '{"q": "\ud800\x00"}'}
    body = delta_event(tool_calls=[{"index": 0, "id": "c\x001", "function": function}]) + sse("[DONE]")

    events = await collect(make_client(Provider(streaming(body))), request_)

    assert events[0] == ToolCallDelta(index=0, id="c1", name="web_search", arguments='{"q": "\ufffd"}')
    assert json.loads(events[0].arguments) == {"q": "\ufffd"}  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_delta_of_nothing_but_nul_yields_no_event(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = delta_event(content="\x00\x00") + sse(text_chunk("ok"), "[DONE]")

    events = await collect(make_client(Provider(streaming(body))), request_)

    assert events == [TextDelta(text="ok"), StreamEnd(complete=True)]


@pytest.mark.asyncio
@pytest.mark.parametrize("character", ["é", "€", "世", "\U0001f600"])
async def test_a_character_split_between_network_chunks_arrives_whole(
    make_client: MakeClient, request_: ChatRequest, character: str
) -> None:
    # ensure_ascii=False puts the raw UTF-8 bytes on the wire, as most providers do.
    body = (
        f"data: {json.dumps(text_chunk(f'a{character}b'), ensure_ascii=False)}\n\ndata: [DONE]\n\n".encode()
    )
    middle = body.index(character.encode()) + 1
    chunks = [body[:middle], body[middle:]]

    events = await collect(make_client(Provider(streaming(ScriptedStream(chunks)))), request_)

    assert events == [TextDelta(text=f"a{character}b"), StreamEnd(complete=True)]
