"""Settings → API tokens: make one (its secret shown once), see the list, revoke."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chat.models import ApiToken

pytestmark = pytest.mark.django_db

CREATE = "/settings/api-tokens/new/"


def text(response) -> str:
    return response.content.decode()


def create(client, name="laptop", **fields):
    data = {"token-name": name, **{f"token-{field}": value for field, value in fields.items()}}
    return client.post(CREATE, data)


def shown_secret(response) -> str:
    found = re.search(r'id="new-api-token"[^>]*value="(fr-[^"]+)"', text(response))
    assert found, "no secret shown"
    return found.group(1)


def test_the_settings_page_has_an_api_tokens_section_with_the_base_url(as_alice):
    page = text(as_alice.get("/settings/"))
    assert 'id="api-tokens"' in page and "You have no API tokens." in page
    assert "http://testserver/v1" in page


def test_a_new_token_is_shown_once_and_works(as_alice, alice):
    response = create(as_alice)
    assert response.status_code == 200
    secret = shown_secret(response)
    assert ApiToken.objects.find(secret).user == alice
    assert secret not in text(as_alice.get("/settings/"))


def test_the_page_with_the_secret_is_never_cached(as_alice):
    response = create(as_alice)
    assert "no-store" in response["Cache-Control"]


def test_expiry_allowed_models_and_budget_are_kept(as_alice, alice):
    create(as_alice, expires_days="30", allowed_models="fusion, fusion/budget", budget_usd="3.50")
    token = ApiToken.objects.get(user=alice)
    assert token.allowed_models == ["fusion", "fusion/budget"] and token.budget_usd == Decimal("3.50")
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_a_bad_form_says_why_and_makes_no_token(as_alice):
    response = create(as_alice, name="", budget_usd="-1")
    assert response.status_code == 422
    assert "Give the token a name" in text(response) and 'id="new-api-token"' not in text(response)
    assert not ApiToken.objects.exists()


def test_htmx_gets_the_section_alone(as_alice):
    response = as_alice.post(CREATE, {"token-name": "ci"}, headers={"HX-Request": "true"})
    assert text(response).lstrip().startswith('<section class="settings-section api-tokens" id="api-tokens"')
    assert "<html" not in text(response)
    shown_secret(response)


def test_the_list_shows_name_prefix_status_and_use_never_a_secret(as_alice, alice):
    token, secret = ApiToken.objects.issue(alice, "ci", allowed_models=["fusion/budget"])
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    old, _ = ApiToken.objects.issue(alice, "old laptop")
    old.revoke()
    page = text(as_alice.get("/settings/"))
    assert secret not in page
    card = page[page.index(f'id="api-token-{token.pk}"') :]
    card = card[: card.index("</li>")]
    assert "ci" in card and token.prefix in card and "Active" in card and "fusion/budget" in card
    assert "Last used</dt><dd>never" not in card
    assert "Revoked" in page and f"/settings/api-tokens/{old.pk}/revoke/" not in page


def test_revoking_stops_the_token(as_alice, alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    response = as_alice.post(f"/settings/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert ApiToken.objects.find(secret) is None


def test_nobody_revokes_another_users_token(as_bob, alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    assert as_bob.post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.find(secret) is not None


def test_another_users_tokens_are_not_listed(as_bob, alice):
    ApiToken.objects.issue(alice, "alices-laptop")
    assert "alices-laptop" not in text(as_bob.get("/settings/"))


def test_the_page_says_when_the_api_is_turned_off(as_alice, settings):
    settings.FUSIONROOM_API = False
    assert 'id="api-off"' in text(as_alice.get("/settings/"))


def test_signed_out_nobody_makes_a_token(client):
    response = client.post(CREATE, {"token-name": "x"})
    assert response.status_code == 302 and not ApiToken.objects.exists()
