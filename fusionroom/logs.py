"""Share tokens kept out of logs: a filter for Django's and Daphne's loggers, and Daphne's access log."""

from __future__ import annotations

import logging
import re
from typing import Any

from daphne.access import AccessLogGenerator  # type: ignore[import-untyped]

# /s/<token>/ and /s/<token>/fork/, also URL-encoded as in the sign-in page's ?next=%2Fs%2F...
_SHARE_TOKEN = re.compile(r"(/s/|%2[Ff]s%2[Ff])[A-Za-z0-9_-]+")
REDACTED = "[token]"


def redact(text: str) -> str:
    return _SHARE_TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactShareTokens(logging.Filter):
    """Rewrites each record's message with share tokens replaced; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed record: logging reports it itself
            return True
        if _SHARE_TOKEN.search(message):
            record.msg, record.args = redact(message), None
        return True


class RedactingAccessLog(AccessLogGenerator):  # type: ignore[misc]
    """Daphne's access log (the `daphne` command writes it to stdout), with share tokens redacted."""

    def write_entry(self, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        super().write_entry(host, date, redact(request), *args, **kwargs)
