"""An API token's own budget, enforced in the one start gate (chat/runs/gate.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from chat.models import ApiToken, Run, SpendBudget
from chat.runs.gate import LimitReached, TokenBudgetExceeded, budget_catalog, check_can_start

pytestmark = pytest.mark.django_db


def spent(run: Run, token: ApiToken, cost: float, *, status: Run.Status = Run.Status.DONE) -> None:
    Run.objects.filter(pk=run.pk).update(api_token=token, status=status, cost=cost)


def test_a_run_that_would_go_over_the_tokens_budget_is_refused_and_says_what_is_left(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "laptop", budget_usd=Decimal("1.00"))
    spent(make_run(alice), token, 0.75)
    check_can_start(alice, thread_chars=10, estimate=0.20, token=token)
    with pytest.raises(TokenBudgetExceeded, match=r"'laptop'.*\$0\.2500 is left.*estimated at \$0\.3000"):
        check_can_start(alice, thread_chars=10, estimate=0.30, token=token)


def test_a_spent_budget_refuses_even_a_run_of_unknown_cost(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "laptop", budget_usd=Decimal("0.50"))
    spent(make_run(alice), token, 0.50)
    with pytest.raises(TokenBudgetExceeded) as refused:
        check_can_start(alice, thread_chars=10, estimate=None, token=token)
    assert (refused.value.status, refused.value.code) == (402, "budget_exceeded")


def test_a_running_run_reserves_its_estimate_against_the_tokens_budget(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "laptop", budget_usd=Decimal("1.00"))
    running = make_run(alice)
    Run.objects.filter(pk=running.pk).update(api_token=token, estimated_cost=0.90)
    with pytest.raises(TokenBudgetExceeded):
        check_can_start(alice, thread_chars=10, estimate=0.20, token=token)


def test_only_the_tokens_own_runs_count_against_its_budget(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "laptop", budget_usd=Decimal("1.00"))
    other, _ = ApiToken.objects.issue(alice, "ci")
    spent(make_run(alice), other, 5.0)
    Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE, cost=5.0)  # in the chatroom
    check_can_start(alice, thread_chars=10, estimate=0.90, token=token)


def test_a_token_without_a_budget_is_not_limited_by_one(alice, make_run):
    token, _ = ApiToken.objects.issue(alice, "laptop")
    spent(make_run(alice), token, 500.0)
    check_can_start(alice, thread_chars=10, estimate=1.0, token=token)


def test_the_users_own_budget_still_applies_to_a_tokens_runs(alice, make_run):
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("1.00"))
    token, _ = ApiToken.objects.issue(alice, "laptop", budget_usd=Decimal("100.00"))
    Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE, cost=0.95)
    with pytest.raises(LimitReached) as refused:
        check_can_start(alice, thread_chars=10, estimate=0.10, token=token)
    assert not isinstance(refused.value, TokenBudgetExceeded) and "daily budget" in refused.value.message


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_tokens_budget_alone_makes_the_gate_read_the_catalog_for_its_estimate(alice, settings):
    settings.FUSIONROOM_DEMO = True
    budgeted, _ = await sync_to_async(ApiToken.objects.issue)(alice, "laptop", budget_usd=Decimal("1.00"))
    unbudgeted, _ = await sync_to_async(ApiToken.objects.issue)(alice, "ci")
    assert await budget_catalog(alice, unbudgeted) is None
    # The conftest points demo mode at a port where nothing listens: a catalog, with that endpoint down.
    catalog = await budget_catalog(alice, budgeted)
    assert catalog is not None and catalog.down
