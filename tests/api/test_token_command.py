"""`manage.py api_token create|list|revoke`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat.models import ApiToken, Run

pytestmark = pytest.mark.django_db


def api_token(*args: str) -> str:
    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_token_alone_on_its_last_line(alice):
    output = api_token("create", "alice", "--name", "laptop")
    secret = output.splitlines()[-1]
    assert ApiToken.objects.find(secret).name == "laptop"
    assert secret not in "\n".join(output.splitlines()[:-1])


def test_create_sets_expiry_allowed_models_and_budget(alice):
    secret = api_token(
        "create",
        "alice",
        "--name",
        "ci",
        "--expires-days",
        "7",
        "--models",
        "fusion,fusion/budget",
        "--budget",
        "2.50",
    ).splitlines()[-1]
    token = ApiToken.objects.find(secret)
    assert token.allowed_models == ["fusion", "fusion/budget"]
    assert token.budget_usd == Decimal("2.50")
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)


def test_create_refuses_a_bad_option_naming_the_flag(alice):
    with pytest.raises(CommandError, match="--expires-days"):
        api_token("create", "alice", "--name", "x", "--expires-days", "0")
    assert not ApiToken.objects.exists()


def test_create_refuses_a_second_active_token_of_the_same_name(alice):
    api_token("create", "alice", "--name", "laptop")
    with pytest.raises(CommandError, match="already have a token called 'laptop'"):
        api_token("create", "alice", "--name", "laptop")


def test_an_unknown_user_is_an_error():
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        api_token("list", "nobody")


def test_list_shows_name_prefix_and_status_never_the_secret(alice):
    secret = api_token("create", "alice", "--name", "laptop").splitlines()[-1]
    old, _ = ApiToken.objects.issue(alice, "old")
    old.revoke()
    listing = api_token("list", "alice")
    assert secret not in listing
    laptop, revoked = sorted(listing.splitlines(), key=lambda line: "revoked" in line)
    assert secret[:10] in laptop and "active" in laptop and "'laptop'" in laptop
    assert "revoked" in revoked and "'old'" in revoked


def test_revoke_by_name_stops_the_token(alice):
    secret = api_token("create", "alice", "--name", "laptop").splitlines()[-1]
    api_token("revoke", "alice", "laptop")
    assert ApiToken.objects.find(secret) is None


def test_revoke_by_prefix_stops_only_that_token(alice):
    first = api_token("create", "alice", "--name", "one").splitlines()[-1]
    second = api_token("create", "alice", "--name", "two").splitlines()[-1]
    api_token("revoke", "alice", first[:10])
    assert ApiToken.objects.find(first) is None and ApiToken.objects.find(second) is not None


def test_revoke_never_reaches_another_users_token(alice, bob):
    secret = api_token("create", "alice", "--name", "laptop").splitlines()[-1]
    with pytest.raises(CommandError, match="no active token"):
        api_token("revoke", "bob", "laptop")
    assert ApiToken.objects.find(secret) is not None


def test_list_shows_what_a_token_spent_of_its_budget(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "ci", budget_usd=Decimal("5.00"))
    Run.objects.filter(pk=make_run(alice).pk).update(api_token=token, cost=1.25)
    assert "$1.2500 of $5.00" in api_token("list", "alice")
