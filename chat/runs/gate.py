"""What a user may start: concurrent runs, runs a minute, thread size and an optional spend budget."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from chat.models import Run, SpendBudget


class LimitReached(Exception):
    """A run may not start; `message` says why and what to do, in the user's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def period_start(period: str) -> Any:
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if period == SpendBudget.Period.DAY else midnight.replace(day=1)


def spent_since(user: Any, since: Any) -> Decimal:
    """What the user's runs since then cost, as saved from the providers' own usage reports."""
    total = Run.objects.of_owner(user).filter(started_at__gte=since).aggregate(total=Sum("cost"))["total"]
    return Decimal(str(total or 0))


def check_can_start(user: Any, *, thread_chars: int, estimate: float | None) -> None:
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
