"""How one simulated model behaves: its catalog entry, its pace and the fault it injects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Fault = Literal[
    "rate_limit",  # 429 with a Retry-After header
    "server_error",  # 500
    "unauthorized",  # 401
    "no_credits",  # 402
    "context_length",  # 400 saying the prompt is too long
    "hang",  # accepts the request, never sends a token
    "stall",  # sends a few tokens, then goes quiet without closing
    "cut",  # sends a few tokens, then ends the body and closes without [DONE]
    "malformed",  # sends a few tokens, then an event that is not JSON
    "inband_error",  # sends a few tokens, then an error event inside an HTTP 200 stream
    "bad_json",  # in JSON mode, answers invalid JSON (once, unless fault_times says otherwise)
    "huge_error",  # 500 with a body of fault_body_bytes, streamed as it is generated
    "giant_line",  # sends a few tokens, then one line of fault_body_bytes that never ends
    "endless_answer",  # streams answer text until the client hangs up
    "endless_reasoning",  # streams reasoning until the client hangs up
    "endless_tool_arguments",  # starts a web_search call whose arguments never end
    "flood_answer",  # streams fault_body_bytes characters of fault_text repeated, then ends as an answer does
]

# Faults that stream until the client hangs up.
ENDLESS_FAULTS: frozenset[str] = frozenset({"endless_answer", "endless_reasoning", "endless_tool_arguments"})

# Faults that end the request before any token: the HTTP status they answer with.
HTTP_FAULT_STATUS: dict[str, int] = {
    "rate_limit": 429,
    "server_error": 500,
    "unauthorized": 401,
    "no_credits": 402,
    "context_length": 400,
}


class SimulatedModel(BaseModel):
    """One model the simulator serves; `Simulator.configure` swaps in changed copies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str
    description: str = ""
    context_length: int = Field(default=128_000, gt=0)
    # Dollars per token, as OpenRouter publishes them.
    prompt_price: float = Field(default=0.0, ge=0)
    completion_price: float = Field(default=0.0, ge=0)
    supports_tools: bool = True
    # Whether it calls a tool it is offered (the request's tool_choice overrides): "auto" calls web
    # search whenever offered and another tool (fusion) for a real question (replies._worth_a_tool);
    # "always" calls one whenever any is offered, "never" none, "all" every one offered, at once.
    tool_use: Literal["auto", "always", "never", "all"] = "auto"
    # What it says before calling a tool, streamed as content ahead of the call.
    tool_preamble: str = ""
    supports_structured_output: bool = True
    sends_reasoning: bool = False
    ttft_s: float = Field(default=0.0, ge=0)
    tokens_per_second: float = Field(default=100.0, gt=0)
    # Roughly how many tokens a prose answer runs to; whole sections are kept, so it overshoots a little.
    answer_tokens: int = Field(default=300, ge=1)
    fault: Fault | None = None
    # How many of this model's requests the fault hits before it behaves; None means every one,
    # except for bad_json, whose point is a repair that succeeds, so it hits once.
    fault_times: int | None = Field(default=None, ge=0)
    # Tokens sent before a mid-stream fault (stall, cut, malformed, inband_error) strikes.
    fault_after_tokens: int = Field(default=5, ge=0)
    # The size of a huge_error body and of a giant_line: the attack is 200 MB.
    fault_body_bytes: int = Field(default=200 * 1024 * 1024, ge=0)
    # What a flood_answer repeats: hostile markdown ("[\n", an unclosed fence) makes it a rendering attack.
    fault_text: str = Field(default="and so on ", min_length=1)
    # The Retry-After a rate_limit fault sends, in seconds.
    retry_after_s: float = Field(default=1.0, ge=0)

    @property
    def fault_budget(self) -> int | None:
        if self.fault == "bad_json" and self.fault_times is None:
            return 1
        return self.fault_times

    def cost_of(self, prompt_tokens: int, completion_tokens: int) -> float:
        return round(prompt_tokens * self.prompt_price + completion_tokens * self.completion_price, 9)
