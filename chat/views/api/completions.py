"""POST /v1/chat/completions: a fusion model runs a panel, any other catalog model passes through,
or with the fusion server tool may consult a panel."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from chat.models import ApiToken
from chat.providers import FUSION_DEPTH_HEADER
from chat.views.api import fusion, passthrough, servertool
from chat.views.api.decorators import api_view
from chat.views.api.errors import ApiError
from chat.views.api.models import is_fusion_model
from chat.views.api.schema import parse_request


@api_view("POST")
async def chat_completions(request: HttpRequest, token: ApiToken) -> HttpResponseBase:
    body = parse_request(request.body)
    tool = body.server_tool
    if tool is not None and is_fusion_model(body.model):
        raise ApiError(
            400,
            f"{tool.param}: a fusion model cannot be given the fusion tool (a panel consulting a panel): "
            "give the tool to a plain model, or call the fusion model alone.",
            code="fusion_tool_on_fusion_model",
            param=tool.param,
        )
    if (tool is not None or is_fusion_model(body.model)) and FUSION_DEPTH_HEADER in request.headers:
        # A fusion run of some FusionRoom (this one, through an endpoint pointing at itself, or
        # one behind a gateway) asked for a fusion model, or to consult a panel: answering would
        # fuse fusions for ever.
        asked = "A fusion model was asked for" if tool is None else "The fusion tool was offered"
        raise ApiError(
            400,
            f"{asked} by a fusion run ({FUSION_DEPTH_HEADER} is set): "
            "FusionRoom does not call itself. Give the panel plain models.",
            code="fusion_recursion",
            param="model" if tool is None else tool.param,
        )
    if tool is not None:
        return await servertool.complete(request, token, body, tool)
    if not is_fusion_model(body.model):
        if body.fusion is not None:
            # A plain model has no panel to judge: the terms would be dropped without a word.
            raise ApiError(
                400,
                "fusion: judging terms are for a fusion model, or a plain model given the fusion tool.",
                code="invalid_request",
                param="fusion",
            )
        return await passthrough.complete(token, body)
    return await fusion.complete(request, token, body)
