"""The loopback simulator: start it in an event loop, steer it from tests, stop it promptly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from aiohttp import web

from chat.providers.types import Endpoint
from chat.simulator.catalog import DEFAULT_MODELS
from chat.simulator.config import SimulatedModel
from chat.simulator.control import Controls
from chat.simulator.request_log import Predicate, RequestRecord
from chat.simulator.server import build_app


class Simulator:
    """An OpenAI/OpenRouter-compatible server on loopback.

    `time_scale` multiplies every simulated delay (0 makes answers instant, 1 is real time);
    `keepalive_s` is the real interval between keep-alive comments while a model thinks or is held.
    """

    def __init__(
        self,
        models: Iterable[SimulatedModel] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        keepalive_s: float = 1.0,
        api_key: str | None = None,
    ) -> None:
        if time_scale < 0 or keepalive_s <= 0:
            raise ValueError("time_scale must be >= 0 and keepalive_s > 0")
        self.host = host
        self.port = port
        self.api_key = api_key
        chosen = DEFAULT_MODELS if models is None else models
        self._controls = Controls(chosen, time_scale=time_scale, keepalive_s=keepalive_s)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # Lifecycle.

    async def start(self) -> str:
        """Listen, and return the base URL (``http://127.0.0.1:PORT/v1``)."""
        if self._runner is not None:
            return self.base_url
        self._controls.reopen()
        runner = web.AppRunner(
            build_app(self._controls, api_key=self.api_key),
            # A client that hangs up cancels its handler, so the log can say "disconnected".
            handler_cancellation=True,
            # Handlers end themselves on shutdown; this only bounds a misbehaving one.
            shutdown_timeout=1.0,
            access_log=None,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self._base_url = f"http://{self.host}:{port}/v1"
        return self._base_url

    async def stop(self) -> None:
        """Close every open request (held, hanging or stalled ones too) and stop listening."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._controls.begin_shutdown()
        self._controls.release()
        await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator has not been started")
        return self._base_url

    @property
    def web_url(self) -> str:
        """The root of the simulated web: a SearXNG base URL (``/search``) whose results are
        its own ``/pages``. Its host:port (``web_host``) goes in SafeFetcher's allow_hosts."""
        return self.base_url.removesuffix("/v1")

    @property
    def web_host(self) -> str:
        """``127.0.0.1:PORT``: the allow_hosts entry that lets SafeFetcher read the simulated web."""
        return self.web_url.removeprefix("http://")

    def endpoint(self, name: str = "Simulator") -> Endpoint:
        """The simulator as an endpoint the provider client can call."""
        return Endpoint(
            name=name, base_url=self.base_url, api_key=self.api_key or "sk-simulated", simulated=True
        )

    # Steering.

    @property
    def models(self) -> Mapping[str, SimulatedModel]:
        return MappingProxyType(self._controls.models)

    def add_model(self, model: SimulatedModel) -> None:
        """Serve `model`, replacing any model with the same id (and resetting its fault count)."""
        self._controls.add_model(model)

    def configure(self, model_id: str, **changes: Any) -> SimulatedModel:
        """Change some of a model's settings, e.g. ``configure(id, fault="rate_limit", fault_times=2)``.

        Changing `fault` or `fault_times` restarts the fault count. Raises KeyError for an
        unknown model and pydantic's ValidationError for a bad value.
        """
        return self._controls.configure(model_id, **changes)

    def flood_catalog(self, size_bytes: int | None) -> None:
        """Make GET /models send a listing of about `size_bytes`, generated as it goes out (the
        real models first, then made-up ones); None puts the plain listing back."""
        self._controls.catalog_flood_bytes = size_bytes

    @property
    def catalog_bytes_sent(self) -> int:
        """Bytes of flooded /models listings handed to the socket so far."""
        return self._controls.catalog_bytes_sent

    def hold(self, model_id: str, *, after_tokens: int = 0) -> None:
        """Make the model's requests wait before their first token (or after `after_tokens`
        tokens, mid-stream) until `release`.

        Keep-alive comments still flow while held; requests refused with an HTTP error
        (a fault, an unknown model) are answered at once.
        """
        self._controls.hold(model_id, after_tokens=after_tokens)

    def release(self, model_id: str | None = None) -> None:
        """Let a held model's requests go on (every held model's, when None)."""
        self._controls.release(model_id)

    def reset(self) -> None:
        """Undo every add_model, configure and hold since the start (the request log stays)."""
        self._controls.reset()

    # Observing.

    @property
    def requests(self) -> list[RequestRecord]:
        """Every chat completion request so far, in arrival order (records update live)."""
        return self._controls.log.records

    async def wait_until(self, predicate: Predicate, *, timeout: float | None = None) -> list[RequestRecord]:
        """Wait until `predicate(requests)` holds; TimeoutError after `timeout` seconds."""
        return await self._controls.log.wait_until(predicate, timeout=timeout)

    async def wait_for_requests(
        self, count: int, *, model: str | None = None, timeout: float | None = None
    ) -> list[RequestRecord]:
        """Wait until `count` requests (for `model`, if given) have arrived; return those."""

        def arrived(records: list[RequestRecord]) -> list[RequestRecord]:
            return [r for r in records if model is None or r.model == model]

        records = await self.wait_until(lambda records: len(arrived(records)) >= count, timeout=timeout)
        return arrived(records)
