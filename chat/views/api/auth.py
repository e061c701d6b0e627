"""Who is calling the API: a Bearer token, never a session cookie."""

from __future__ import annotations

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chat.models import ApiToken
from chat.views.api.errors import ApiError

# last_used_at is written at most this often per token: a busy client should not make a write
# per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def bearer_secret(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            401,
            "Send an API token as 'Authorization: Bearer <token>' (make one in Settings → API tokens).",
            code="missing_api_key",
        )
    return secret.strip()


def _find(secret: str) -> ApiToken:
    token = ApiToken.objects.find(secret)
    if token is None or not token.user.is_active:
        # One answer for unknown, revoked and expired tokens: nothing to learn by probing.
        raise ApiError(
            401, "This API token is not valid: it is unknown, revoked or expired.", code="invalid_api_key"
        )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


async def authenticate(request: HttpRequest) -> ApiToken:
    """The request's usable token, with its user; raises ApiError (401, or 404 with the API off)."""
    if not settings.FUSIONROOM_API:
        raise ApiError(404, "The API is turned off on this server (FUSIONROOM_API).", code="api_disabled")
    secret = bearer_secret(request)
    return await sync_to_async(_find)(secret)


async def token_or_refusal(request: HttpRequest) -> ApiToken | HttpResponse:
    """`authenticate` for a surface outside the API's views (the MCP server at /mcp): the token,
    or the very response the API would refuse the request with."""
    try:
        return await authenticate(request)
    except ApiError as error:
        return error.response()
