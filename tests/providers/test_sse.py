"""The SSE decoder, case by case, and the property that chunk boundaries never matter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.providers.sse import EventTooLarge, SSEDecoder


def decode(*chunks: bytes) -> list[str]:
    decoder = SSEDecoder()
    payloads = [payload for chunk in chunks for payload in decoder.feed(chunk)]
    return payloads + decoder.close()


def test_it_returns_the_data_of_a_complete_event() -> None:
    assert decode(b'data: {"a": 1}\n\n') == ['{"a": 1}']


def test_it_waits_for_the_blank_line_before_dispatching() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: hello\n") == []
    assert decoder.feed(b"\n") == ["hello"]


def test_it_skips_comment_lines() -> None:
    assert decode(b": OPENROUTER PROCESSING\n\ndata: x\n\n") == ["x"]


def test_it_skips_a_comment_inside_an_event() -> None:
    assert decode(b"data: a\n: keep-alive\ndata: b\n\n") == ["a\nb"]


def test_it_accepts_crlf_line_endings() -> None:
    assert decode(b"data: a\r\n\r\ndata: b\r\n\r\n") == ["a", "b"]


def test_it_accepts_cr_line_endings() -> None:
    assert decode(b"data: a\r\rdata: b\r\r") == ["a", "b"]


def test_it_accepts_mixed_line_endings() -> None:
    assert decode(b"data: a\r\n\ndata: b\n\r") == ["a", "b"]


def test_it_reads_a_crlf_split_across_chunks_as_one_line_ending() -> None:
    assert decode(b"data: a\r", b"\n", b"data: b\r\n\r\n") == ["a\nb"]


def test_it_dispatches_at_once_when_a_chunk_ends_with_the_blank_lines_cr() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: a\r\n\r") == ["a"]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == ["b"]


def test_it_returns_every_event_of_one_chunk() -> None:
    assert decode(b"data: 1\n\ndata: 2\n\ndata: 3\n\n") == ["1", "2", "3"]


def test_it_joins_an_event_split_across_chunks() -> None:
    assert decode(b"da", b"ta: hel", b"lo wor", b"ld\n", b"\n") == ["hello world"]


def test_it_decodes_a_multibyte_character_split_across_chunks() -> None:
    encoded = "data: café 🙂\n\n".encode()
    emoji_start = encoded.index("🙂".encode())

    assert decode(encoded[: emoji_start + 2], encoded[emoji_start + 2 :]) == ["café 🙂"]


def test_it_replaces_bytes_that_are_not_utf8() -> None:
    assert decode(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_it_joins_multiline_data_with_newlines() -> None:
    assert decode(b"data: first\ndata: second\ndata: third\n\n") == ["first\nsecond\nthird"]


def test_it_accepts_data_without_a_space_after_the_colon() -> None:
    assert decode(b"data:[DONE]\n\n") == ["[DONE]"]


def test_it_strips_only_one_space_after_the_colon() -> None:
    assert decode(b"data:  indented\n\n") == [" indented"]


def test_it_keeps_colons_inside_the_value() -> None:
    assert decode(b'data: {"url": "https://x"}\n\n') == ['{"url": "https://x"}']


def test_it_ignores_event_id_and_retry_fields() -> None:
    assert decode(b"event: message\nid: 7\nretry: 1000\ndata: x\n\n") == ["x"]


def test_it_ignores_unknown_fields() -> None:
    assert decode(b"foo: bar\ndata: x\n\n") == ["x"]


def test_it_dispatches_nothing_for_an_event_without_data() -> None:
    assert decode(b"event: ping\n\n\n\n") == []


def test_it_dispatches_an_empty_payload_for_an_empty_data_field() -> None:
    assert decode(b"data:\n\n") == [""]


def test_it_reads_a_data_line_without_a_colon_as_an_empty_value() -> None:
    assert decode(b"data\ndata: x\n\n") == ["\nx"]


def test_it_drops_a_byte_order_mark_at_the_start_of_the_stream() -> None:
    assert decode(b"\xef\xbb", b"\xbfdata: x\n\n") == ["x"]


def test_it_discards_an_event_left_without_its_blank_line_at_close() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: complete\n\ndata: cut") == ["complete"]
    assert decoder.close() == []


def test_it_discards_a_terminated_data_line_without_the_blank_line_at_close() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: [DONE]\n") == []
    assert decoder.close() == []


def test_it_starts_afresh_after_close() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: left\xe2\x82")
    decoder.close()

    assert decoder.feed(b"data: new\n\n") == ["new"]


# --- Properties ----------------------------------------------------------------------------------

# Data lines may hold anything but line endings: multi-byte characters, colons, leading spaces.
data_lines = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
payloads = st.lists(data_lines, min_size=1, max_size=3).map("\n".join)
line_endings = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """An encoded stream of events with comments, ignored fields and mixed endings; its payloads."""
    sent = draw(st.lists(payloads, max_size=5))
    text = "\ufeff" if draw(st.booleans()) else ""
    for payload in sent:
        # One ending per event: a CR ending followed by an LF blank line would be one CRLF.
        end = draw(line_endings)
        if draw(st.booleans()):
            text += ": OPENROUTER PROCESSING" + end
        if draw(st.booleans()):
            text += "event: message" + end
        for line in payload.split("\n"):
            # Without the space the value must not start with one, or it would be read as data.
            separator = ": " if line.startswith(" ") or draw(st.booleans()) else ":"
            text += "data" + separator + line + end
        text += end
    return text.encode(), sent


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]


@given(event_streams())
def test_it_returns_exactly_the_payloads_that_were_encoded(stream: tuple[bytes, list[str]]) -> None:
    data, sent = stream

    assert decode(data) == sent


@given(event_streams(), st.lists(st.integers(min_value=0), max_size=8))
def test_any_split_of_an_event_stream_gives_the_same_payloads(
    stream: tuple[bytes, list[str]], cuts: list[int]
) -> None:
    data, sent = stream

    assert decode(*split_at(data, cuts)) == sent


# Bytes biased towards what is hard to split: line endings, field names, BOM and UTF-8 pieces.
awkward_bytes = st.lists(
    st.sampled_from(
        [
            b"\r",
            b"\n",
            b"data:",
            b"data: ",
            b": ",
            b"id: 1",
            b"x",
            b"\xe2\x82\xac",
            b"\xf0\x9f",
            b"\x99\x82",
            b"\xef\xbb\xbf",
            b"\xff",
        ]
    ),
    max_size=40,
).map(b"".join)


@given(st.one_of(st.binary(max_size=200), awkward_bytes), st.lists(st.integers(min_value=0), max_size=8))
def test_any_split_of_any_bytes_gives_what_feeding_them_whole_gives(data: bytes, cuts: list[int]) -> None:
    assert decode(*split_at(data, cuts)) == decode(data)


@given(event_streams())
def test_feeding_one_byte_at_a_time_gives_the_same_payloads(stream: tuple[bytes, list[str]]) -> None:
    data, sent = stream

    assert decode(*(data[i : i + 1] for i in range(len(data)))) == sent


# --- Limits ---------------------------------------------------------------------------------------


def test_a_line_longer_than_the_limit_raises_however_it_is_chunked() -> None:
    decoder = SSEDecoder(max_event_chars=100)
    decoder.feed(b"data: " + b"x" * 60)

    decoder.feed(b"x" * 60)  # the pending line passes 100 characters here

    with pytest.raises(EventTooLarge):
        decoder.feed(b"\n\n")


def test_an_event_of_many_short_data_lines_past_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_chars=100)

    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: 0123456789\n" * 20)
        decoder.close()


def test_events_completed_before_the_overlong_line_are_still_returned() -> None:
    decoder = SSEDecoder(max_event_chars=100)

    assert decoder.feed(b"data: first\n\ndata: " + b"x" * 200) == ["first"]
    with pytest.raises(EventTooLarge):
        decoder.close()


def test_events_within_the_limit_pass() -> None:
    decoder = SSEDecoder(max_event_chars=100)

    assert decoder.feed(b"data: " + b"x" * 90 + b"\n\n") == ["x" * 90]
