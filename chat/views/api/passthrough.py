"""A chat completion of a plain catalog model: passed through with the user's endpoints and keys,
through the same client as a run's calls (timeouts, retries, output limits)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponseBase, JsonResponse, StreamingHttpResponse

from chat.endpoints.catalog import CatalogEntry, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.fusion.calls import ModelCall
from chat.fusion.context import estimate_tokens
from chat.fusion.request import OutputLimits
from chat.models import ApiCall, ApiToken
from chat.providers.errors import KIND_STATUS
from chat.providers.types import ChatRequest, Endpoint, ModelInfo, ReasoningDelta, TextDelta
from chat.runs import LimitReached
from chat.runs.gate import check_call, open_passthrough
from chat.runs.services import current
from chat.views.api import sse
from chat.views.api.errors import ApiError
from chat.views.api.fusion import limit_error
from chat.views.api.models import model_not_found, token_may_use
from chat.views.api.schema import CompletionRequest

# A provider failure in OpenAI's terms: the caller's fault stays a 4xx, the provider's is a 502.
PASSED_ON = {429, 402, 400, 404}


async def complete(token: ApiToken, body: CompletionRequest) -> HttpResponseBase:
    plain = await plain_model(token, body.model, precheck=True)
    messages = [message.wire() for message in body.messages]
    call = model_call(token, body, plain, messages, body.tools, body.tool_choice)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    deltas = call.deltas()
    # The first delta (or the end) comes before the response: a provider that refuses the
    # call is an HTTP error, as it would be from the provider itself.
    row, asking = await reserved_while_asking(token, call, plain.info, deltas)
    streamed = False
    try:
        first = await asking
        if first is None and call.failure is not None:
            await deltas.aclose()
            raise provider_error(call)
        if body.stream:
            streamed = True
            return StreamingHttpResponse(
                _stream(call, row, first, deltas, completion_id, body),
                content_type="text/event-stream",
                headers=sse.STREAM_HEADERS,
            )
        async with aclosing(deltas):
            async for _ in deltas:
                pass
        if call.failure is not None:
            raise provider_error(call)
        message: dict[str, Any] = {"role": "assistant", "content": call.text}
        if call.tool_calls:
            message["tool_calls"] = wire_tool_calls(call.tool_calls)
        return JsonResponse(
            sse.completion(
                completion_id, body.model, message, finish_reason=_finish(call), usage=call_usage(call)
            )
        )
    finally:
        if not streamed:
            await settle(row, call)


@dataclass(frozen=True)
class PlainModel:
    """A plain model the caller may use: its catalog entry, and the user's endpoints that serve it
    (read once: the catalog came from them, and the call goes through them)."""

    entry: CatalogEntry
    endpoints: list[Endpoint]

    @property
    def info(self) -> ModelInfo:
        return self.entry.info


async def plain_model(token: ApiToken, model_id: str, *, precheck: bool = False) -> PlainModel:
    """The plain model `model_id`, when the token may use it and the user's catalog has it;
    ApiError 404 otherwise, 502 when a key of the user's can no longer be read. `precheck`: in
    the same trip to the database, refuse a caller the gate would refuse whatever the call's
    estimate (at a call limit, or with no budget left), before anything is sent."""
    if not token_may_use(token, model_id):
        raise model_not_found(model_id)
    try:
        endpoints = await sync_to_async(_endpoints_for_call)(token, precheck)
    except KeyUnavailable as error:
        raise ApiError(502, f"{error.user_message} (Settings → keys)", code="key_unavailable") from error
    except LimitReached as refused:
        raise limit_error(refused) from refused
    entry = (await load_catalog(endpoints)).get(model_id)
    if entry is None:
        raise model_not_found(model_id)
    return PlainModel(entry, endpoints)


def _endpoints_for_call(token: ApiToken, precheck: bool) -> list[Endpoint]:
    if precheck:
        check_call(token.user, token, None)
    return endpoints_for(token.user)


async def reserved_while_asking(
    token: ApiToken,
    call: ModelCall,
    info: ModelInfo,
    deltas: AsyncGenerator[TextDelta | ReasoningDelta, None],
) -> tuple[ApiCall, asyncio.Future[TextDelta | ReasoningDelta | None]]:
    """The call's row on the ledger, reserved (open_call) while its request goes out, and the
    call's first delta to come: the model's first token does not wait for the database. Nothing
    of the answer is given out before the reservation stands: refused, the request is cancelled
    (closing its connection) and the gate's ApiError raised."""
    asking = asyncio.ensure_future(anext(deltas, None))
    reserving = asyncio.ensure_future(open_call(token, call, info))
    try:
        # Shielded: a caller that goes away must not leave a row reserved and never settled.
        return await asyncio.shield(reserving), asking
    except BaseException:
        asking.cancel()
        await asyncio.gather(asking, return_exceptions=True)
        await deltas.aclose()
        reserving.add_done_callback(_settle_when_reserved(call))
        raise


def _settle_when_reserved(call: ModelCall) -> Callable[[asyncio.Future[ApiCall]], None]:
    def settle_it(reserving: asyncio.Future[ApiCall]) -> None:
        if not reserving.cancelled() and reserving.exception() is None:
            _settling.add(task := asyncio.ensure_future(settle(reserving.result(), call)))
            task.add_done_callback(_settling.discard)

    return settle_it


# Settlements of calls whose caller went away while their row was being reserved.
_settling: set[asyncio.Future[None]] = set()


async def open_call(token: ApiToken, call: ModelCall, info: ModelInfo) -> ApiCall:
    """The gate every pass-through passes: the call limits and the user's and token's budgets,
    with the call's most expensive outcome (its prompt, then max_tokens of answer) reserved."""
    try:
        estimate = _estimate(call, info)
        return await sync_to_async(open_passthrough)(token.user, token, call.request.model, estimate)
    except LimitReached as refused:
        raise limit_error(refused) from refused


def _estimate(call: ModelCall, info: ModelInfo) -> float | None:
    if info.prompt_price is None or info.completion_price is None:
        return None
    prompt = estimate_tokens(call.request.messages)
    answer: int = call.request.max_tokens or settings.FUSIONROOM_MAX_TOKENS
    return prompt * info.prompt_price + answer * info.completion_price


async def settle(row: ApiCall, call: ModelCall) -> None:
    """What the call used replaces what it reserved. Shielded: a client that goes away mid-stream
    cancels its response, not the accounting."""
    stats = call.stats()
    settle = sync_to_async(row.settle)(
        ok=call.failure is None,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        cost=stats.cost,
    )
    await asyncio.shield(settle)


def model_call(
    token: ApiToken,
    body: CompletionRequest,
    model: PlainModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
) -> ModelCall:
    """A call of `model` with the caller's sampling, these messages and tools (the caller's own
    when passed through; the fusion server tool's loop makes its own)."""
    services = current()
    request = ChatRequest(
        model=body.model,
        messages=messages,
        temperature=body.temperature,
        max_tokens=min(
            body.sampling.max_tokens or settings.FUSIONROOM_MAX_TOKENS, settings.FUSIONROOM_MAX_TOKENS
        ),
        reasoning=body.reasoning,
        tools=tools or None,
        # Without tools a tool_choice is an error to providers.
        tool_choice=tool_choice if tools else None,
    )
    limits = OutputLimits(
        answer_chars=settings.FUSIONROOM_MAX_ANSWER_CHARS,
        reasoning_chars=settings.FUSIONROOM_MAX_REASONING_CHARS,
        tool_argument_chars=settings.FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS,
    )
    return ModelCall(services.client_for(model.endpoints), request, model.info, time.perf_counter, limits)


async def _stream(
    call: ModelCall,
    row: ApiCall,
    first: Any,
    deltas: AsyncGenerator[Any, None],
    completion_id: str,
    body: CompletionRequest,
) -> AsyncIterator[bytes]:
    chunks = sse.Chunks(completion_id, body.model)
    settled = False
    try:
        yield chunks.encode({"role": "assistant", "content": ""})
        async with aclosing(deltas):
            if first is not None:
                yield chunks.text(*_key_and_text(first))
            async for delta in deltas:
                yield chunks.text(*_key_and_text(delta))
        # Counted before the client hears the end: what it does next sees the spend.
        await settle(row, call)
        settled = True
        if call.failure is not None:
            yield provider_error(call).sse_event()
            return
        if call.tool_calls:
            yield chunks.encode({"tool_calls": wire_tool_calls(call.tool_calls)})
        yield chunks.encode({}, finish_reason=_finish(call))
        if body.include_usage:
            yield chunks.encode(None, usage=call_usage(call))
        yield sse.DONE
    finally:
        if not settled:
            await settle(row, call)


def _key_and_text(delta: TextDelta | ReasoningDelta) -> tuple[str, str]:
    # Reasoning goes where OpenRouter puts it; OpenAI's clients keep it in model_extra.
    return ("content", delta.text) if isinstance(delta, TextDelta) else ("reasoning", delta.text)


def delta_of(delta: TextDelta | ReasoningDelta) -> dict[str, Any]:
    key, text = _key_and_text(delta)
    return {key: text}


def wire_tool_calls(calls: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Tool calls as a chat completion carries them (a streamed one in a single delta)."""
    return [
        {
            "index": index,
            "id": asked["id"],
            "type": "function",
            "function": {"name": asked["name"], "arguments": asked["arguments"]},
        }
        for index, asked in enumerate(calls)
    ]


def _finish(call: ModelCall) -> str:
    if call.tool_calls:
        return "tool_calls"
    return call.finish_reason or "stop"


def call_usage(call: ModelCall) -> dict[str, Any]:
    stats = call.stats()
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens + stats.completion_tokens,
        "cost": stats.cost,
    }


def provider_error(call: ModelCall) -> ApiError:
    """The call's failure as the API answers it."""
    status = KIND_STATUS.get(call.failure_kind or "", 502)
    return ApiError(
        status if status in PASSED_ON else 502,
        call.failure or "The model's provider failed.",
        code=call.failure_kind or "upstream_error",
        retry_after=1 if status == 429 else None,
    )
