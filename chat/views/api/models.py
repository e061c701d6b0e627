"""Which models the API offers a token: fusion models (presets, saved panels) and the plain catalog."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from chat.endpoints.catalog import Catalog, CatalogEntry, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.fusion_models import fusion_models, fusion_object

# Named here too for the API's other modules, which have always found them here.
from chat.fusion_models import is_fusion_model as is_fusion_model
from chat.fusion_models import resolve_fusion_model as resolve_fusion_model
from chat.fusion_models import token_may_use as token_may_use
from chat.models import ApiToken, Panel
from chat.views.api.decorators import api_view
from chat.views.api.errors import ApiError

OWNER = "fusionroom"


def fusion_entry(model_id: str, panel: Panel) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": int(panel.created_at.timestamp()),
        "owned_by": OWNER,
        "fusion": fusion_object(panel),
    }


def catalog_entry(entry: CatalogEntry) -> dict[str, Any]:
    # Catalogs say nothing of when a model was made; 0 keeps the field an integer, as SDKs expect.
    return {"id": entry.ref, "object": "model", "created": 0, "owned_by": entry.info.provider}


async def user_catalog(user: Any) -> Catalog:
    """The plain models the user's runs can call; endpoints that are down are left out."""
    try:
        endpoints = await sync_to_async(endpoints_for)(user)
    except KeyUnavailable:
        # A key of theirs can no longer be read: their endpoints are not called (Settings says why).
        return Catalog([])
    return await load_catalog(endpoints)


async def available_models(token: ApiToken) -> list[dict[str, Any]]:
    """What /v1/models lists for the token: fusion models, then the plain catalog, each allowed."""
    fusion = await sync_to_async(fusion_models)(token.user)
    catalog = await user_catalog(token.user)
    fusion_ids = {model_id for model_id, _ in fusion}
    entries = [fusion_entry(model_id, panel) for model_id, panel in fusion]
    entries += [
        catalog_entry(entry)
        for entry in sorted(catalog.entries, key=lambda entry: entry.ref)
        if entry.ref not in fusion_ids
    ]
    return [entry for entry in entries if token_may_use(token, entry["id"])]


def model_not_found(model_id: str) -> ApiError:
    """One answer for an unknown model and one the token may not use: nothing to learn by probing."""
    return ApiError(
        404,
        f"The model {model_id!r} does not exist or this token may not use it (GET /v1/models lists them).",
        code="model_not_found",
        param="model",
    )


async def find_model(token: ApiToken, model_id: str) -> dict[str, Any]:
    """The /v1/models entry of one model the token may use; ApiError 404 otherwise."""
    if not token_may_use(token, model_id):
        raise model_not_found(model_id)
    if is_fusion_model(model_id):
        panel = await sync_to_async(resolve_fusion_model)(token.user, model_id)
        if panel is None:
            raise model_not_found(model_id)
        return fusion_entry(model_id, panel)
    entry = (await user_catalog(token.user)).get(model_id)
    if entry is None:
        raise model_not_found(model_id)
    return catalog_entry(entry)


@api_view("GET")
async def list_models(request: HttpRequest, token: ApiToken) -> JsonResponse:
    return JsonResponse({"object": "list", "data": await available_models(token)})


@api_view("GET")
async def retrieve_model(request: HttpRequest, token: ApiToken, model_id: str) -> JsonResponse:
    return JsonResponse(await find_model(token, model_id))
