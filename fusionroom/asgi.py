"""ASGI entry point: HTTP through Django (and /mcp through the MCP server), websockets through
Channels, run workers' channel."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fusionroom.settings")
# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.mcp.http import McpOverHttp  # noqa: E402
from chat.routing import channel_routes, websocket_urlpatterns  # noqa: E402
from chat.runs.startup import RecoverRunsOnStart  # noqa: E402
from chat.views.api.auth import token_or_refusal  # noqa: E402
from chat.views.api.gateway import ApiOverHttp  # noqa: E402
from fusionroom.origins import SameOriginValidator  # noqa: E402

application = RecoverRunsOnStart(
    ProtocolTypeRouter(
        {
            # /mcp is the MCP server's (chat/mcp/http.py), /v1/ the API's (chat/views/api/gateway.py);
            # everything else is Django's.
            "http": McpOverHttp(ApiOverHttp(django_asgi_app), authenticate=token_or_refusal),
            # The Origin must be this site exactly: scheme, host and port (fusionroom/origins.py).
            "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),  # type: ignore[arg-type]
            # Only `manage.py runworker` serves this: messages of the channel layer, no client.
            "channel": ChannelNameRouter(channel_routes),
        }
    )
)
