"""A chat completion of a fusion model: one run through the lifecycle, reported as one answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse

from chat.forms import MAX_PROMPT_CHARS
from chat.fusion.events import (
    AnalysisFailed,
    AnalysisReady,
    AnalysisStarted,
    Event,
    FusedDelta,
    PanelJudged,
    RunDone,
    SeatDelta,
    SeatDone,
    SeatFailed,
    SeatStarted,
)
from chat.fusion.options import RunOptions
from chat.models import ApiToken, Panel, Run
from chat.providers.errors import KIND_STATUS
from chat.runs import Call, LimitReached, start_call
from chat.runs.outcome import progress_step, read_early_end
from chat.views.api import sse
from chat.views.api.errors import ApiError
from chat.views.api.models import model_not_found, resolve_fusion_model, token_may_use, user_catalog
from chat.views.api.outcome import Outcome, judge_failure_reason
from chat.views.api.schema import CompletionRequest, FusionPlugin
from chat.views.api.terms import judging_options

# What a caller that hit a run limit (runs at once, runs a minute) is told to wait, in seconds.
LIMIT_RETRY_AFTER = 10
PLUGIN_PANEL_NAME = "Panel chosen by the API request"


@dataclass(frozen=True)
class Reply:
    """What every chunk of one answer shares, and what its `fusion` object names."""

    completion_id: str
    model: str
    run_id: int
    url: str
    include_responses: bool
    include_usage: bool
    include_fusion_events: bool


async def complete(request: HttpRequest, token: ApiToken, body: CompletionRequest) -> HttpResponseBase:
    if not token_may_use(token, body.model):
        raise model_not_found(body.model)
    panel = await sync_to_async(resolve_fusion_model)(token.user, body.model)
    if panel is None:
        raise model_not_found(body.model)
    if not body.question.strip():
        raise ApiError(
            400, "The last message (the question) is empty.", code="invalid_request", param="messages"
        )
    if len(body.question) > MAX_PROMPT_CHARS:
        # As in the chatroom: the question is a turn's prompt, which has this limit.
        raise ApiError(
            400,
            f"The question is {len(body.question):,} characters; the limit is {MAX_PROMPT_CHARS:,}.",
            code="context_length_exceeded",
            param="messages",
        )
    plugin = body.fusion_plugin
    if plugin is not None:
        panel = await with_plugin(token, panel, plugin)
    # Both may be given; a term given in both must agree (judging_options refuses it otherwise).
    sources = [("fusion", body.fusion), ("plugins.fusion", plugin)]
    options = judging_options(panel.run_options, sources, seats=len(panel.seats))
    run, events = await _start(token, panel, body, options)
    reply = Reply(
        completion_id=f"chatcmpl-fusion-{run.pk}",
        model=body.model,
        run_id=run.pk,
        url=request.build_absolute_uri(run.turn.conversation.get_absolute_url()),
        include_responses=plugin is not None and plugin.include_responses,
        include_usage=body.include_usage,
        include_fusion_events=body.include_fusion_events,
    )
    outcome = Outcome(list(panel.seats), panel.judge, panel.writer_model)
    if body.stream:
        response = StreamingHttpResponse(
            _stream(events, outcome, reply), content_type="text/event-stream", headers=sse.STREAM_HEADERS
        )
        return response
    while (event := await events.get()) is not None:
        outcome.apply(event)
        if isinstance(event, RunDone):
            break  # the answer is whole; the run's own bookkeeping (save, last frames) goes on
    await read_early_end(outcome, run.pk)
    if outcome.status == "error":
        raise outcome.error()
    return JsonResponse(_whole(outcome, reply))


async def _start(
    token: ApiToken, panel: Panel, body: CompletionRequest, options: RunOptions | None
) -> tuple[Run, asyncio.Queue[Event | None]]:
    what = Call(
        context=body.context,
        prompt=body.question,
        panel=panel,
        token=token,
        sampling=body.sampling,
        options=options,
    )
    try:
        return await start_call(token.user, what)
    except LimitReached as error:
        raise limit_error(error) from error


def limit_error(error: LimitReached) -> ApiError:
    """The start gate's refusal in OpenAI's terms: a budget is 402, the run limits 429 with
    Retry-After, unless the refusal names its own status and code."""
    status = int(getattr(error, "status", 429))
    code = str(getattr(error, "code", "rate_limited" if status == 429 else "limit_reached"))
    return ApiError(
        status, error.message, code=code, retry_after=LIMIT_RETRY_AFTER if status == 429 else None
    )


async def with_plugin(
    token: ApiToken, panel: Panel, plugin: FusionPlugin, *, param: str = "plugins.fusion"
) -> Panel:
    """The panel the plugin asks for: its panel models and judge over the named model's panel,
    each checked against the token's models and the user's catalog (errors name `param`'s
    fields: the plugin's, or the fusion server tool's parameters). Kept for this run only."""
    seats = plugin.analysis_models or list(panel.seats)
    judge = plugin.model or panel.judge
    asked = {**dict.fromkeys(seats, f"{param}.analysis_models"), judge: f"{param}.model"}
    for model, param in asked.items():
        if not token_may_use(token, model):
            raise ApiError(
                403, f"This token may not use the model {model!r}.", code="model_not_allowed", param=param
            )
    catalog = await user_catalog(token.user)
    for model, param in asked.items():
        if catalog.get(model) is None:
            raise ApiError(
                400, f"The model {model!r} is not in your catalog.", code="model_not_found", param=param
            )
    web_search = plugin.web_search
    options = panel.run_options
    if plugin.analysis_models:
        # The panel's seat settings were for its own seats, by index, not for the request's.
        options = options.model_copy(update={"seats": []})
    return Panel(
        name=PLUGIN_PANEL_NAME if plugin.analysis_models else panel.name,
        seats=seats,
        judge=judge,
        # A judge of the caller's choosing writes the answer too, as on OpenRouter.
        writer="" if plugin.model else panel.writer,
        web_search=panel.web_search if web_search is None else web_search,
        max_tool_calls=plugin.max_tool_calls,
        excluded_domains=panel.excluded_domains,
        blocked_domains=panel.blocked_domains,
        options=options.stored(),
    )


def _whole(outcome: Outcome, reply: Reply) -> dict[str, Any]:
    return sse.completion(
        reply.completion_id,
        reply.model,
        {"role": "assistant", "content": outcome.content()},
        finish_reason="stop",
        usage=outcome.usage(),
        fusion=_fusion(outcome, reply),
    )


def _fusion(outcome: Outcome, reply: Reply) -> dict[str, Any]:
    return outcome.fusion(run_id=reply.run_id, url=reply.url, include_responses=reply.include_responses)


async def _stream(
    events: asyncio.Queue[Event | None], outcome: Outcome, reply: Reply
) -> AsyncIterator[bytes]:
    """The run as chunks: the fused answer's deltas as they come, comments (or, on request,
    fusion_event chunks) while the panel and the judge work, then the fusion object, the usage."""
    yield sse.data(sse.chunk(reply.completion_id, reply.model, {"role": "assistant", "content": ""}))
    streamed = False
    while True:
        try:
            async with asyncio.timeout(settings.FUSIONROOM_API_KEEPALIVE_SECONDS):
                event = await events.get()
        except TimeoutError:
            yield sse.comment("fusion: working")
            continue
        if event is None:
            break
        outcome.apply(event)
        if isinstance(event, FusedDelta):
            streamed = True
            yield sse.data(sse.chunk(reply.completion_id, reply.model, {"content": event.text}))
        elif (frame := panel_frame(event, outcome, reply)) is not None:
            yield frame
        if isinstance(event, RunDone):
            break  # the answer is whole; the run's own bookkeeping (save, last frames) goes on
    await read_early_end(outcome, reply.run_id)
    if outcome.status == "error":
        # The SDKs raise an `error` event as an APIError: the stream ends here.
        yield outcome.error().sse_event()
        return
    if not streamed and (content := outcome.content()):
        yield sse.data(sse.chunk(reply.completion_id, reply.model, {"content": content}))
    yield sse.data(
        sse.chunk(reply.completion_id, reply.model, {}, finish_reason="stop", fusion=_fusion(outcome, reply))
    )
    if reply.include_usage:
        yield sse.data(sse.chunk(reply.completion_id, reply.model, None, usage=outcome.usage()))
    yield sse.DONE


class Framing(Protocol):
    """What a stream's frames share: its chunks' id and model, and whether it shows the panel live."""

    @property
    def completion_id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def include_fusion_events(self) -> bool: ...


def panel_frame(event: Event, outcome: Outcome, stream: Framing) -> bytes | None:
    """What a stream says of one step of the panel: a fusion_event chunk when the caller asked
    for them, else a progress comment; None for a step worth neither."""
    if stream.include_fusion_events and (said := fusion_event(event, outcome)) is not None:
        return sse.data(sse.chunk(stream.completion_id, stream.model, None, fusion_event=said))
    if (progress := progress_comment(event)) is not None:
        return sse.comment(progress)
    return None


def progress_comment(event: Event) -> str | None:
    """A comment line for a step of the run, or None for the steps not worth one (deltas)."""
    step = progress_step(event)
    return None if step is None else f"fusion: {step}"


def fusion_event(event: Event, outcome: Outcome) -> dict[str, Any] | None:
    """The `fusion_event` of an extra chunk (include_fusion_events): the panel, live."""
    match event:
        case SeatStarted(seat=seat, model=model):
            return {"type": "seat.started", "seat": seat, "model": model}
        case SeatDelta(seat=seat, text=text):
            return {"type": "seat.delta", "seat": seat, "model": outcome.seats[seat].model, "delta": text}
        case SeatDone(seat=seat):
            return {"type": "seat.done", "seat": seat, "model": outcome.seats[seat].model}
        case SeatFailed(seat=seat, reason=reason, kind=kind):
            return {
                "type": "seat.failed",
                "seat": seat,
                "model": outcome.seats[seat].model,
                "error": reason,
                "status_code": KIND_STATUS.get(kind or ""),
            }
        case PanelJudged():
            return {"type": "panel.judged", **(outcome.judged_on() or {})}
        case AnalysisStarted(model=model):
            return {"type": "analysis.started", "model": model}
        case AnalysisReady():
            return {"type": "analysis.ready", "analysis": outcome.analysis_object()}
        case AnalysisFailed(reason=reason):
            return {"type": "analysis.failed", "error": reason, "failure_reason": judge_failure_reason(event)}
    return None
