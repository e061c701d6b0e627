"""The start gate: what a user may start now (concurrent runs, runs a minute, thread size, budget).

Every path that starts a run passes it, in the transaction that creates the run (chat.runs.lifecycle),
with the user's starts held one at a time (hold_starts): starts sent at once cannot all fit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Case, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from chat.endpoints.catalog import TYPICAL_PROMPT_TOKENS, Catalog, estimate_run, load_catalog
from chat.endpoints.resolve import endpoints_for
from chat.fusion.context import estimate_tokens
from chat.models import ApiCall, ApiToken, Run, SpendBudget
from chat.providers.types import Endpoint


class LimitReached(Exception):
    """A run may not start; `message` says why and what to do, in the user's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RunLimitReached(LimitReached):
    """Too many runs going, or started in the last minute: 429 over the API, worth a retry."""

    status = 429
    code = "rate_limited"


class ThreadTooLong(LimitReached):
    """The thread is past FUSIONROOM_MAX_THREAD_CHARS: 400 over the API, no retry will pass."""

    status = 400
    code = "context_length_exceeded"


class BudgetExceeded(LimitReached):
    """The user's spend budget (Settings) would be overspent: 402 over the API."""

    status = 402
    code = "budget_exceeded"


class TokenBudgetExceeded(LimitReached):
    """The API token's own budget (ApiToken.budget_usd) would be overspent: 402 over the API."""

    status = 402
    code = "budget_exceeded"


PERIOD_ADJECTIVES: dict[str, str] = {SpendBudget.Period.DAY: "daily", SpendBudget.Period.MONTH: "monthly"}


def period_start(period: str) -> datetime:
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if period == SpendBudget.Period.DAY else midnight.replace(day=1)


def spent_since(user: User, since: datetime) -> Decimal:
    """What the user's runs and passed-through API calls since then cost, as saved from the
    providers' own usage reports."""
    runs = Run.objects.of_owner(user).filter(started_at__gte=since).aggregate(total=Sum("cost"))["total"]
    calls = ApiCall.objects.filter(user=user, started_at__gte=since).aggregate(total=Sum("cost"))["total"]
    return Decimal(str(runs or 0)) + Decimal(str(calls or 0))


def committed(rows: QuerySet[Run] | QuerySet[ApiCall]) -> Decimal:
    """What these runs (or API calls passed through) cost or may yet cost: saved costs, and for
    each one still going at least its start's estimate (its cost is saved only when it ends)."""
    saved = Coalesce("cost", Value(0.0))
    reserved = Greatest(saved, Coalesce("estimated_cost", Value(0.0)))
    spend = Case(When(status=Run.Status.RUNNING, then=reserved), default=saved)
    total = rows.aggregate(total=Sum(spend))["total"]
    return Decimal(str(total or 0))


def committed_since(user: User, since: datetime) -> Decimal:
    """What the user's runs and passed-through API calls since then cost or may yet cost."""
    runs = committed(Run.objects.of_owner(user).filter(started_at__gte=since))
    return runs + committed(ApiCall.objects.filter(user=user, started_at__gte=since))


def committed_by_token(token: ApiToken) -> Decimal:
    """What the token's runs and calls cost or may yet cost: its budget holds for its whole life."""
    return committed(Run.objects.filter(api_token=token)) + committed(ApiCall.objects.filter(token=token))


def hold_starts(user: User) -> None:
    """Lock the user's row until the transaction ends: that user's starts pass the gate one at
    a time, everyone else's are not held up. Call it first in the transaction that starts a run.

    PostgreSQL takes FOR NO KEY UPDATE (rows that only refer to the user are not blocked). On
    SQLite the lock is a no-op, and the database's own write lock does the same: every
    transaction begins IMMEDIATE (fusionroom/settings.py), so a second start waits at BEGIN.
    """
    list(User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True))


def check_can_start(
    user: User,
    *,
    thread_chars: int,
    estimate: float | None,
    token: ApiToken | None = None,
    starts_held: bool = False,
) -> None:
    """Raise LimitReached when the user may not start another run now, TokenBudgetExceeded when
    the run, started over the API with `token`, would overspend the token's own budget (the
    user's limits and budget apply to API runs all the same). Call it in the transaction that
    creates the run: it holds the user's starts (hold_starts) until that transaction ends, so
    starts at the same moment are counted one after another. `starts_held`: the caller's
    transaction holds them already (open_run, which holds them before its own checks).
    """
    if not starts_held:
        hold_starts(user)
    running = Run.objects.of_owner(user).active().count()
    if running >= settings.FUSIONROOM_MAX_CONCURRENT_RUNS:
        raise RunLimitReached(
            f"You already have {running} runs going, the most at once: wait for one to finish, or stop one."
        )
    recent = Run.objects.of_owner(user).filter(started_at__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent >= settings.FUSIONROOM_MAX_RUNS_PER_MINUTE:
        raise RunLimitReached(
            f"You started {recent} runs in the last minute, the most allowed: try again in a minute."
        )
    if thread_chars > settings.FUSIONROOM_MAX_THREAD_CHARS:
        raise ThreadTooLong(
            f"This conversation is too long to send ({thread_chars:,} characters, the limit is "
            f"{settings.FUSIONROOM_MAX_THREAD_CHARS:,}): start a new chat, or fork it."
        )
    _check_budgets(user, Decimal(str(estimate)) if estimate is not None else Decimal(0), token, "run")


def _check_budgets(user: User, expected: Decimal, token: ApiToken | None, what: str) -> None:
    """Raise BudgetExceeded or TokenBudgetExceeded when `expected` more would overspend the user's
    budget or the token's; `what` ("run", "call") names what is refused."""
    budget = SpendBudget.objects.filter(user=user).first()
    if budget is not None:
        remaining = budget.limit_usd - committed_since(user, period_start(budget.period))
        if remaining <= 0 or expected > remaining:
            raise BudgetExceeded(
                f"This {what} would go over your {PERIOD_ADJECTIVES[budget.period]} budget of "
                f"${budget.limit_usd}: ${max(remaining, Decimal(0)):.4f} is left and the {what} is "
                f"estimated at ${expected:.4f}."
            )
    if token is not None and token.budget_usd is not None:
        # The token's budget has no period: it holds for the token's whole life.
        remaining = token.budget_usd - committed_by_token(token)
        if remaining <= 0 or expected > remaining:
            raise TokenBudgetExceeded(
                f"This {what} would go over the budget of the API token {token.name!r} "
                f"(${token.budget_usd}): ${max(remaining, Decimal(0)):.4f} is left and the {what} is "
                f"estimated at ${expected:.4f}."
            )


def open_passthrough(user: User, token: ApiToken | None, model: str, estimate: float | None) -> ApiCall:
    """The gate of a plain model's completion passed through the API, and its row, which reserves
    `estimate` until the call settles. Its own limits (a call is not a run, and programs make many
    small ones), the same budgets; raises RunLimitReached, BudgetExceeded or TokenBudgetExceeded.
    """
    with transaction.atomic():
        hold_starts(user)
        check_call(user, token, estimate)
        return ApiCall.objects.create(user=user, token=token, model=model, estimated_cost=estimate)


def check_call(user: User, token: ApiToken | None, estimate: float | None) -> None:
    """Raise what `open_passthrough` would for a call estimated at `estimate`, reserving nothing.
    With no estimate (0), it refuses only a caller at a limit or with nothing left to spend: the
    API checks that much before its call's estimate is known (see chat.views.api.passthrough)."""
    calls = ApiCall.objects.filter(user=user)
    going = calls.filter(status=ApiCall.Status.RUNNING).count()
    if going >= settings.FUSIONROOM_MAX_CONCURRENT_CALLS:
        raise RunLimitReached(
            f"You already have {going} model calls going through the API, the most at once: "
            "wait for one to finish."
        )
    recent = calls.filter(started_at__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent >= settings.FUSIONROOM_MAX_CALLS_PER_MINUTE:
        raise RunLimitReached(
            f"You made {recent} model calls through the API in the last minute, the most allowed: "
            "try again in a minute."
        )
    _check_budgets(user, Decimal(str(estimate)) if estimate is not None else Decimal(0), token, "call")


def open_grading(user: User, model: str, estimate: float | None) -> ApiCall:
    """The gate of an evaluation's grader call (chat.evaluation): not a run, but the same keys, so
    the same budgets, and a row (an ApiCall without a token) that reserves `estimate` until the
    call settles. The evaluation's own concurrency bounds these calls; raises BudgetExceeded."""
    if not SpendBudget.objects.filter(user=user).exists():
        # No budget to check, so no starts to hold back while it is checked: one INSERT (a
        # grade a few milliseconds of CPU, which this transaction's lock and reads were a third of).
        return ApiCall.objects.create(user=user, model=model, estimated_cost=estimate)
    with transaction.atomic():
        hold_starts(user)
        _check_budgets(
            user, Decimal(str(estimate)) if estimate is not None else Decimal(0), None, "grader call"
        )
        return ApiCall.objects.create(user=user, model=model, estimated_cost=estimate)


def _budgeted_endpoints(user: User | AnonymousUser, token: ApiToken | None) -> list[Endpoint] | None:
    """The user's endpoints when a spend budget is set, the user's or the token's (its check needs
    the catalog), else None."""
    if not user.is_authenticated:
        return None
    token_budgeted = token is not None and token.budget_usd is not None
    if not token_budgeted and not SpendBudget.objects.filter(user=user).exists():
        return None
    return endpoints_for(user)


async def budget_catalog(user: User | AnonymousUser, token: ApiToken | None = None) -> Catalog | None:
    """The catalog a spend budget's estimate is made from (the user's budget, or the API token's);
    None (and no fetch) without a budget."""
    found = await sync_to_async(_budgeted_endpoints)(user, token)
    return None if found is None else await load_catalog(found)


def prompt_tokens(thread: list[dict[str, str]], prompt: str) -> int:
    """The tokens a seat is sent for `prompt` after `thread`, for estimates: a typical question's
    at least (the estimate beside Send and the gate's are the same one)."""
    return max(TYPICAL_PROMPT_TOKENS, estimate_tokens([*thread, {"role": "user", "content": prompt}]))


def estimate(
    seats: list[str],
    judge: str,
    writer: str,
    catalog: Catalog | None,
    *,
    prompt_tokens: int = TYPICAL_PROMPT_TOKENS,
    auto_fuse: bool = False,
    compare_only: bool = False,
) -> float | None:
    """What asking these seats, the judge and the writer is expected to cost (an Auto-fuse run's
    writer twice, a compare-only run's neither: estimate_run); None without a catalog."""
    if catalog is None:
        return None
    return estimate_run(
        seats,
        judge,
        writer,
        catalog,
        prompt_tokens=prompt_tokens,
        auto_fuse=auto_fuse,
        compare_only=compare_only,
    ).cost
