"""API tokens: issued once, stored as a digest, found only while usable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import RequestFactory
from django.utils import timezone

from chat.models import ApiToken, api_token_digest
from chat.views.api.auth import authenticate
from chat.views.api.errors import ApiError

pytestmark = pytest.mark.django_db


def test_the_database_never_holds_the_token_in_clear(alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    row = ApiToken.objects.values().get(pk=token.pk)
    assert secret not in {str(value) for value in row.values()}
    assert row["digest"] == api_token_digest(secret)
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 3


def test_a_token_is_found_by_its_secret_only(alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    assert ApiToken.objects.find(secret) == token
    assert ApiToken.objects.find(secret + "x") is None
    assert ApiToken.objects.find(token.prefix) is None


def test_revoked_and_expired_tokens_are_not_found(alice):
    revoked, revoked_secret = ApiToken.objects.issue(alice, "old")
    revoked.revoke()
    _, expired_secret = ApiToken.objects.issue(
        alice, "temp", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert ApiToken.objects.find(revoked_secret) is None
    assert ApiToken.objects.find(expired_secret) is None


def test_allowed_models_limit_what_a_token_may_call(alice):
    open_token, _ = ApiToken.objects.issue(alice, "all")
    narrow, _ = ApiToken.objects.issue(alice, "one", allowed_models=["fusion/budget"])
    assert open_token.may_use("fusion/quality")
    assert narrow.may_use("fusion/budget") and not narrow.may_use("fusion/quality")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("header", ["", "Basic abc", "Bearer ", "Bearer fr-not-a-token", "Token fr-x"])
async def test_a_request_without_a_valid_bearer_token_is_refused_401(header):
    request = RequestFactory().post("/v1/chat/completions", HTTP_AUTHORIZATION=header)
    with pytest.raises(ApiError) as refused:
        await authenticate(request)
    assert refused.value.status == 401
    assert refused.value.body()["error"]["type"] == "authentication_error"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_valid_token_authenticates_its_user_and_marks_its_use(alice):
    token, secret = await sync_to_async(ApiToken.objects.issue)(alice, "laptop")
    request = RequestFactory().post("/v1/chat/completions", HTTP_AUTHORIZATION=f"Bearer {secret}")
    found = await authenticate(request)
    assert found.pk == token.pk and found.user == alice
    await token.arefresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_with_the_api_turned_off_even_a_valid_token_gets_404(alice, settings):
    settings.FUSIONROOM_API = False
    _, secret = await sync_to_async(ApiToken.objects.issue)(alice, "laptop")
    request = RequestFactory().post("/v1/chat/completions", HTTP_AUTHORIZATION=f"Bearer {secret}")
    with pytest.raises(ApiError) as refused:
        await authenticate(request)
    assert refused.value.status == 404 and refused.value.code == "api_disabled"
