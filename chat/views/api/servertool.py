"""Fusion as a server tool: a plain model answers, and may consult a panel once; the loop runs here.

Call #1 offers the model the caller's tools and chat.fusion.consult's function. If it calls fusion
alone, one run answers its query (ending with the analysis) and call #2 gives the model the
result, with fusion withdrawn; the caller sees one answer made of both calls' text. Calls to the
caller's own tools go back to the caller; a fusion call beside them is dropped, and no panel runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse

from chat.fusion import consult
from chat.fusion.analysis import Analysis
from chat.fusion.calls import ModelCall
from chat.fusion.events import AnalysisFailed, AnalysisReady, Event, RunDone, SeatDone, SeatFailed
from chat.fusion.options import RunOptions
from chat.fusion_models import FUSION, panel_named
from chat.models import ApiToken, Panel
from chat.providers.types import ReasoningDelta, TextDelta
from chat.runs import Call, LimitReached, start_call
from chat.runs.outcome import read_early_end
from chat.views.api import sse
from chat.views.api.errors import ApiError
from chat.views.api.fusion import limit_error, panel_frame, with_plugin
from chat.views.api.outcome import Outcome
from chat.views.api.passthrough import (
    PlainModel,
    call_usage,
    delta_of,
    model_call,
    open_call,
    plain_model,
    provider_error,
    settle,
    wire_tool_calls,
)
from chat.views.api.schema import CompletionRequest, ServerTool
from chat.views.api.terms import judging_options

ANSWERED_ALONE = "The model answered without consulting the panel."
CALLED_YOUR_TOOLS = (
    "The model called your tools: their calls are returned to you. It asked for fusion as well; that "
    "call was dropped and no panel ran (send your tools' results and it may consult the panel then)."
)
# How usage names each call (as a fusion model's usage does).
CALL_FIELDS = ("role", "model", "prompt_tokens", "completion_tokens", "cost")
# Between the model's words before its call to the panel and its words after the result.
SEPARATOR = "\n\n"


class KeepAlive:
    """The panel is still working: a streamed answer says so, so that nothing times out."""


type Step = TextDelta | ReasoningDelta | Event | KeepAlive


@dataclass(frozen=True)
class Consultation:
    """What the model's call to fusion came to: the query it wrote (None when its arguments could
    not be read), the result it was given, and the run that answered (None: no run)."""

    query: str | None
    result: dict[str, Any]
    run_id: int | None = None
    url: str | None = None


async def complete(
    request: HttpRequest, token: ApiToken, body: CompletionRequest, tool: ServerTool
) -> HttpResponseBase:
    model = await plain_model(token, body.model)
    panel = await _panel(token, body, tool)
    # The terms may come in the tool's parameters or the request's `fusion` object (agreeing).
    sources = [("fusion", body.fusion), (f"{tool.param}.parameters", tool.parameters)]
    options = judging_options(panel.run_options, sources, seats=len(panel.seats))
    loop = ToolLoop(request, token, body, tool, model, panel, options)
    steps = loop.steps()
    if body.stream:
        # As a pass-through: what fails before the model says anything (its provider, the start
        # gate) is an HTTP error; after that, an error event in the stream.
        first = await anext(steps, None)
        return StreamingHttpResponse(
            _stream(loop, first, steps), content_type="text/event-stream", headers=sse.STREAM_HEADERS
        )
    async with aclosing(steps):
        async for _ in steps:
            pass
    return JsonResponse(
        sse.completion(
            loop.completion_id,
            body.model,
            loop.message(),
            finish_reason=loop.finish_reason,
            usage=loop.usage(),
            fusion=loop.fusion(),
        )
    )


async def _panel(token: ApiToken, body: CompletionRequest, tool: ServerTool) -> Panel:
    """The panel the tool's parameters ask for, checked as the plugin's is: a named panel (or the
    user's default one) with the tool's panel models and judge over it. Without a judge named, a
    named panel keeps its own; otherwise the outer model judges, as on OpenRouter."""
    params = tool.parameters
    named = params.panel_name
    base = await sync_to_async(panel_named)(token.user, named or FUSION)
    if base is None:
        param = f"{tool.param}.parameters.{params.panel_param if named else 'analysis_models'}"
        missing = f"no panel {named!r}" if named else "you have no panel to start from"
        raise ApiError(
            400,
            f"{param}: {missing} (name a fusion model id from GET /v1/models or a panel's name).",
            code="panel_not_found",
            param=param,
        )
    judge = params.model or (None if named else body.model)
    return await with_plugin(token, base, params.plugin(judge), param=f"{tool.param}.parameters")


class ToolLoop:
    """One request's loop: `steps()` says what happens as it happens (the model's text and
    reasoning, the panel's events, keep-alives); afterwards the rest describes the answer.
    Raises ApiError when a call fails or a gate refuses."""

    def __init__(
        self,
        request: HttpRequest,
        token: ApiToken,
        body: CompletionRequest,
        tool: ServerTool,
        model: PlainModel,
        panel: Panel,
        options: RunOptions | None = None,
    ) -> None:
        self.completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        self.model = body.model
        self.include_fusion_events = body.include_fusion_events
        self.include_usage = body.include_usage
        self._request = request
        self._token = token
        self._body = body
        self._tool = tool
        self._model = model
        self._panel = panel
        self._options = options
        self._calls: list[ModelCall] = []
        self._said: list[str] = []
        self.client_calls: list[dict[str, str]] = []
        self.finish_reason = "stop"
        self.outcome: Outcome | None = None
        self.consultation: Consultation | None = None
        self.note: str | None = None

    async def steps(self) -> AsyncGenerator[Step, None]:
        messages = [message.wire() for message in self._body.messages]
        client_tools = self._body.client_tools
        forced = self._body.forces_fusion
        first_choice = consult.forced_choice() if forced else self._body.tool_choice
        first = await self._open(messages, [*client_tools, consult.tool_spec()], first_choice)
        async with aclosing(self._speak(first)) as said:
            async for delta in said:
                yield delta
        asked = consult.split_calls(first.tool_calls)
        if not asked.fusion or asked.others:
            self.note = CALLED_YOUR_TOOLS if asked.fusion else ANSWERED_ALONE
            self._ends(first, asked.others)
            return
        try:
            query = consult.read_query(asked.fusion[0]["arguments"])
        except consult.BadArguments as error:
            self.consultation = Consultation(None, consult.error_result(str(error)))
        else:
            async with aclosing(self._consult(query)) as consulting:
                async for step in consulting:
                    yield step
        assert self.consultation is not None  # _consult's last act
        messages = [
            *messages,
            consult.assistant_message(first.text, first.tool_calls),
            *consult.answers_for(asked.fusion, self.consultation.result),
        ]
        # Not forced again: the model now answers (or calls the caller's tools, as it sees fit).
        second = await self._open(messages, client_tools, None if forced else self._body.tool_choice)
        async with aclosing(self._speak(second, after=SEPARATOR if first.has_text else "")) as said:
            async for delta in said:
                yield delta
        self._ends(second, consult.split_calls(second.tool_calls).others)

    async def _open(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], choice: str | dict[str, Any] | None
    ) -> ModelCall:
        call = model_call(self._token, self._body, self._model, messages, tools, choice)
        self._calls.append(call)
        return call

    async def _speak(
        self, call: ModelCall, after: str = ""
    ) -> AsyncGenerator[TextDelta | ReasoningDelta, None]:
        """The call's text and reasoning as they come (its tool calls are read when it ends), with
        `after` before its first text; the call is on the ledger (pass-through's) while it goes."""
        row = await open_call(self._token, call, self._model.info)
        try:
            async with aclosing(call.deltas()) as deltas:
                async for delta in deltas:
                    if not delta.text:
                        continue
                    if isinstance(delta, TextDelta):
                        if after:
                            self._said.append(after)
                            yield TextDelta(text=after)
                            after = ""
                        self._said.append(delta.text)
                    yield delta
        finally:
            await settle(row, call)
        if call.failure is not None:
            error = provider_error(call)
            if self.consultation is not None and self.consultation.url is not None:
                error.message += f" (The panel's run is saved: {self.consultation.url})"
            raise error

    async def _consult(self, query: str) -> AsyncGenerator[Step, None]:
        """One run answers the query, with the panel's events as they come; its result is kept."""
        panel = self._panel
        what = Call(
            context=[],
            prompt=query,
            panel=panel,
            token=self._token,
            sampling=self._tool.parameters.sampling,
            options=self._options,
            write_answer=False,
        )
        try:
            run, events = await start_call(self._token.user, what)
        except LimitReached as refused:
            # Never silent: the caller hears the gate's refusal (402, 429), not a quieter answer.
            raise limit_error(refused) from refused
        url = self._request.build_absolute_uri(run.turn.conversation.get_absolute_url())
        outcome = self.outcome = Outcome(list(panel.seats), panel.judge, panel.writer_model)
        outcomes: list[SeatDone | SeatFailed] = []
        verdict: Analysis | AnalysisFailed | None = None
        while True:
            try:
                async with asyncio.timeout(settings.FUSIONROOM_API_KEEPALIVE_SECONDS):
                    event = await events.get()
            except TimeoutError:
                yield KeepAlive()
                continue
            if event is None:
                break
            outcome.apply(event)
            if isinstance(event, SeatDone | SeatFailed):
                outcomes.append(event)
            elif isinstance(event, AnalysisReady):
                verdict = event.analysis
            elif isinstance(event, AnalysisFailed):
                verdict = event
            yield event
            if isinstance(event, RunDone):
                break  # the result is whole; the run's own bookkeeping goes on
        await read_early_end(outcome, run.pk)
        late = outcome.judged.late if outcome.judged is not None else []
        result = consult.panel_result(query, list(panel.seats), outcomes, verdict, late)
        if outcome.judged is not None:
            result["judged_on"] = outcome.judged_on()
        if outcome.done is None:
            # Stopped or lost before its end: the model is told so, as the caller will be.
            result |= {"failure_reason": outcome.failure_reason, "error": outcome.note}
        self.consultation = Consultation(query, result, run.pk, url)

    def _ends(self, call: ModelCall, client_calls: list[dict[str, str]]) -> None:
        self.client_calls = client_calls
        if client_calls:
            self.finish_reason = "tool_calls"
        elif call.finish_reason not in (None, "tool_calls"):  # a call to fusion alone is not the caller's
            self.finish_reason = call.finish_reason

    # --- what the answer says ---------------------------------------------------------------

    @property
    def content(self) -> str:
        return "".join(self._said)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.client_calls:
            message["tool_calls"] = wire_tool_calls(self.client_calls)
        return message

    def fusion(self) -> dict[str, Any]:
        """Whether the model consulted the panel, with which query, and what the panel found (what
        the model was given), with the run that answered."""
        found = self.consultation
        if found is None:
            return {"invoked": False, "query": None, "run_id": None, "url": None, "note": self.note}
        asked = {"invoked": True, "query": found.query, "run_id": found.run_id, "url": found.url}
        return asked | found.result

    def usage(self) -> dict[str, Any]:
        """The outer model's calls and the run's, added up, with each call."""
        outer = [call_usage(call) | {"role": "outer", "model": call.request.model} for call in self._calls]
        run = self.outcome.usage() if self.outcome is not None else None
        parts = [*outer, *([run] if run is not None else [])]
        costs = [part["cost"] for part in parts if part["cost"] is not None]
        prompt = sum(part["prompt_tokens"] for part in parts)
        completion = sum(part["completion_tokens"] for part in parts)
        calls = [{key: each[key] for key in CALL_FIELDS} for each in outer]
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cost": sum(costs) if costs else None,
            "calls": calls + (run["calls"] if run is not None else []),
        }


async def _stream(
    loop: ToolLoop, first: Step | None, steps: AsyncGenerator[Step, None]
) -> AsyncIterator[bytes]:
    """The loop as chunks: the model's text and reasoning from both calls as one message, the
    panel's progress (comments, or fusion_event chunks on request) between, never its call to
    fusion; then the caller's tool calls, the end with the fusion object, the usage."""

    def chunk(delta: dict[str, Any] | None, **extra: Any) -> bytes:
        return sse.data(sse.chunk(loop.completion_id, loop.model, delta, **extra))

    yield chunk({"role": "assistant", "content": ""})
    try:
        async with aclosing(steps):
            step = first
            while step is not None:
                if isinstance(step, TextDelta | ReasoningDelta):
                    yield chunk(delta_of(step))
                elif isinstance(step, KeepAlive):
                    yield sse.comment("fusion: working")
                elif loop.outcome is not None and (frame := panel_frame(step, loop.outcome, loop)):
                    yield frame
                step = await anext(steps, None)
    except ApiError as error:
        # The SDKs raise an `error` event as an APIError: the stream ends here.
        yield error.sse_event()
        return
    if loop.client_calls:
        yield chunk({"tool_calls": wire_tool_calls(loop.client_calls)})
    yield chunk({}, finish_reason=loop.finish_reason, fusion=loop.fusion())
    if loop.include_usage:
        yield chunk(None, usage=loop.usage())
    yield sse.DONE
