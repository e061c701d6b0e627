"""The simulator in a daemon thread with its own event loop, for synchronous callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from chat.simulator.config import SimulatedModel
from chat.simulator.request_log import RequestRecord
from chat.simulator.simulator import Simulator

T = TypeVar("T")


class SimulatorThread:
    """Runs a `Simulator` (same arguments) in a thread; its steering methods are thread-safe."""

    def __init__(self, models: Iterable[SimulatedModel] | None = None, **options: Any) -> None:
        self._models = None if models is None else list(models)
        self._options = options
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._simulator: Simulator | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and return its base URL; raises what the server raised on start."""
        if self._simulator is not None:
            return self._simulator.base_url
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="fusionroom-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulator did not start in time")
        if self._failure is not None:
            raise self._failure
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is None or stopping is None or thread is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = self._loop = self._stopping = self._simulator = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def simulator(self) -> Simulator:
        """The simulator itself; call its methods only from its own loop (or through this class)."""
        if self._simulator is None:
            raise RuntimeError("the simulator thread is not running")
        return self._simulator

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    @property
    def requests(self) -> list[RequestRecord]:
        return self._call(lambda: self.simulator.requests)

    def add_model(self, model: SimulatedModel) -> None:
        self._call(lambda: self.simulator.add_model(model))

    def configure(self, model_id: str, **changes: Any) -> SimulatedModel:
        return self._call(lambda: self.simulator.configure(model_id, **changes))

    def hold(self, model_id: str, *, after_tokens: int = 0) -> None:
        self._call(lambda: self.simulator.hold(model_id, after_tokens=after_tokens))

    def release(self, model_id: str | None = None) -> None:
        self._call(lambda: self.simulator.release(model_id))

    def reset(self) -> None:
        self._call(lambda: self.simulator.reset())

    def wait_for_requests(
        self, count: int, *, model: str | None = None, timeout: float = 10.0
    ) -> list[RequestRecord]:
        waiting = self.simulator.wait_for_requests(count, model=model, timeout=timeout)
        return asyncio.run_coroutine_threadsafe(waiting, self._running_loop()).result()

    # Inside the thread.

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to start(), which re-raises it in the caller
            self._failure = error
            self._ready.set()

    async def _serve(self) -> None:
        simulator = Simulator(self._models, **self._options)
        await simulator.start()
        self._simulator = simulator
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await simulator.stop()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the simulator thread is not running")
        return self._loop

    def _call(self, function: Callable[[], T]) -> T:
        # Run in the server's loop: the simulator's state is only ever touched from there.
        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self._running_loop()).result()
