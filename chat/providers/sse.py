"""An incremental Server-Sent Events decoder that yields the `data` of each complete event."""

from __future__ import annotations

import codecs
import re

from chat.providers.limits import MAX_EVENT_CHARS

# The spec's three line endings; "\r\n" first so a pair counts as one ending.
_LINE_END = re.compile(r"\r\n|\r|\n")


class EventTooLarge(ValueError):
    """A line, or an event, passed the decoder's limit before it ended."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an event stream line or event longer than {limit} characters")
        self.limit = limit


class SSEDecoder:
    """Turn the bytes of a `text/event-stream` body, in chunks of any size, into event payloads.

    Follows the WHATWG "interpreting an event stream" algorithm: UTF-8 (a leading BOM dropped,
    bad bytes replaced by U+FFFD), lines ended by CRLF, LF or CR, `:` comments skipped, the
    `data` lines of one event joined with "\\n", and an event dispatched on a blank line only
    when it carried at least one `data` line. `event`, `id` and `retry` mean nothing to a
    chat-completions stream, so they are read and dropped.

    A line, or the data of one event, longer than `max_event_chars` raises EventTooLarge: a
    stream is read as it comes, and a line that never ends must not be buffered forever. The
    events a chunk completed before the overlong line are still returned; the error is raised
    by the next feed() or close(), and nothing more is decoded.
    """

    def __init__(self, max_event_chars: int = MAX_EVENT_CHARS) -> None:
        self._limit = max_event_chars
        # Characters in the data lines of the event being received.
        self._data_chars = 0
        self._overflow: EventTooLarge | None = None
        # utf-8-sig drops a BOM at the start of the stream, even one split across chunks.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        # Whether the next chunk may be decoded on its own (see _decode).
        self._whole_characters = False
        # Text after the last line ending: the start of a line still being received.
        self._partial_line = ""
        # The data lines of the event being received.
        self._data: list[str] | None = None
        # A chunk that ends in "\r" ends its line at once; an "\n" opening the next chunk is
        # then the second half of a CRLF, not an empty line that would dispatch an event.
        self._skip_next_lf = False

    def feed(self, chunk: bytes) -> list[str]:
        """Take the next bytes of the body; return the payloads of the events they completed."""
        if self._overflow is not None:
            raise self._overflow
        payloads: list[str] = []
        try:
            self._feed_text(self._decode(chunk), payloads)
        except EventTooLarge as overflow:
            self._overflow = overflow
            self._partial_line, self._data = "", None
        return payloads

    def _decode(self, chunk: bytes) -> str:
        if self._whole_characters:
            try:
                return chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass  # a character cut between chunks, or bad bytes: the incremental decoder's
        text = self._decoder.decode(chunk)
        # The incremental decoder, in Python, costs more than the text it decodes; a chunk can
        # be decoded alone again once the BOM is behind and no character is held half-read.
        held, at_start = self._decoder.getstate()
        self._whole_characters = not held and not at_start
        return text

    def close(self) -> list[str]:
        """Mark the end of the body; return the payloads it completed, which is always none.

        The spec discards an event whose blank line never came ("if the file ends in the middle
        of an event, before the final empty line, the incomplete event is not dispatched"), and
        so do the OpenAI and httpx-sse decoders. That is also the safe reading for us: a body
        that stops mid-event was cut, and a half-received JSON line must not be parsed. A
        stream that ends without a dispatched `[DONE]` is then reported as incomplete.
        """
        if self._overflow is not None:
            raise self._overflow
        # Flushing the codec and the pending line still matters: they must not leak into a
        # reuse of this decoder, and a truncated multi-byte character must not raise.
        self._decoder.decode(b"", final=True)
        self._decoder.reset()
        self._whole_characters = False
        self._partial_line = ""
        self._data = None
        self._data_chars = 0
        self._skip_next_lf = False
        return []

    def _feed_text(self, text: str, payloads: list[str]) -> None:
        if not text:
            return
        if self._skip_next_lf:
            self._skip_next_lf = False
            if text.startswith("\n"):
                text = text[1:]
        if "\r" not in text:
            # Nearly every stream ends its lines with "\n" alone: split the new text on it,
            # rather than run the pattern for the three endings over every token's event.
            first, *rest = text.split("\n")
            line = self._partial_line + first
            for following in rest:
                payload = self._take_line(line)
                if payload is not None:
                    payloads.append(payload)
                line = following
            self._partial_line = line
            if len(line) > self._limit:
                raise EventTooLarge(self._limit)
            return
        buffer = self._partial_line + text
        start = 0
        # The pending line holds no line ending, so the search starts where the new text does:
        # a long line arriving in many chunks is scanned once, not once a chunk.
        for ending in _LINE_END.finditer(buffer, len(self._partial_line)):
            payload = self._take_line(buffer[start : ending.start()])
            if payload is not None:
                payloads.append(payload)
            start = ending.end()
            self._skip_next_lf = ending.group() == "\r" and start == len(buffer)
        self._partial_line = buffer[start:]
        if len(self._partial_line) > self._limit:
            raise EventTooLarge(self._limit)

    def _take_line(self, line: str) -> str | None:
        """Apply one line to the event being built; return its payload when the line ends it."""
        if len(line) > self._limit:
            raise EventTooLarge(self._limit)
        if not line:
            data, self._data, self._data_chars = self._data, None, 0
            return None if data is None else "\n".join(data)
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            if self._data is None:
                self._data = []
            value = value.removeprefix(" ")
            self._data_chars += len(value) + 1
            if self._data_chars > self._limit:
                raise EventTooLarge(self._limit)
            self._data.append(value)
        return None
