"""Fitting a long thread into the smallest context window of the panel."""

from __future__ import annotations

from typing import Any

from chat.fusion.events import ThreadTrimmed
from chat.fusion.request import FusionRequest

# Room for the judge's and writer's instructions and the panel's answers beside the thread is
# not counted here: the seats see the thread alone, and they are the ones the window must hold.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
SAFETY_MARGIN = 512


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A cheap upper-side estimate: about four characters a token, plus each message's framing."""
    return sum(len(str(m.get("content") or "")) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE for m in messages)


def fit_thread(request: FusionRequest) -> tuple[FusionRequest, ThreadTrimmed | None]:
    """Drop the oldest turns (a prompt and its fused answer) until the thread fits every seat.

    The question itself is always kept: if it alone is too long, the provider says so, in words
    the user sees. Returns the request to run and, when turns were dropped, the event saying so.
    """
    windows = [
        (info.context_length, model)
        for model in dict.fromkeys(request.seats)
        if (info := request.catalog.get(model)) is not None and info.context_length
    ]
    if not windows:
        return request, None
    context_length, model = min(windows)
    budget = context_length - request.max_tokens - SAFETY_MARGIN
    messages = list(request.messages)
    dropped = 0
    while len(messages) > 1 and estimate_tokens(messages) > budget:
        # Earlier turns go whole: a prompt without its answer (or the reverse) misleads.
        cut = 2 if len(messages) > 2 and messages[1].get("role") == "assistant" else 1
        messages = messages[cut:]
        dropped += 1
    if not dropped:
        return request, None
    trimmed = ThreadTrimmed(dropped_turns=dropped, context_length=context_length, model=model)
    return request.model_copy(update={"messages": messages}), trimmed
