"""Model text made safe to store: no NUL, no lone surrogate, always valid UTF-8."""

from __future__ import annotations

import re

# NUL (PostgreSQL refuses it in text columns) and UTF-16 surrogates (a str holding one cannot
# be encoded as UTF-8; JSON's "\ud83d" escapes produce them).
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def safe_text(text: str) -> str:
    """`text` with NUL removed and lone surrogates replaced by U+FFFD.

    A well-formed surrogate pair (a high surrogate followed by a low one, as a JSON decoder
    that was fed them separately can leave behind) is joined into the character it encodes.
    """
    if text.isascii() and "\x00" not in text:
        return text
    if not _UNSAFE.search(text):
        return text
    # UTF-16 with surrogatepass joins the pairs; decoding with "replace" turns each lone one into
    # U+FFFD.
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", "")
