"""The aiohttp application: /models, /chat/completions (streamed or whole), /healthz, and the
pocket web of chat.simulator.web (/search, /pages)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from chat.simulator.catalog import openrouter_listing
from chat.simulator.config import ENDLESS_FAULTS, HTTP_FAULT_STATUS, Fault, SimulatedModel
from chat.simulator.control import Controls, ShuttingDown
from chat.simulator.floods import ENDLESS_TEXT, answer_flood, catalog_flood, error_flood, giant_line
from chat.simulator.json_schema import SchemaError
from chat.simulator.replies import compose_reply, json_mode, seat_of
from chat.simulator.request_log import Outcome, RequestRecord
from chat.simulator.sampling import Sampling
from chat.simulator.tokens import count_prompt_tokens, usage
from chat.simulator.web import add_web_routes
from chat.simulator.wire import (
    DONE,
    KEEPALIVE,
    MALFORMED_EVENT,
    SSE_HEADERS,
    CompletionBody,
    Envelope,
    Piece,
    error_body,
    pieces_of,
    sse,
)

MID_STREAM_FAULTS: frozenset[str] = frozenset({"stall", "cut", "malformed", "inband_error", "giant_line"})
_MAX_BODY = 64 * 1024 * 1024


def build_app(controls: Controls, *, api_key: str | None = None) -> web.Application:
    app = web.Application(client_max_size=_MAX_BODY)
    handlers = _Handlers(controls, api_key)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/v1/models", handlers.models)
    app.router.add_post("/v1/chat/completions", handlers.chat_completions)
    add_web_routes(app)
    return app


async def _no_keep_alive() -> None:
    return None


class _Call:
    """One accepted chat completion: everything a response needs to go out."""

    def __init__(
        self,
        record: RequestRecord,
        model: SimulatedModel,
        body: CompletionBody,
        raw: dict[str, Any],
        prompt_tokens: int,
    ) -> None:
        """Raises SchemaError when the requested response_format cannot be followed."""
        self.record = record
        self.model = model
        self.prompt_tokens = prompt_tokens
        sampling = Sampling(temperature=body.temperature, seed=body.seed, seat=record.seat)
        reply = compose_reply(model, raw, bad_json=record.fault == "bad_json", sampling=sampling)
        pieces = pieces_of(reply)
        limit = body.token_limit
        self.truncated = limit is not None and len(pieces) > limit
        self.pieces = pieces[:limit] if limit is not None else pieces
        self.finish_reason = "length" if self.truncated else reply.finish_reason
        self.envelope = Envelope(f"gen-sim-{record.index:06d}", model.id, int(time.time()), reply)
        self.keep_alive: Callable[[], Awaitable[None]] = _no_keep_alive

    def usage(self, completion_tokens: int) -> dict[str, Any]:
        return usage(self.model, self.prompt_tokens, completion_tokens)


class _Handlers:
    def __init__(self, controls: Controls, api_key: str | None) -> None:
        self.controls = controls
        self.log = controls.log
        self.api_key = api_key

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "models": len(self.controls.models)})

    async def models(self, request: web.Request) -> web.StreamResponse:
        listing = openrouter_listing(self.controls.models.values())
        if self.controls.catalog_flood_bytes is None:
            return web.json_response(listing)
        # Chunked, without a Content-Length: a client must count what it reads to stop in time.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.force_close()
        await response.prepare(request)
        for chunk in catalog_flood(listing["data"], self.controls.catalog_flood_bytes):
            await response.write(chunk)
            self.controls.catalog_bytes_sent += len(chunk)
        await response.write_eof()
        return response

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        raw = await _read_json(request)
        fields = raw if isinstance(raw, dict) else {}
        record = self.log.open(str(fields.get("model", "")), fields, stream=fields.get("stream") is True)
        record.seat = seat_of(request.headers)
        record.headers = {
            name.lower(): value for name, value in request.headers.items() if name.lower() != "authorization"
        }
        try:
            return await self._answer(request, record, raw)
        except asyncio.CancelledError:
            # The client hung up (aiohttp cancels the handler then): the log says so.
            self.log.finish(record, "disconnected")
            raise

    async def _answer(self, request: web.Request, record: RequestRecord, raw: Any) -> web.StreamResponse:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._reject(record, 401, "No auth credentials found")
        try:
            body = CompletionBody.model_validate(raw)
        except ValidationError as error:
            return self._reject(record, 400, _describe(error))
        model = self.controls.models.get(body.model)
        if model is None:
            return self._reject(record, 404, f"{body.model} is not a valid model ID")
        record.fault = self.controls.take_fault(model, json_mode=json_mode(model, raw) is not None)
        if record.fault in HTTP_FAULT_STATUS:
            return self._http_fault(record, model, record.fault)
        if record.fault == "huge_error":
            return await self._huge_error(request, record, model)
        prompt_tokens = count_prompt_tokens(raw["messages"])
        if prompt_tokens > model.context_length:
            return self._reject(record, 400, _context_message(model, prompt_tokens, body.token_limit))
        try:
            call = _Call(record, model, body, raw, prompt_tokens)
        except SchemaError as error:
            return self._reject(record, 400, f"Invalid response_format schema: {error}")
        if body.stream:
            return await self._stream(request, call)
        return await self._whole(request, call)

    # Refusals.

    def _reject(
        self, record: RequestRecord, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.log.finish(record, "rejected", status=status)
        return web.json_response(error_body(message, status), status=status, headers=headers)

    def _http_fault(self, record: RequestRecord, model: SimulatedModel, fault: Fault) -> web.Response:
        status = HTTP_FAULT_STATUS[fault]
        if fault == "rate_limit":
            message = f"{model.id} is temporarily rate-limited upstream. Please retry shortly."
            return self._reject(record, status, message, {"Retry-After": _seconds(model.retry_after_s)})
        if fault == "context_length":
            requested = model.context_length + 1_000
            return self._reject(record, status, _context_message(model, requested, None))
        messages = {
            500: "Internal Server Error",
            401: "No auth credentials found",
            402: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
        }
        return self._reject(record, status, messages[status])

    async def _huge_error(
        self, request: web.Request, record: RequestRecord, model: SimulatedModel
    ) -> web.StreamResponse:
        # Chunked, without a Content-Length, so only a client that counts what it reads stops early.
        response = web.StreamResponse(status=500, headers={"Content-Type": "application/json"})
        response.force_close()
        await response.prepare(request)
        record.status = 500
        try:
            await self._flood(response, record, error_flood(model.fault_body_bytes))
            await response.write_eof()
            self.log.finish(record, "rejected")
        except ConnectionResetError:
            self.log.finish(record, "disconnected")
        return response

    async def _flood(
        self, response: web.StreamResponse, record: RequestRecord, chunks: Iterable[bytes]
    ) -> None:
        for chunk in chunks:
            await response.write(chunk)
            record.bytes_sent += len(chunk)
            # write() waits only when the socket's buffer is full; let the client's side run too.
            await asyncio.sleep(0)

    # Streamed answers.

    async def _stream(self, request: web.Request, call: _Call) -> web.StreamResponse:
        response = web.StreamResponse(headers=SSE_HEADERS)
        if call.record.fault in MID_STREAM_FAULTS | ENDLESS_FAULTS:
            # It will close the connection after this answer, and says so, as HTTP asks: a client
            # that pools connections (aiohttp) must not send its retry down a closing one.
            response.force_close()
        await response.prepare(request)
        call.record.status = 200

        async def keep_alive() -> None:
            await response.write(KEEPALIVE)

        try:
            await keep_alive()
            await self._before_first_token(call, keep_alive)
            call.keep_alive = keep_alive
            if call.record.fault in ENDLESS_FAULTS:
                await self._send_endlessly(response, call)
            if call.record.fault == "flood_answer":
                await self._send_flood(response, call)
            else:
                await self._send_pieces(response, call)
            if call.record.fault in MID_STREAM_FAULTS:
                await self._fail_stream(response, call)
            else:
                await response.write(sse(call.envelope.chunk({}, call.finish_reason)))
                sent = (
                    call.record.completion_tokens if call.record.fault == "flood_answer" else len(call.pieces)
                )
                await response.write(sse(call.envelope.usage_chunk(call.usage(sent))))
                await response.write(DONE)
                await response.write_eof()
                self.log.finish(call.record, "completed")
        except ShuttingDown:
            self.log.finish(call.record, "shutdown")
        except ConnectionResetError:
            self.log.finish(call.record, "disconnected")
        return response

    async def _before_first_token(self, call: _Call, keep_alive: Callable[[], Awaitable[None]]) -> None:
        if call.record.fault == "hang":
            await self.controls.wait(None, None)
        if self.controls.holds_at(call.model.id, 0):
            await self.controls.pass_hold(call.model.id, keep_alive)
        await self._think(call.model.ttft_s, keep_alive)

    async def _think(self, seconds: float, keep_alive: Callable[[], Awaitable[None]]) -> None:
        # Like OpenRouter, send a keep-alive comment every interval while the model thinks.
        real = seconds * self.controls.time_scale
        while real > 0:
            step = min(real, self.controls.keepalive_s)
            await self.controls.pause(step / self.controls.time_scale)
            real -= step
            if real > 0:
                await keep_alive()

    async def _send_pieces(self, response: web.StreamResponse, call: _Call) -> None:
        pieces: list[Piece] = call.pieces
        if call.record.fault in MID_STREAM_FAULTS:
            pieces = pieces[: call.model.fault_after_tokens]
        # Each token is due at a fixed time from the first, so timer overhead does not add up.
        start, interval = self.controls.now(), self.controls.time_scale / call.model.tokens_per_second
        for position, piece in enumerate(pieces):
            if position and self.controls.holds_at(call.model.id, position):
                # Held mid-stream: tests see a model that has written part of its answer.
                self.log.changed()
                await self.controls.pass_hold(call.model.id, call.keep_alive)
                start = self.controls.now() - position * interval
            if position:
                await self.controls.pause_until(start + position * interval)
            await response.write(sse(call.envelope.chunk(call.envelope.delta(piece, first=position == 0))))
            call.record.completion_tokens += 1
            self.log.first_token(call.record)

    async def _send_endlessly(self, response: web.StreamResponse, call: _Call) -> None:
        """An answer, its reasoning or a tool call's arguments that never ends: a thousand
        characters a chunk, at the model's pace, until the client hangs up."""
        envelope, fault = call.envelope, call.record.fault
        if fault == "endless_tool_arguments":
            opening = {"index": 0, "id": "call_endless", "type": "function"}
            function = {"name": "web_search", "arguments": '{"query": "'}
            await response.write(sse(envelope.chunk({"tool_calls": [{**opening, "function": function}]})))
        if fault == "endless_answer":
            delta: dict[str, Any] = {"content": ENDLESS_TEXT}
        elif fault == "endless_reasoning":
            delta = {"content": "", "reasoning": ENDLESS_TEXT}
        else:
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": ENDLESS_TEXT}}]}
        chunk = sse(envelope.chunk(delta))
        while True:
            await response.write(chunk)
            call.record.bytes_sent += len(chunk)
            call.record.completion_tokens += 1
            self.log.first_token(call.record)
            await self.controls.pause(1 / call.model.tokens_per_second)

    async def _send_flood(self, response: web.StreamResponse, call: _Call) -> None:
        """A long answer of fault_text repeated to fault_body_bytes characters, a thousand
        characters a chunk at the model's pace (tokens_per_second chunks a second)."""
        start, interval = self.controls.now(), self.controls.time_scale / call.model.tokens_per_second
        for position, text in enumerate(answer_flood(call.model.fault_text, call.model.fault_body_bytes)):
            if position:
                await self.controls.pause_until(start + position * interval)
            chunk = sse(call.envelope.chunk(call.envelope.delta(Piece("content", text), first=position == 0)))
            await response.write(chunk)
            call.record.bytes_sent += len(chunk)
            call.record.completion_tokens += 1
            self.log.first_token(call.record)

    async def _fail_stream(self, response: web.StreamResponse, call: _Call) -> None:
        fault = call.record.fault
        if fault == "stall":
            await self.controls.wait(None, None)
        outcome: Outcome = "cut"
        if fault == "malformed":
            await response.write(MALFORMED_EVENT)
            outcome = "malformed"
        elif fault == "inband_error":
            error = call.envelope.inband_error("Upstream provider error (simulated)", 502)
            await response.write(sse(error))
            outcome = "inband_error"
        elif fault == "giant_line":
            await self._flood(response, call.record, giant_line(call.model.fault_body_bytes))
        # The body ends and the connection closes, with neither usage nor [DONE].
        response.force_close()
        await response.write_eof()
        self.log.finish(call.record, outcome)

    # Whole answers.

    async def _whole(self, request: web.Request, call: _Call) -> web.StreamResponse:
        fault = call.record.fault

        async def nothing() -> None:
            return None

        try:
            if fault in ("hang", "stall"):
                await self.controls.wait(None, None)
            await self.controls.pass_hold(call.model.id, nothing)
            pieces = len(call.pieces)
            await self.controls.pause(call.model.ttft_s + pieces / call.model.tokens_per_second)
        except ShuttingDown:
            self.log.finish(call.record, "shutdown", status=503)
            return web.json_response(error_body("The simulator is shutting down", 503), status=503)
        self.log.first_token(call.record)
        call.record.completion_tokens = len(call.pieces)
        if fault == "malformed":
            self.log.finish(call.record, "malformed", status=200)
            return web.Response(text="{not json", content_type="application/json")
        if fault == "inband_error":
            self.log.finish(call.record, "inband_error", status=200)
            return web.json_response(error_body("Upstream provider error (simulated)", 502))
        completion = call.envelope.completion(call.pieces, call.finish_reason, call.usage(len(call.pieces)))
        if fault == "cut":
            return await self._cut_whole(request, call, json.dumps(completion).encode())
        self.log.finish(call.record, "completed", status=200)
        return web.json_response(completion)

    async def _cut_whole(self, request: web.Request, call: _Call, body: bytes) -> web.StreamResponse:
        # Announce the full length, send half of it, and close: the client sees a truncated body.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        response.force_close()
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        self.log.finish(call.record, "cut", status=200)
        return response


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _describe(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors()[:5]
    )
    return f"Invalid request body: {problems}"


def _context_message(model: SimulatedModel, prompt_tokens: int, output_tokens: int | None) -> str:
    requested = prompt_tokens + (output_tokens or 0)
    return (
        f"This endpoint's maximum context length is {model.context_length} tokens. However, you "
        f"requested about {requested} tokens ({prompt_tokens} of text input, {output_tokens or 0} in the "
        "output). Please reduce the length of either one."
    )


def _seconds(value: float) -> str:
    # Retry-After is whole seconds by the standard; fractions only appear when a test asks for them.
    return str(int(value)) if value == int(value) else f"{value:g}"
