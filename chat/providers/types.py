"""What goes to a chat-completions endpoint and what comes back from its stream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Endpoint(BaseModel):
    """An OpenAI-compatible API: OpenRouter, a local Ollama, the simulator..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base_url: str
    api_key: str = Field(default="", repr=False)
    simulated: bool = False
    # OpenRouter's attribution headers, or whatever a gateway wants.
    extra_headers: dict[str, str] = Field(default_factory=dict)
    # The user whose own endpoint this is (Settings); None for the operator's (the environment,
    # the endpoints file, the admin's server-wide rows), which are trusted. A user's endpoint is
    # vetted before every connection and its error text is quoted more briefly.
    owner_id: int | None = None

    @property
    def user_owned(self) -> bool:
        return self.owner_id is not None


# The header that says which seat of a panel a request answers for (0, 1, ...). Providers ignore
# a header they do not know; the simulator writes each seat its own text from it (or from the
# seat's `seed` when it has one), so two seats of one model (self-fusion) differ in demo mode as
# they would with a real model's sampling.
SEAT_HEADER = "X-FusionRoom-Seat"


class ChatRequest(BaseModel):
    """The body of one POST /chat/completions, minus `stream`, which the client sets; and `seat`,
    which is not part of the body but goes in SEAT_HEADER."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    # "auto", "none", "required" or {"type": "function", "function": {"name": ...}}, as OpenAI's.
    tool_choice: str | dict[str, Any] | None = None
    # OpenRouter's unified reasoning settings; endpoints that do not know them ignore the field.
    reasoning: dict[str, Any] | None = None
    # OpenAI's best-effort determinism; a seat's own setting (chat.fusion.options.SeatOptions).
    seed: int | None = None
    seat: int | None = Field(default=None, ge=0, exclude=True)

    def headers(self) -> dict[str, str]:
        """The request's own headers, besides the endpoint's."""
        return {} if self.seat is None else {SEAT_HEADER: str(self.seat)}


class Usage(BaseModel):
    """What a call used, as its endpoint reported it (chat.providers.chunks drops impossible figures)."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    # OpenRouter reports the dollar cost of the call; other providers leave it out. Never
    # negative or non-finite: it is saved and added to what a budget has spent.
    cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class TextDelta(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class ReasoningDelta(BaseModel):
    kind: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallDelta(BaseModel):
    """One fragment of a streamed tool call; fragments with the same index belong together."""

    kind: Literal["tool_call"] = "tool_call"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class UsageReport(BaseModel):
    kind: Literal["usage"] = "usage"
    usage: Usage


class StreamEnd(BaseModel):
    """Always the last item of a stream that did not raise.

    `complete` is False when the connection closed before `data: [DONE]`: the text that
    arrived is kept, but the answer may be cut short.
    """

    kind: Literal["end"] = "end"
    complete: bool
    finish_reason: str | None = None


StreamEvent = Annotated[
    TextDelta | ReasoningDelta | ToolCallDelta | UsageReport | StreamEnd,
    Field(discriminator="kind"),
]


class ModelInfo(BaseModel):
    """One entry of an endpoint's catalog, normalised from OpenRouter's or the plain OpenAI shape."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    endpoint: str
    context_length: int | None = None
    # Dollars per token, as OpenRouter publishes them; None when the endpoint says nothing.
    prompt_price: float | None = None
    completion_price: float | None = None
    supports_tools: bool = False
    supports_structured_output: bool = False

    @property
    def provider(self) -> str:
        return self.id.split("/", 1)[0] if "/" in self.id else self.endpoint

    def cost_of(self, usage: Usage) -> float | None:
        if self.prompt_price is None or self.completion_price is None:
            return None
        return usage.prompt_tokens * self.prompt_price + usage.completion_tokens * self.completion_price
