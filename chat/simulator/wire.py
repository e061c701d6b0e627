"""The chat-completions wire format: request bodies in, chunks, completions and errors out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chat.simulator.replies import Reply
from chat.simulator.tokens import split_tokens

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
MALFORMED_EVENT = b"data: {not json\n\n"
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class CompletionBody(BaseModel):
    """Just enough of a request to check it; the simulator reads the raw dict for the rest."""

    # Clients send many more parameters (top_p, provider, usage, ...): the server ignores them.
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # OpenAI's range; the answer varies by them (chat.simulator.sampling).
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


@dataclass(frozen=True)
class Piece:
    """One streamed token: a bit of reasoning, of content, or of a tool call."""

    kind: Literal["reasoning", "content", "tool_call", "tool_arguments"]
    text: str = ""
    # Which of the reply's tool calls a tool_call or tool_arguments piece belongs to.
    index: int = 0


def pieces_of(reply: Reply) -> list[Piece]:
    pieces = [Piece("reasoning", token) for token in split_tokens(reply.reasoning)]
    # A model may say something before it calls its tools (the content then is that preamble).
    pieces += [Piece("content", token) for token in split_tokens(reply.content)]
    for index, call in enumerate(reply.tool_calls):
        pieces.append(Piece("tool_call", index=index))
        pieces += [Piece("tool_arguments", token, index) for token in split_tokens(call.arguments)]
    return pieces


def sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def error_body(message: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "code": code}}


@dataclass(frozen=True)
class Envelope:
    """What every chunk of one completion shares, and the chunks themselves."""

    id: str
    model: str
    created: int
    reply: Reply

    def _frame(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": "Simulated",
            "model": self.model,
            "object": obj,
            "created": self.created,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**self._frame("chat.completion.chunk"), "choices": [choice]}

    def delta(self, piece: Piece, *, first: bool) -> dict[str, Any]:
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        calls = self.reply.tool_calls
        if piece.kind == "reasoning":
            # OpenRouter sends an empty content beside each reasoning fragment.
            delta |= {"content": "", "reasoning": piece.text}
        elif piece.kind == "content":
            delta["content"] = piece.text
        elif piece.kind == "tool_call" and piece.index < len(calls):
            call = calls[piece.index]
            function = {"name": call.name, "arguments": ""}
            opening = {"index": piece.index, "id": call.id, "type": "function", "function": function}
            delta |= {"content": None, "tool_calls": [opening]}
        else:
            delta["tool_calls"] = [{"index": piece.index, "function": {"arguments": piece.text}}]
        return delta

    def usage_chunk(self, usage: dict[str, Any]) -> dict[str, Any]:
        # As with OpenAI's include_usage: no choices, only the usage.
        return {**self._frame("chat.completion.chunk"), "choices": [], "usage": usage}

    def inband_error(self, message: str, code: int) -> dict[str, Any]:
        # OpenRouter's mid-stream error: the error beside a choice that finishes with "error".
        choice = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
        return {**self._frame("chat.completion.chunk"), **error_body(message, code), "choices": [choice]}

    def completion(self, pieces: list[Piece], finish_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(p.text for p in pieces if p.kind == "content") or None,
        }
        if reasoning := "".join(p.text for p in pieces if p.kind == "reasoning"):
            message["reasoning"] = reasoning
        opened = sorted({p.index for p in pieces if p.kind == "tool_call"})
        if opened:
            message["tool_calls"] = [
                {
                    "id": self.reply.tool_calls[index].id,
                    "type": "function",
                    "function": {
                        "name": self.reply.tool_calls[index].name,
                        "arguments": "".join(
                            p.text for p in pieces if p.kind == "tool_arguments" and p.index == index
                        ),
                    },
                }
                for index in opened
            ]
        choice = {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        return {**self._frame("chat.completion"), "choices": [choice], "usage": usage}
