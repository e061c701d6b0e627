"""What a fusion run is asked to do: the thread, the panel, the judge and the writer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chat.fusion.events import CallStats
from chat.fusion.options import RunOptions
from chat.providers.types import ModelInfo
from chat.webtools.options import DEFAULT_TOOL_CALLS, MAX_TOOL_CALLS, MIN_TOOL_CALLS


class ReusedAnswer(BaseModel):
    """A seat's answer from an earlier run of the same turn, kept instead of asking again."""

    model_config = ConfigDict(extra="forbid")

    text: str
    stats: CallStats
    complete: bool = True
    # Set when the seat failed in that run: a re-judge fuses the same answers and asks no seat
    # again, so a failed seat stays failed, for this reason.
    failure: str | None = None


class OutputLimits(BaseModel):
    """The most one model call may stream, in characters, before it is stopped "too long".

    The defaults are those of FUSIONROOM_MAX_ANSWER_CHARS, _REASONING_CHARS and
    _TOOL_ARGUMENT_CHARS: a long answer is some 20,000 characters, so these stop only a model
    (or a provider) that would go on for ever.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_chars: int = Field(default=200_000, ge=1)
    reasoning_chars: int = Field(default=200_000, ge=1)
    # Each tool call's arguments: a search query or a URL, never a document.
    tool_argument_chars: int = Field(default=20_000, ge=1)


class Sampling(BaseModel):
    """How the panel's and the writer's calls sample, as an API caller asked. The judge's calls
    keep their own (temperature 0, the server's token limit): its analysis must be one reading,
    whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    # OpenRouter's unified reasoning object ({"effort": "high"}, {"max_tokens": N}, ...), passed on.
    reasoning: dict[str, Any] | None = None


MIN_SEATS = 2
MAX_SEATS = 8
# A panel chosen per API request may have one seat, as OpenRouter's plugin allows: its answer
# then stands alone (nothing to compare), and the run says so.
MIN_REQUEST_SEATS = 1


class FusionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The thread so far in chat-completions form; the last message is the user's question.
    messages: list[dict[str, Any]] = Field(min_length=1)
    # Model ids, one per seat; the same model may sit twice (self-fusion).
    seats: list[str] = Field(min_length=MIN_REQUEST_SEATS, max_length=MAX_SEATS)
    judge: str
    # The model that writes the fused answer; the judge when None.
    writer: str | None = None
    max_tokens: int = Field(default=4096, ge=1)
    # Catalog entries by model id: prices for calls whose provider reports no cost, and
    # whether a model takes `response_format` (structured output) for the judge.
    catalog: dict[str, ModelInfo] = Field(default_factory=dict)
    # Seats (by index) whose earlier answer is kept: a retry re-asks only the others.
    reuse: dict[int, ReusedAnswer] = Field(default_factory=dict)
    # Offer each seat web_search and web_fetch (run_fusion needs a toolbox for it), at most
    # this many calls per seat, like OpenRouter's max_tool_calls.
    web_search: bool = False
    max_tool_calls: int = Field(default=DEFAULT_TOOL_CALLS, ge=MIN_TOOL_CALLS, le=MAX_TOOL_CALLS)
    # How much each call of the run (seat, judge, writer) may stream.
    limits: OutputLimits = Field(default_factory=OutputLimits)
    sampling: Sampling = Field(default_factory=Sampling)
    # Auto-fuse (fusion as a tool): the writer answers the thread and may call the fusion tool;
    # only then do the seats answer its query and the judge compare them (chat.fusion.consult).
    auto: bool = False
    # False for a run that a model consulted over the API: the judge's analysis is the result,
    # and that model writes the answer, so the run ends without a fused answer of its own.
    write_answer: bool = True
    # Quorum and deadline, instructions, per-seat sampling, compare only (chat.fusion.options).
    options: RunOptions = Field(default_factory=RunOptions)

    @model_validator(mode="after")
    def _last_message_is_the_question(self) -> FusionRequest:
        if self.messages[-1].get("role") != "user":
            raise ValueError("the last message must be the user's question")
        return self

    @property
    def writer_model(self) -> str:
        return self.writer or self.judge

    def answer_options(self, seat: int | None = None) -> dict[str, Any]:
        """The ChatRequest fields of a seat's or the writer's call: the caller's sampling, then
        the seat's own settings over it (a seat's says more), within the server's token limit."""
        own = self.options.for_seat(seat) if seat is not None else None
        asked = (own.max_tokens if own else None) or self.sampling.max_tokens
        reasoning = self.sampling.reasoning
        if own is not None and own.reasoning_effort is not None:
            reasoning = {**(reasoning or {}), "effort": own.reasoning_effort}
        temperature = own.temperature if own and own.temperature is not None else self.sampling.temperature
        return {
            "max_tokens": min(asked, self.max_tokens) if asked else self.max_tokens,
            "temperature": temperature,
            "reasoning": reasoning,
            "seed": own.seed if own else None,
        }

    def seat_messages(self) -> list[dict[str, Any]]:
        """The thread as the seats read it: after the panel's system prompt for them, if any."""
        prompt = self.options.system_prompt
        return [{"role": "system", "content": prompt}, *self.messages] if prompt else self.messages

    @property
    def question(self) -> str:
        return str(self.messages[-1].get("content") or "")
