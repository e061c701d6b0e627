"""POST /v1/chat/completions: a fusion model runs a panel, any other catalog model passes through."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from chat.models import ApiToken
from chat.providers import FUSION_DEPTH_HEADER
from chat.views.api import fusion, passthrough
from chat.views.api.decorators import api_view
from chat.views.api.errors import ApiError
from chat.views.api.models import is_fusion_model
from chat.views.api.schema import parse_request


@api_view("POST")
async def chat_completions(request: HttpRequest, token: ApiToken) -> HttpResponseBase:
    body = parse_request(request.body)
    if not is_fusion_model(body.model):
        return await passthrough.complete(token, body)
    if FUSION_DEPTH_HEADER in request.headers:
        # A fusion run of some FusionRoom (this one, through an endpoint pointing at itself, or
        # one behind a gateway) asked for a fusion model: answering would fuse fusions for ever.
        raise ApiError(
            400,
            f"A fusion model was asked for by a fusion run ({FUSION_DEPTH_HEADER} is set): "
            "FusionRoom does not call itself. Give the panel plain models.",
            code="fusion_recursion",
            param="model",
        )
    return await fusion.complete(request, token, body)
