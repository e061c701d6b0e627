"""The start gate: what a user may start now (concurrent runs, runs a minute, thread size, budget).

Every path that starts a run passes it, in the transaction that creates the run (chat.runs.lifecycle).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Sum
from django.utils import timezone

from chat.endpoints.catalog import Catalog, estimate_run, load_catalog
from chat.endpoints.resolve import endpoints_for
from chat.models import Run, SpendBudget
from chat.providers.types import Endpoint


class LimitReached(Exception):
    """A run may not start; `message` says why and what to do, in the user's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def period_start(period: str) -> datetime:
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if period == SpendBudget.Period.DAY else midnight.replace(day=1)


def spent_since(user: User, since: datetime) -> Decimal:
    """What the user's runs since then cost, as saved from the providers' own usage reports."""
    total = Run.objects.of_owner(user).filter(started_at__gte=since).aggregate(total=Sum("cost"))["total"]
    return Decimal(str(total or 0))


def check_can_start(user: User, *, thread_chars: int, estimate: float | None) -> None:
    """Raise LimitReached when the user may not start another run now. Call it in a transaction.

    The budget row is locked for the rest of the transaction, so two runs started at the same
    moment cannot both squeeze under the limit.
    """
    running = Run.objects.of_owner(user).active().count()
    if running >= settings.FUSIONROOM_MAX_CONCURRENT_RUNS:
        raise LimitReached(
            f"You already have {running} runs going, the most at once: wait for one to finish, or stop one."
        )
    recent = Run.objects.of_owner(user).filter(started_at__gte=timezone.now() - timedelta(minutes=1)).count()
    if recent >= settings.FUSIONROOM_MAX_RUNS_PER_MINUTE:
        raise LimitReached(
            f"You started {recent} runs in the last minute, the most allowed: try again in a minute."
        )
    if thread_chars > settings.FUSIONROOM_MAX_THREAD_CHARS:
        raise LimitReached(
            f"This conversation is too long to send ({thread_chars:,} characters, the limit is "
            f"{settings.FUSIONROOM_MAX_THREAD_CHARS:,}): start a new chat, or fork it."
        )
    budget = SpendBudget.objects.select_for_update().filter(user=user).first()
    if budget is None:
        return
    spent = spent_since(user, period_start(budget.period))
    remaining = budget.limit_usd - spent
    expected = Decimal(str(estimate)) if estimate is not None else Decimal(0)
    if remaining <= 0 or expected > remaining:
        raise LimitReached(
            f"This run would go over your {budget.period}ly budget of ${budget.limit_usd}: "
            f"${max(remaining, Decimal(0)):.4f} is left and the run is estimated at ${expected:.4f}."
        )


def _budgeted_endpoints(user: User | AnonymousUser) -> list[Endpoint] | None:
    """The user's endpoints when a spend budget is set (its check needs the catalog), else None."""
    if not user.is_authenticated or not SpendBudget.objects.filter(user=user).exists():
        return None
    return endpoints_for(user)


async def budget_catalog(user: User | AnonymousUser) -> Catalog | None:
    """The catalog a spend budget's estimate is made from; None (and no fetch) without a budget."""
    found = await sync_to_async(_budgeted_endpoints)(user)
    return None if found is None else await load_catalog(found)


def estimate(seats: list[str], judge: str, writer: str, catalog: Catalog | None) -> float | None:
    """What asking these seats, the judge and the writer is expected to cost; None without a catalog."""
    if catalog is None:
        return None
    return estimate_run(seats, judge, writer, catalog).cost
