"""An incremental Server-Sent Events decoder that yields the `data` of each complete event."""

from __future__ import annotations

import codecs
import re

# The spec's three line endings; "\r\n" first so a pair counts as one ending.
_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Turn the bytes of a `text/event-stream` body, in chunks of any size, into event payloads.

    Follows the WHATWG "interpreting an event stream" algorithm: UTF-8 (a leading BOM dropped,
    bad bytes replaced by U+FFFD), lines ended by CRLF, LF or CR, `:` comments skipped, the
    `data` lines of one event joined with "\\n", and an event dispatched on a blank line only
    when it carried at least one `data` line. `event`, `id` and `retry` mean nothing to a
    chat-completions stream, so they are read and dropped.
    """

    def __init__(self) -> None:
        # utf-8-sig drops a BOM at the start of the stream, even one split across chunks.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        # Text after the last line ending: the start of a line still being received.
        self._partial_line = ""
        # The data lines of the event being received.
        self._data: list[str] | None = None
        # A chunk that ends in "\r" ends its line at once; an "\n" opening the next chunk is
        # then the second half of a CRLF, not an empty line that would dispatch an event.
        self._skip_next_lf = False

    def feed(self, chunk: bytes) -> list[str]:
        """Take the next bytes of the body; return the payloads of the events they completed."""
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[str]:
        """Mark the end of the body; return the payloads it completed, which is always none.

        The spec discards an event whose blank line never came ("if the file ends in the middle
        of an event, before the final empty line, the incomplete event is not dispatched"), and
        so do the OpenAI and httpx-sse decoders. That is also the safe reading for us: a body
        that stops mid-event was cut, and a half-received JSON line must not be parsed. A
        stream that ends without a dispatched `[DONE]` is then reported as incomplete.
        """
        # Flushing the codec and the pending line still matters: they must not leak into a
        # reuse of this decoder, and a truncated multi-byte character must not raise.
        self._decoder.decode(b"", final=True)
        self._decoder.reset()
        self._partial_line = ""
        self._data = None
        self._skip_next_lf = False
        return []

    def _feed_text(self, text: str) -> list[str]:
        if not text:
            return []
        if self._skip_next_lf:
            self._skip_next_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._partial_line + text
        payloads: list[str] = []
        start = 0
        for ending in _LINE_END.finditer(buffer):
            payload = self._take_line(buffer[start : ending.start()])
            if payload is not None:
                payloads.append(payload)
            start = ending.end()
            self._skip_next_lf = ending.group() == "\r" and start == len(buffer)
        self._partial_line = buffer[start:]
        return payloads

    def _take_line(self, line: str) -> str | None:
        """Apply one line to the event being built; return its payload when the line ends it."""
        if not line:
            data, self._data = self._data, None
            return None if data is None else "\n".join(data)
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            if self._data is None:
                self._data = []
            self._data.append(value.removeprefix(" "))
        return None
