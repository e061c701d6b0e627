"""A user's API tokens as Settings and `manage.py api_token list` show them, with what each spent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Sum

from chat.models import ApiToken, Run


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    # What the token's runs cost, as the providers reported it.
    spent: Decimal

    @property
    def is_active(self) -> bool:
        return self.token.status == "active"


def token_rows(user: User) -> list[TokenRow]:
    """The user's tokens, newest first, revoked and expired ones too; two queries."""
    totals = (
        Run.objects.filter(api_token__user=user).values("api_token").annotate(total=Sum("cost")).order_by()
    )
    spent = {row["api_token"]: Decimal(str(row["total"] or 0)) for row in totals}
    return [TokenRow(token, spent.get(token.pk, Decimal(0))) for token in ApiToken.objects.filter(user=user)]
