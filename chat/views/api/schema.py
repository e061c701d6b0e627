"""The body of POST /v1/chat/completions: lenient about the many fields OpenAI clients send,
strict about the ones FusionRoom uses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from chat.fusion.consult import FUSION_TOOL
from chat.fusion.options import LateSeats, SeatOptions
from chat.fusion.request import MAX_SEATS, MIN_REQUEST_SEATS, Sampling
from chat.views.api.errors import ApiError
from chat.views.api.models import is_fusion_model
from chat.webtools.options import DEFAULT_TOOL_CALLS, MAX_TOOL_CALLS, MIN_TOOL_CALLS

# Tool names a plugin's `tools` may list to give the panel the web (OpenRouter's server tools).
WEB_TOOLS = frozenset({"web_search", "web_fetch", "openrouter:web_search", "openrouter:web_fetch", "web"})
# The `tools` entry types that ask for fusion as a server tool: ours, and OpenRouter's.
SERVER_TOOL_TYPES = ("fusion", "openrouter:fusion")


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


# The judging terms by the API's names, and the field of chat.fusion.options.RunOptions each
# stands for: RunOptions holds their limits, chat.views.api.terms applies them.
TERM_FIELDS = {
    "quorum": "quorum",
    "deadline": "deadline_s",
    "late_seats": "late_seats",
    "judge_instructions": "judge_instructions",
    "writer_instructions": "writer_instructions",
    "system_prompt": "system_prompt",
    "compare_only": "compare_only",
    "seat_settings": "seats",
}


class JudgingTerms(BaseModel):
    """The judging terms a request sets (the fusion plugin, the `fusion` object, the server
    tool's parameters); a term it does not name is the panel's, and null puts it back to the
    default. Types here; the limits are RunOptions', checked when the terms are applied."""

    quorum: int | None = Field(default=None, strict=True)
    deadline: float | None = Field(default=None, strict=True)
    late_seats: LateSeats | None = None
    judge_instructions: str | None = Field(default=None, strict=True)
    writer_instructions: str | None = Field(default=None, strict=True)
    system_prompt: str | None = Field(default=None, strict=True)
    compare_only: bool | None = Field(default=None, strict=True)
    # By seat index: the first entry is the first seat's.
    seat_settings: list[SeatOptions] | None = None

    def given_terms(self) -> dict[str, Any]:
        """The terms this request named, by the API's names, as given (null included)."""
        return {name: getattr(self, name) for name in TERM_FIELDS if name in self.model_fields_set}


class FusionTerms(JudgingTerms):
    """The request's top-level `fusion` object: FusionRoom's own, so a misspelt term is refused."""

    model_config = ConfigDict(extra="forbid")


class FusionPlugin(_Lenient, JudgingTerms):
    """OpenRouter's fusion plugin: the panel, the judge and the panel's tools for this request,
    and FusionRoom's judging terms."""

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


class ServerToolParameters(_Lenient, JudgingTerms):
    """The fusion server tool's `parameters`, by OpenRouter's names (others it sends are ignored):
    the panel the model may consult, and its judging terms. Without any, the user's default
    panel, judged by the model."""

    analysis_models: list[str] | None = Field(
        default=None, min_length=MIN_REQUEST_SEATS, max_length=MAX_SEATS
    )
    model: str | None = Field(default=None, min_length=1, strict=True)
    # A fusion model id (fusion/quality, fusion/panel/<slug>) or a preset's or saved panel's name.
    preset: str | None = Field(default=None, min_length=1, strict=True)
    panel: str | None = Field(default=None, min_length=1, strict=True)
    max_tool_calls: int = Field(default=DEFAULT_TOOL_CALLS, ge=MIN_TOOL_CALLS, le=MAX_TOOL_CALLS, strict=True)
    max_completion_tokens: int | None = Field(default=None, ge=1, strict=True)
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    tools: list[str | dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_panel(self) -> ServerToolParameters:
        if self.preset is not None and self.panel is not None:
            raise ValueError("give preset or panel, not both")
        return self

    @property
    def panel_name(self) -> str | None:
        return self.panel or self.preset

    @property
    def panel_param(self) -> str:
        return "panel" if self.panel is not None else "preset"

    @property
    def sampling(self) -> Sampling:
        """How the panel samples: the tool's own settings, not the outer model's."""
        return Sampling(temperature=self.temperature, max_tokens=self.max_completion_tokens)

    def plugin(self, judge: str | None) -> FusionPlugin:
        """The same request in the plugin's form, whose checks (chat.views.api.fusion) it passes."""
        return FusionPlugin(
            id="fusion",
            analysis_models=self.analysis_models,
            model=judge,
            max_tool_calls=self.max_tool_calls,
            tools=self.tools,
        )


class ServerTool(_Lenient):
    """A `tools` entry {"type": "fusion"} (or "openrouter:fusion"), with optional parameters."""

    type: Literal["fusion", "openrouter:fusion"]
    parameters: ServerToolParameters = Field(default_factory=ServerToolParameters)
    # Where it stood in `tools` (tools[1]), to name it in errors.
    _param: str = PrivateAttr(default="tools")

    @classmethod
    def read(cls, entry: dict[str, Any], index: int) -> ServerTool:
        """The entry at tools[index], or ApiError 400 naming what is wrong with it."""
        try:
            tool = cls.model_validate(entry)
        except ValidationError as error:
            raise _invalid(error, prefix=f"tools[{index}]") from error
        tool._param = f"tools[{index}]"
        return tool

    @property
    def param(self) -> str:
        return self._param


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
    # Passed through to plain models, less a fusion server tool's entry (chat.views.api.servertool
    # runs that one); a fusion run has no tools of the caller's.
    tools: list[dict[str, Any]] | None = None
    # "none", "auto", "required" or a named tool, as OpenAI's; passed through to plain models.
    tool_choice: str | dict[str, Any] | None = None
    # FusionRoom's judging terms, beside (or instead of) the fusion plugin's.
    fusion: FusionTerms | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n > 1:
            raise ValueError("n > 1 is not supported: a fusion run gives one answer")
        return n

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> CompletionRequest:
        # A plain model may be answering its tools' results (its caller's, or a fusion server
        # tool's caller running the tools returned to it); a panel is asked a question.
        if is_fusion_model(self.model) and self.messages[-1].role != "user":
            raise ValueError("the last message must be the user's")
        return self

    @property
    def server_tool(self) -> ServerTool | None:
        """The fusion server tool among `tools`, checked; None when there is none. ApiError 400
        naming the entry when it is malformed, given twice, or a function of the caller's takes
        its reserved name."""
        found = [
            (index, tool)
            for index, tool in enumerate(self.tools or [])
            if tool.get("type") in SERVER_TOOL_TYPES
        ]
        if not found:
            return None
        if len(found) > 1:
            raise ApiError(
                400,
                f"tools[{found[1][0]}]: fusion is offered once per request.",
                code="invalid_request",
                param=f"tools[{found[1][0]}]",
            )
        tool = ServerTool.read(found[0][1], found[0][0])
        for other, function in enumerate(self.tools or []):
            if _function_name(function) == FUSION_TOOL:
                raise ApiError(
                    400,
                    f"tools[{other}].function.name: {FUSION_TOOL!r} is reserved for the fusion server tool "
                    "in this request: give your function another name.",
                    code="reserved_tool_name",
                    param=f"tools[{other}].function.name",
                )
        return tool

    @property
    def client_tools(self) -> list[dict[str, Any]]:
        """The caller's own tools: every entry but a fusion server tool."""
        return [tool for tool in self.tools or [] if tool.get("type") not in SERVER_TOOL_TYPES]

    @property
    def forces_fusion(self) -> bool:
        """Whether tool_choice makes the model call fusion: the tool named (in OpenRouter's form or
        as a function), or "required" when fusion is the only tool on offer."""
        choice = self.tool_choice
        if choice == "required":
            return not self.client_tools
        if isinstance(choice, dict):
            named = choice.get("function")
            return choice.get("type") in SERVER_TOOL_TYPES or (
                isinstance(named, dict) and named.get("name") == FUSION_TOOL
            )
        return False

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


def _function_name(tool: dict[str, Any]) -> str | None:
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict):
        return None
    return str(function.get("name"))


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
