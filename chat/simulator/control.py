"""The simulator's runtime state: models, fault budgets, holds, pacing and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from chat.simulator.config import Fault, SimulatedModel
from chat.simulator.request_log import RequestLog


class ShuttingDown(Exception):
    """The simulator is stopping: a waiting handler ends its response now."""


class Controls:
    def __init__(self, models: Iterable[SimulatedModel], *, time_scale: float, keepalive_s: float) -> None:
        self.models: dict[str, SimulatedModel] = {model.id: model for model in models}
        self._initial_models = dict(self.models)
        self.time_scale = time_scale
        self.keepalive_s = keepalive_s
        self.log = RequestLog()
        self._fault_hits: dict[str, int] = {}
        self._holds: dict[str, asyncio.Event] = {}
        # Where each held model pauses: 0 before its first token, N after N tokens.
        self._hold_points: dict[str, int] = {}
        self._closing = asyncio.Event()
        # GET /models pads its listing out to this many bytes when set (a flooded catalog).
        self.catalog_flood_bytes: int | None = None
        self.catalog_bytes_sent = 0

    # Models and faults.

    def reset(self) -> None:
        """Back to the models it started with: no changes, no faults counted, no holds."""
        self.models = dict(self._initial_models)
        self._fault_hits.clear()
        self.catalog_flood_bytes = None
        self.release()

    def add_model(self, model: SimulatedModel) -> None:
        self.models[model.id] = model
        self._fault_hits.pop(model.id, None)

    def configure(self, model_id: str, **changes: Any) -> SimulatedModel:
        current = self.models[model_id]
        if changes.get("id", model_id) != model_id:
            raise ValueError("a model's id cannot change; add_model a new one instead")
        model = SimulatedModel.model_validate({**current.model_dump(), **changes})
        self.models[model_id] = model
        if {"fault", "fault_times"} & changes.keys():
            self._fault_hits.pop(model_id, None)
        return model

    def take_fault(self, model: SimulatedModel, *, json_mode: bool) -> Fault | None:
        """The fault this request suffers, if any; counts it against the model's budget."""
        if model.fault is None or (model.fault == "bad_json" and not json_mode):
            return None
        hits = self._fault_hits.get(model.id, 0)
        if model.fault_budget is not None and hits >= model.fault_budget:
            return None
        self._fault_hits[model.id] = hits + 1
        return model.fault

    # Holds.

    def hold(self, model_id: str, *, after_tokens: int = 0) -> None:
        gate = self._holds.get(model_id)
        if gate is None or gate.is_set():
            self._holds[model_id] = asyncio.Event()
        self._hold_points[model_id] = after_tokens

    def holds_at(self, model_id: str, position: int) -> bool:
        """Whether a held model's stream pauses before sending token number `position`."""
        return model_id in self._holds and self._hold_points.get(model_id, 0) == position

    def release(self, model_id: str | None = None) -> None:
        released = list(self._holds) if model_id is None else [model_id]
        for key in released:
            if gate := self._holds.pop(key, None):
                gate.set()

    async def pass_hold(self, model_id: str, while_held: Callable[[], Awaitable[None]]) -> None:
        """Wait while the model is held, calling `while_held` every keep-alive interval."""
        gate = self._holds.get(model_id)
        while gate is not None and not await self.wait(gate, self.keepalive_s):
            await while_held()

    # Time.

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def begin_shutdown(self) -> None:
        self._closing.set()

    def reopen(self) -> None:
        self._closing = asyncio.Event()

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    async def pause(self, seconds: float) -> None:
        """Sleep for simulated `seconds` (scaled); raises ShuttingDown if the simulator stops."""
        await self.pause_until(self.now() + seconds * self.time_scale)

    async def pause_until(self, deadline: float) -> None:
        """Sleep until the loop's clock reads `deadline`; raises ShuttingDown if the simulator stops."""
        if deadline <= self.now():
            await asyncio.sleep(0)
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._closing.wait()
            except TimeoutError:
                pass
        if self._closing.is_set():
            raise ShuttingDown

    async def wait(self, event: asyncio.Event | None, timeout: float | None) -> bool:
        """Wait for `event` (or forever, when None) at most `timeout` real seconds.

        True when the event is set, False on timeout; raises ShuttingDown if the simulator stops.
        """
        waiters = [asyncio.ensure_future(self._closing.wait())]
        if event is not None:
            waiters.append(asyncio.ensure_future(event.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._closing.is_set():
            raise ShuttingDown
        return event is not None and event.is_set()
