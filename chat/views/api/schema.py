"""The body of POST /v1/chat/completions: lenient about the many fields OpenAI clients send,
strict about the ones FusionRoom uses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chat.fusion.request import MAX_SEATS, MIN_REQUEST_SEATS, Sampling
from chat.views.api.errors import ApiError
from chat.webtools.options import DEFAULT_TOOL_CALLS, MAX_TOOL_CALLS, MIN_TOOL_CALLS

# Tool names a plugin's `tools` may list to give the panel the web (OpenRouter's server tools).
WEB_TOOLS = frozenset({"web_search", "web_fetch", "openrouter:web_search", "openrouter:web_fetch", "web"})


class _Lenient(BaseModel):
    # OpenAI clients send fields FusionRoom has no use for (user, seed, metadata, store...):
    # they are accepted and ignored, never refused.
    model_config = ConfigDict(extra="ignore")


class Message(BaseModel):
    """One chat message; content as text, or as OpenAI's list of parts (text parts are kept)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""

    def wire(self) -> dict[str, Any]:
        """The message as the pass-through sends it on: as it came."""
        return self.model_dump(exclude_none=True)


class StreamOptions(_Lenient):
    include_usage: bool = Field(default=False, strict=True)
    # FusionRoom's own: extra chunks (choices: []) carrying a `fusion_event`, to draw the panel live.
    include_fusion_events: bool = Field(default=False, strict=True)


class FusionPlugin(_Lenient):
    """OpenRouter's fusion plugin: the panel, the judge and the panel's tools for this request."""

    id: Literal["fusion"]
    analysis_models: list[str] | None = Field(
        default=None, min_length=MIN_REQUEST_SEATS, max_length=MAX_SEATS
    )
    model: str | None = Field(default=None, min_length=1)
    max_tool_calls: int = Field(default=DEFAULT_TOOL_CALLS, ge=MIN_TOOL_CALLS, le=MAX_TOOL_CALLS, strict=True)
    tools: list[str | dict[str, Any]] | None = None
    # FusionRoom's own: each seat's answer in the response's fusion.responses.
    include_responses: bool = Field(default=False, strict=True)

    @property
    def web_search(self) -> bool | None:
        """Whether the plugin gives the panel the web; None when it does not say (the panel's own)."""
        if self.tools is None:
            return None
        names = {
            tool if isinstance(tool, str) else str(tool.get("type") or tool.get("id") or "")
            for tool in self.tools
        }
        return bool(names & WEB_TOOLS)


class CompletionRequest(_Lenient):
    # Strict about what FusionRoom uses: "true" is not a boolean, nor "0.5" a temperature.
    model: str = Field(min_length=1, strict=True)
    messages: list[Message] = Field(min_length=1)
    stream: bool = Field(default=False, strict=True)
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    max_tokens: int | None = Field(default=None, ge=1, strict=True)
    max_completion_tokens: int | None = Field(default=None, ge=1, strict=True)
    reasoning: dict[str, Any] | None = None
    n: int = Field(default=1, ge=1, strict=True)
    plugins: list[dict[str, Any]] = Field(default_factory=list)
    # Passed through to plain models; a fusion run has no tools of the caller's.
    tools: list[dict[str, Any]] | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n > 1:
            raise ValueError("n > 1 is not supported: a fusion run gives one answer")
        return n

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> CompletionRequest:
        if self.messages[-1].role != "user":
            raise ValueError("the last message must be the user's")
        return self

    @property
    def fusion_plugin(self) -> FusionPlugin | None:
        found = [plugin for plugin in self.plugins if plugin.get("id") == "fusion"]
        if not found:
            return None
        try:
            return FusionPlugin.model_validate(found[-1])
        except ValidationError as error:
            raise _invalid(error, prefix="plugins.fusion") from error

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    @property
    def include_fusion_events(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_fusion_events

    @property
    def sampling(self) -> Sampling:
        return Sampling(
            temperature=self.temperature,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            reasoning=self.reasoning,
        )

    @property
    def question(self) -> str:
        return self.messages[-1].text

    @property
    def context(self) -> list[dict[str, str]]:
        """The messages before the question, as a fusion run's thread (text only; a developer
        message is a system message; tool traffic has no place in a panel's thread)."""
        return [
            {"role": "system" if message.role == "developer" else message.role, "content": message.text}
            for message in self.messages[:-1]
            if message.role != "tool" and message.text
        ]


def parse_request(body: bytes) -> CompletionRequest:
    """The request body, or ApiError 400 saying what is wrong (and which parameter)."""
    try:
        return CompletionRequest.model_validate_json(body)
    except ValidationError as error:
        raise _invalid(error) from error


def _invalid(error: ValidationError, prefix: str = "") -> ApiError:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    param = ".".join(part for part in (prefix, where) if part) or None
    message = problem["msg"].removeprefix("Value error, ")
    code = "unsupported_n" if where == "n" else "invalid_request"
    return ApiError(400, f"{param}: {message}" if param else message, code=code, param=param)
