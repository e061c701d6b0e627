"""Reading the simulator's replies the simple way: a minimal SSE reader and request bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


def ask(model: str, question: str = "Should we adopt event sourcing?", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


@dataclass
class Stream:
    """What one SSE response carried: comments, data payloads, and whether it ended with [DONE]."""

    comments: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.data) and self.data[-1] == "[DONE]"

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.data if item != "[DONE]"]

    @property
    def deltas(self) -> list[dict[str, Any]]:
        return [choice["delta"] for chunk in self.chunks for choice in chunk.get("choices", [])]

    @property
    def text(self) -> str:
        return "".join(delta.get("content") or "" for delta in self.deltas)

    @property
    def reasoning(self) -> str:
        return "".join(delta.get("reasoning") or "" for delta in self.deltas)

    @property
    def finish_reason(self) -> str | None:
        reasons = [c["finish_reason"] for chunk in self.chunks for c in chunk.get("choices", [])]
        return next((reason for reason in reversed(reasons) if reason), None)

    @property
    def usage(self) -> dict[str, Any] | None:
        return next((chunk["usage"] for chunk in self.chunks if chunk.get("usage")), None)


async def read_sse(response: httpx.Response, into: Stream | None = None) -> Stream:
    """Read an SSE body line by line; pass `into` to keep what arrived if the read fails."""
    stream = into if into is not None else Stream()
    async for line in response.aiter_lines():
        if line.startswith(":"):
            stream.comments.append(line[1:].strip())
        elif line.startswith("data: "):
            stream.data.append(line[len("data: ") :])
    return stream


async def stream_answer(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Stream:
    async with client.stream(
        "POST", "/chat/completions", json={**body, "stream": True}, headers=headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return await read_sse(response)
