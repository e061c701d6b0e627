"""Which model APIs this server talks to, and which of them a user's runs talk to.

The server's endpoints are the default one (OpenRouter, or in demo mode the simulator, which
starts on first use), then those of the environment (settings.FUSIONROOM_EXTRA_ENDPOINTS), then
the enabled server-wide rows staff keep in the admin. A user's are those with their own key
where they set one, then their own endpoints. A model id "name::model" picks an endpoint by name;
an unqualified id means the first, the default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncGenerator

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.views.decorators.debug import sensitive_variables

from chat.endpoints import guard
from chat.endpoints.crypto import KeyUnavailable
from chat.models import ProviderEndpoint, UserProviderKey
from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.policy import RetryPolicy, Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.resilience import ResilientClient
from chat.providers.routing import ModelRouter
from chat.providers.types import ChatRequest, Endpoint, StreamEvent

logger = logging.getLogger(__name__)

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


def default_endpoint_name() -> str:
    return DEMO_ENDPOINT_NAME if settings.FUSIONROOM_DEMO else OPENROUTER_ENDPOINT_NAME


def server_endpoints() -> list[Endpoint]:
    """Every endpoint anyone may use, with the server's keys; the default first. Sync (database).

    A server-wide row whose key can no longer be decrypted is left out, with an error in the
    log: it fails closed, and one bad row does not stop everybody's runs.
    """
    endpoints = [default_endpoint(), *settings.FUSIONROOM_EXTRA_ENDPOINTS]
    for row in ProviderEndpoint.objects.server_wide().enabled():
        try:
            endpoints.append(row.endpoint())
        except KeyUnavailable:
            logger.error(
                "Server endpoint %r is left out: its stored key cannot be decrypted with the configured "
                "encryption keys. Enter the key again in the admin.",
                row.name,
            )
    return endpoints


@sensitive_variables()
def endpoints_for(user: User | AnonymousUser) -> list[Endpoint]:
    """The endpoints this user's runs may call: the server's, with the user's own key wherever
    they set one, then their own enabled endpoints. The default comes first. Sync (database).

    Raises KeyUnavailable (its `endpoint` says which) when one of the user's stored keys can no
    longer be decrypted: their runs must not quietly fall back to the server's key or to none;
    send them to the Settings page, which says so and asks for the key again.
    """
    endpoints = server_endpoints()
    if not user.is_authenticated:
        return endpoints
    keys = {row.endpoint: row for row in UserProviderKey.objects.filter(user=user)}
    endpoints = [
        endpoint.model_copy(update={"api_key": keys[endpoint.name].api_key()})
        if endpoint.name in keys and not endpoint.simulated
        else endpoint
        for endpoint in endpoints
    ]
    if guard.mode() == "off":
        # Stored endpoints stay (the owner sees them on Settings), but none is called.
        return endpoints
    taken = {endpoint.name for endpoint in endpoints}
    for row in ProviderEndpoint.objects.owned_by(user).enabled():
        # A server endpoint added later under the same name wins; Settings tells the owner.
        if row.name not in taken:
            endpoints.append(row.endpoint())
    return endpoints


def timeouts() -> Timeouts:
    return Timeouts(
        connect=settings.FUSIONROOM_TIMEOUT_CONNECT,
        first_token=settings.FUSIONROOM_TIMEOUT_FIRST_TOKEN,
        stall=settings.FUSIONROOM_TIMEOUT_STALL,
        total=settings.FUSIONROOM_TIMEOUT_TOTAL,
    )


def client_for(endpoints: list[Endpoint]) -> ResilientClient:
    """One client per endpoint over the running loop's shared HTTP client, routed by name (the
    first endpoint is the default), with the configured timeouts and retries around it all.
    A user's own endpoint is checked first (chat/endpoints/guard.py) and reached through the
    vetting client; one the rules refuse is never called, its calls fail saying why.
    Call it inside the event loop that will use the client."""
    if not endpoints:
        raise ValueError("client_for needs at least one endpoint.")
    limits = timeouts()
    clients = {endpoint.name: _client(endpoint, limits) for endpoint in endpoints}
    router = ModelRouter(clients, default=endpoints[0].name)
    return ResilientClient(router, RetryPolicy(attempts=settings.FUSIONROOM_RETRY_ATTEMPTS), limits)


def _client(endpoint: Endpoint, limits: Timeouts) -> ModelClient:
    problem = guard.endpoint_problem(endpoint)
    if problem is not None:
        return RefusedEndpointClient(endpoint, problem)
    return OpenAICompatibleClient(
        endpoint,
        guard.http_client_for(endpoint),
        timeouts=limits,
        max_error_body_bytes=settings.FUSIONROOM_MAX_ERROR_BODY_BYTES,
    )


class RefusedEndpointClient:
    """The ModelClient of an endpoint the rules refuse (one stored before them, or with
    FUSIONROOM_USER_ENDPOINTS off): every call fails at once with the reason, nothing connects."""

    def __init__(self, endpoint: Endpoint, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        raise ProviderError(f"{self.endpoint.name} is not called: {self.reason}", kind="config")
        yield  # an async generator, like every client's stream
