"""A fusion run as the API reports it (chat.runs.outcome), with the error in OpenAI's shape."""

from __future__ import annotations

from chat.runs.outcome import Outcome as RunOutcome
from chat.runs.outcome import judge_failure_reason as judge_failure_reason
from chat.views.api.errors import ApiError


class Outcome(RunOutcome):
    def error(self) -> ApiError:
        """The error a run without any answer ends in (every seat failed, or it ended early)."""
        status = self.error_status
        return ApiError(status, self.note, code=self.error_code, retry_after=1 if status == 429 else None)
