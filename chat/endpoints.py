"""Which model APIs this server talks to, from the settings; demo mode starts the simulator."""

from __future__ import annotations

import threading

from django.conf import settings

from chat.providers.types import Endpoint

DEMO_ENDPOINT_NAME = "simulated"
OPENROUTER_ENDPOINT_NAME = "openrouter"

_demo_lock = threading.Lock()
_demo_url: str | None = None


def demo_simulator_url() -> str:
    """The base URL of this process's simulator, started on first use.

    One per process is enough: its answers are deterministic, so several web processes or
    workers each running their own give the same results.
    """
    global _demo_url
    if settings.FUSIONROOM_SIMULATOR_URL:
        return str(settings.FUSIONROOM_SIMULATOR_URL)
    with _demo_lock:
        if _demo_url is None:
            from chat.simulator import SimulatorThread

            _demo_url = SimulatorThread(port=settings.FUSIONROOM_SIMULATOR_PORT).start()
        return _demo_url


def default_endpoint() -> Endpoint:
    if settings.FUSIONROOM_DEMO:
        return Endpoint(name=DEMO_ENDPOINT_NAME, base_url=demo_simulator_url(), simulated=True)
    return Endpoint(
        name=OPENROUTER_ENDPOINT_NAME,
        base_url=settings.OPENROUTER_BASE_URL,
        api_key=settings.OPENROUTER_API_KEY,
        # OpenRouter's customary attribution headers.
        extra_headers={"HTTP-Referer": settings.FUSIONROOM_PUBLIC_URL, "X-Title": "FusionRoom"},
    )
