"""The start gate under attack: starts that collide cannot get past a limit, a budget or a busy turn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from chat.endpoints.catalog import Catalog, CatalogEntry
from chat.models import Panel, Run, SeatAnswer, SpendBudget
from chat.providers.types import ModelInfo
from chat.runs.gate import LimitReached, check_can_start
from chat.runs.lifecycle import BUSY_TURN, Ask, Opened, open_run
from tests.conftest import signed_in_client
from tests.fakes import JUDGE, SEATS, WRITER

ATTACKERS = 20

# Each attacker commits on a connection of its own, so these tests cannot run in one rolled-back transaction.
colliding = pytest.mark.django_db(transaction=True)


def collide(count: int, start: Callable[[int], Any]) -> list[Any]:
    """Call `start(0)` ... `start(count - 1)` in threads released at once by a barrier, each on
    a database connection of its own opened beforehand; returns what each returned or raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def attacker(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcomes[index] = start(index)
        except BaseException as error:  # the test reads it: a refusal, or what went wrong
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attacker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    # A refusal is an answer; anything else raised ("database is locked", a deadlock) is a bug.
    failures = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, LimitReached)]
    assert failures == []
    return outcomes


def failed_runs(make_run: Callable[..., Run], owner: User, count: int) -> list[Run]:
    """`count` runs of `owner`, one a conversation, each ended with one seat answered and two failed."""
    made = [make_run(owner) for _ in range(count)]
    SeatAnswer.objects.filter(run__in=made, index=0).update(status=SeatAnswer.Status.DONE, text="An answer.")
    SeatAnswer.objects.filter(run__in=made, index__gt=0).update(status=SeatAnswer.Status.FAILED)
    Run.objects.filter(pk__in=[run.pk for run in made]).update(status=Run.Status.DEGRADED)
    return made


def priced_catalog(price_per_token: float) -> Catalog:
    """Every model of the test panel at one price a token, prompt and completion alike."""
    return Catalog(
        [
            CatalogEntry(
                ref,
                ModelInfo(
                    id=ref,
                    name=ref,
                    endpoint="openrouter",
                    prompt_price=price_per_token,
                    completion_price=price_per_token,
                ),
            )
            for ref in (*SEATS, JUDGE, WRITER)
        ]
    )


@pytest.fixture
def started(run_services: Callable[..., None]) -> list[int]:
    """The runs handed on to execute: recorded, not executed."""
    recorded: list[int] = []
    run_services(dispatch=lambda run_id, *args: recorded.append(run_id))
    return recorded


@colliding
def test_twenty_concurrent_retries_leave_at_most_the_concurrency_limit_running(
    alice: User, make_run: Callable[..., Run], started: list[int], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 3
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 1000
    earlier = failed_runs(make_run, alice, ATTACKERS)
    clients = [signed_in_client(alice) for _ in range(ATTACKERS)]

    responses = collide(ATTACKERS, lambda i: clients[i].post(f"/runs/{earlier[i].pk}/retry/"))

    assert Run.objects.filter(status=Run.Status.RUNNING).count() == 3
    accepted = [response for response in responses if response.status_code == 302]
    refused = [response for response in responses if response.status_code == 429]
    assert (len(accepted), len(refused)) == (3, ATTACKERS - 3)
    assert all("3 runs going, the most at once" in response.content.decode() for response in refused)
    assert len(started) == 3


@colliding
def test_concurrent_starts_cannot_spend_past_the_budget(
    alice: User, make_run: Callable[..., Run], started: list[int], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 1000
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 1000
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.10"))
    spent = make_run(alice)
    Run.objects.filter(pk=spent.pk).update(status=Run.Status.DONE, cost=0.05)
    panel = Panel.objects.create(owner=alice, name="Priced", seats=list(SEATS), judge=JUDGE, writer=WRITER)
    catalog = priced_catalog(1e-6)  # 13,500 typical tokens a run: $0.0135 each, so three fit

    outcomes = collide(
        ATTACKERS, lambda i: open_run(alice, Ask(None, f"Question {i}?", panel), catalog=catalog)
    )

    opened = [outcome for outcome in outcomes if isinstance(outcome, Opened)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, LimitReached)]
    assert (len(opened), len(refused)) == (3, ATTACKERS - 3)
    assert all("would go over your daily budget of $0.10" in refusal.message for refusal in refused)
    running = Run.objects.filter(status=Run.Status.RUNNING)
    reserved = sum(run.estimated_cost for run in running)
    assert reserved == pytest.approx(3 * 0.0135)
    assert 0.05 + reserved <= 0.10


@colliding
def test_two_concurrent_retries_of_one_turn_create_one_run(
    alice: User, make_run: Callable[..., Run], started: list[int]
) -> None:
    [earlier] = failed_runs(make_run, alice, 1)
    clients = [signed_in_client(alice) for _ in range(2)]

    responses = collide(2, lambda i: clients[i].post(f"/runs/{earlier.pk}/retry/"))

    assert sorted(response.status_code for response in responses) == [302, 409]
    [busy] = [response for response in responses if response.status_code == 409]
    assert busy.content.decode() == BUSY_TURN
    assert earlier.turn.runs.count() == 2 and len(started) == 1


@colliding
def test_one_users_attack_does_not_hold_up_another_users_start(
    alice: User, bob: User, make_run: Callable[..., Run], started: list[int], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 3
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 1000
    alices = failed_runs(make_run, alice, ATTACKERS)
    [bobs] = failed_runs(make_run, bob, 1)
    clients = [signed_in_client(alice) for _ in range(ATTACKERS)] + [signed_in_client(bob)]
    runs = [*alices, bobs]

    responses = collide(ATTACKERS + 1, lambda i: clients[i].post(f"/runs/{runs[i].pk}/retry/"))

    assert responses[-1].status_code == 302
    assert Run.objects.of_owner(bob).filter(status=Run.Status.RUNNING).count() == 1
    assert Run.objects.of_owner(alice).filter(status=Run.Status.RUNNING).count() == 3


# -- The budget counts what runs still going may cost, and says its period in words ---------


@pytest.mark.django_db
def test_a_run_still_going_counts_its_estimate_against_the_budget(
    alice: User, make_run: Callable[..., Run]
) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.10"))
    Run.objects.filter(pk=make_run(alice).pk).update(estimated_cost=0.09)  # running, nothing saved yet

    with pytest.raises(LimitReached, match=r"\$0\.0100 is left and the run is estimated at \$0\.0200"):
        check_can_start(alice, thread_chars=10, estimate=0.02)


@pytest.mark.django_db
def test_a_run_still_going_counts_what_it_saved_when_that_is_more_than_its_estimate(
    alice: User, make_run: Callable[..., Run]
) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.10"))
    Run.objects.filter(pk=make_run(alice).pk).update(estimated_cost=0.01, cost=0.09)

    with pytest.raises(LimitReached, match=r"\$0\.0100 is left"):
        check_can_start(alice, thread_chars=10, estimate=0.02)


@pytest.mark.django_db
def test_an_ended_run_counts_what_it_cost_not_its_estimate(alice: User, make_run: Callable[..., Run]) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.10"))
    Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE, estimated_cost=0.09, cost=0.01)

    check_can_start(alice, thread_chars=10, estimate=0.08)


@pytest.mark.django_db
def test_a_started_run_reserves_its_estimate(alice: User, make_run: Callable[..., Run]) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("1.00"))
    panel = Panel.objects.create(owner=alice, name="Priced", seats=list(SEATS), judge=JUDGE, writer=WRITER)

    opened = open_run(alice, Ask(None, "Why?", panel), catalog=priced_catalog(1e-6))

    assert Run.objects.get(pk=opened.run.pk).estimated_cost == pytest.approx(0.0135)


@pytest.mark.django_db
@pytest.mark.parametrize(("period", "words"), [("day", "daily budget"), ("month", "monthly budget")])
def test_the_budget_refusal_names_its_period(alice: User, period: str, words: str) -> None:
    SpendBudget.objects.create(user=alice, period=period, limit_usd=Decimal("0.10"))

    with pytest.raises(LimitReached, match=f"would go over your {words} of \\$0.10"):
        check_can_start(alice, thread_chars=10, estimate=0.50)
