"""/v1/models and the resolver: fusion models (presets, saved panels), the plain catalog, per token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client

from chat.models import ApiToken, Panel
from chat.simulator import SimulatorThread
from chat.views.api.models import resolve_fusion_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator(settings: Any) -> Iterator[SimulatorThread]:
    """Demo mode on a simulator of this test's own: the plain catalog is the simulated one."""
    with SimulatorThread(time_scale=0) as sim:
        settings.FUSIONROOM_DEMO = True
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        yield sim


@pytest.fixture
def alices_panel(alice, presets) -> Panel:
    return Panel.objects.create(
        owner=alice,
        name="Code Review",
        seats=["openai/gpt-5.5", "moonshotai/kimi-k2.6"],
        judge="openai/gpt-5.5",
    )


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def get(secret: str, path: str) -> Any:
    return Client().get(path, **bearer(secret))


# --- the resolver ------------------------------------------------------------------------------


def test_fusion_is_the_panel_the_chatroom_picks_first(alice, presets):
    assert (
        resolve_fusion_model(alice, "fusion") == Panel.objects.for_user(alice).first() == presets["Quality"]
    )


def test_openrouter_fusion_is_an_alias_of_fusion(alice, presets):
    assert resolve_fusion_model(alice, "openrouter/fusion") == resolve_fusion_model(alice, "fusion")


def test_a_preset_is_named_by_its_slug(alice, presets):
    assert resolve_fusion_model(alice, "fusion/budget") == presets["Budget"]
    assert resolve_fusion_model(alice, "fusion/quality") == presets["Quality"]


def test_a_saved_panel_is_named_by_the_slug_of_its_name(alice, alices_panel):
    assert resolve_fusion_model(alice, "fusion/panel/code-review") == alices_panel


def test_nobody_resolves_another_users_panel(bob, alices_panel):
    assert resolve_fusion_model(bob, "fusion/panel/code-review") is None


def test_two_panels_of_the_same_name_are_told_apart_by_their_number(alice, alices_panel):
    twin = Panel.objects.create(
        owner=alice, name="Code review", seats=["openai/gpt-5.5"], judge="openai/gpt-5.5"
    )
    assert resolve_fusion_model(alice, f"fusion/panel/code-review-{alices_panel.pk}") == alices_panel
    assert resolve_fusion_model(alice, f"fusion/panel/code-review-{twin.pk}") == twin
    assert resolve_fusion_model(alice, "fusion/panel/code-review") is None


@pytest.mark.parametrize(
    "model_id", ["fusion/nope", "fusion/panel/nope", "fusion/", "openai/gpt-5.5", "Fusion"]
)
def test_an_id_that_names_no_panel_resolves_to_none(alice, alices_panel, model_id):
    assert resolve_fusion_model(alice, model_id) is None


# --- GET /v1/models ----------------------------------------------------------------------------


def test_the_listing_has_the_fusion_models_first_then_the_plain_catalog(alice, alices_panel, simulator):
    _, secret = ApiToken.objects.issue(alice, "laptop")
    response = get(secret, "/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    ids = [model["id"] for model in body["data"]]
    assert ids[:4] == ["fusion", "fusion/quality", "fusion/budget", "fusion/panel/code-review"]
    assert "openai/gpt-5.5" in ids[4:] and "moonshotai/kimi-k2.6" in ids[4:]
    assert all(model["object"] == "model" and isinstance(model["created"], int) for model in body["data"])


def test_a_fusion_model_lists_its_panel_judge_and_writer(alice, alices_panel, simulator):
    _, secret = ApiToken.objects.issue(alice, "laptop")
    models = {model["id"]: model for model in get(secret, "/v1/models").json()["data"]}
    assert models["fusion/panel/code-review"]["fusion"] == {
        "name": "Code Review",
        "panel": ["openai/gpt-5.5", "moonshotai/kimi-k2.6"],
        "judge": "openai/gpt-5.5",
        "writer": "openai/gpt-5.5",
        "web_search": False,
        "max_tool_calls": alices_panel.max_tool_calls,
    }
    assert "fusion" not in models["openai/gpt-5.5"]


def test_the_listing_holds_only_what_the_token_may_use(alice, alices_panel, simulator):
    _, secret = ApiToken.objects.issue(alice, "narrow", allowed_models=["fusion/budget", "openai/gpt-5.5"])
    ids = [model["id"] for model in get(secret, "/v1/models").json()["data"]]
    assert ids == ["fusion/budget", "openai/gpt-5.5"]


def test_another_users_panels_are_not_listed(alice, bob, alices_panel, simulator):
    _, secret = ApiToken.objects.issue(bob, "bobs")
    ids = [model["id"] for model in get(secret, "/v1/models").json()["data"]]
    assert "fusion/quality" in ids and not any(model_id.startswith("fusion/panel/") for model_id in ids)


# --- GET /v1/models/{id} -----------------------------------------------------------------------


def test_a_fusion_model_with_slashes_is_retrieved(alice, alices_panel, simulator):
    _, secret = ApiToken.objects.issue(alice, "laptop")
    model = get(secret, "/v1/models/fusion/panel/code-review").json()
    assert model["id"] == "fusion/panel/code-review" and model["fusion"]["name"] == "Code Review"


def test_a_plain_catalog_model_is_retrieved(alice, presets, simulator):
    _, secret = ApiToken.objects.issue(alice, "laptop")
    model = get(secret, "/v1/models/openai/gpt-5.5").json()
    assert model == {"id": "openai/gpt-5.5", "object": "model", "created": 0, "owned_by": "openai"}


@pytest.mark.parametrize("model_id", ["fusion/panel/nope", "nobody/model", "fusion/quality"])
def test_an_unknown_or_disallowed_model_is_404_in_openais_shape(alice, presets, simulator, model_id):
    _, secret = ApiToken.objects.issue(alice, "budget only", allowed_models=["fusion/budget"])
    response = get(secret, f"/v1/models/{model_id}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (
        error["code"] == "model_not_found"
        and error["type"] == "not_found_error"
        and error["param"] == "model"
    )


def test_a_token_for_fusion_may_retrieve_openrouter_fusion(alice, presets, simulator):
    _, secret = ApiToken.objects.issue(alice, "fusion only", allowed_models=["fusion"])
    model = get(secret, "/v1/models/openrouter/fusion").json()
    assert model["id"] == "openrouter/fusion" and model["fusion"]["name"] == "Quality"


def test_a_token_for_openrouter_fusion_may_use_and_list_fusion(alice, presets, simulator):
    _, secret = ApiToken.objects.issue(alice, "openrouter code", allowed_models=["openrouter/fusion"])
    assert [model["id"] for model in get(secret, "/v1/models").json()["data"]] == ["fusion"]
    assert get(secret, "/v1/models/fusion").status_code == 200


def test_an_alias_opens_nothing_but_its_own_model(alice, presets, simulator):
    _, secret = ApiToken.objects.issue(alice, "fusion only", allowed_models=["fusion"])
    assert get(secret, "/v1/models/fusion/budget").status_code == 404


# --- what every /v1 route shares ---------------------------------------------------------------


def test_a_session_cookie_is_not_accepted(as_alice, presets):
    response = as_alice.get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_a_revoked_token_is_refused(alice, presets):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    token.revoke()
    assert get(secret, "/v1/models").status_code == 401


def test_another_method_is_405_in_openais_shape(alice, presets):
    _, secret = ApiToken.objects.issue(alice, "laptop")
    response = Client(enforce_csrf_checks=True).post("/v1/models", **bearer(secret))
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_with_the_api_turned_off_the_models_are_404(alice, presets, settings):
    settings.FUSIONROOM_API = False
    _, secret = ApiToken.objects.issue(alice, "laptop")
    assert get(secret, "/v1/models").json()["error"]["code"] == "api_disabled"


# --- the official SDK --------------------------------------------------------------------------


@pytest.fixture
def sdk(alice) -> Iterator[openai.OpenAI]:
    """The official openai client, talking to this Django app in-process (WSGI over httpx)."""
    _, secret = ApiToken.objects.issue(alice, "sdk")
    transport = httpx.WSGITransport(app=get_wsgi_application())
    # As Django's test client does: the request must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with httpx.Client(transport=transport) as http:
            yield openai.OpenAI(
                base_url="http://testserver/v1", api_key=secret, http_client=http, max_retries=0
            )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_the_openai_sdk_lists_and_retrieves_models(sdk, alices_panel, simulator):
    ids = [model.id for model in sdk.models.list()]
    assert ids[:4] == ["fusion", "fusion/quality", "fusion/budget", "fusion/panel/code-review"]
    budget = sdk.models.retrieve("fusion/budget")
    assert (
        budget.owned_by == "fusionroom"
        and budget.model_extra["fusion"]["judge"] == "google/gemini-3-flash-preview"
    )


def test_the_openai_sdk_raises_not_found_for_an_unknown_model(sdk, presets, simulator):
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("fusion/panel/nope")
