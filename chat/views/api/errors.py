"""Errors in OpenAI's shape: {"error": {"message", "type", "code", "param"}} with the status to match."""

from __future__ import annotations

import json
from typing import Any

from django.http import JsonResponse

# The `type` OpenAI's clients read, by status (the official SDK picks its exception class by status).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """A request the API refuses or could not serve; `code` is machine-readable and stable."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": ERROR_TYPES.get(self.status, "api_error"),
                "code": self.code,
                "param": self.param,
            }
        }

    def sse_event(self) -> bytes:
        """The error as one SSE event, for a failure after a stream began."""
        return b"data: " + json.dumps(self.body()).encode() + b"\n\n"

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="fusionroom"'
        return response
