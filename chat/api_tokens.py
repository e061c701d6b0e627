"""A user's API tokens as Settings and `manage.py api_token list` show them, with what each spent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Sum
from django.http import HttpRequest
from django.urls import reverse

from chat.forms import ApiTokenForm
from chat.models import ApiCall, ApiToken, Run


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    # What the token's runs and calls cost, as the providers reported it.
    spent: Decimal

    @property
    def is_active(self) -> bool:
        return self.token.status == "active"


def token_rows(user: User) -> list[TokenRow]:
    """The user's tokens, newest first, revoked and expired ones too, with what their runs and
    passed-through calls cost; three queries."""
    spent: dict[int, Decimal] = {}
    runs = Run.objects.filter(api_token__user=user).values_list("api_token").annotate(total=Sum("cost"))
    calls = ApiCall.objects.filter(token__user=user).values_list("token").annotate(total=Sum("cost"))
    for pk, total in [*runs.order_by(), *calls.order_by()]:
        spent[pk] = spent.get(pk, Decimal(0)) + Decimal(str(total or 0))
    return [TokenRow(token, spent.get(token.pk, Decimal(0))) for token in ApiToken.objects.filter(user=user)]


# The Settings page has other forms with a `name` field: the token form's ids stay apart.
FORM_PREFIX = "token"


@dataclass(frozen=True)
class TokenSection:
    """Settings → API tokens: the list, the form, and a token just made (its secret shown once)."""

    rows: list[TokenRow]
    form: ApiTokenForm
    base_url: str
    api_enabled: bool
    created: ApiToken | None = None
    secret: str = ""


def token_section(
    request: HttpRequest,
    user: User,
    *,
    form: ApiTokenForm | None = None,
    created: ApiToken | None = None,
    secret: str = "",
) -> TokenSection:
    return TokenSection(
        rows=token_rows(user),
        form=form or ApiTokenForm(user=user, prefix=FORM_PREFIX),
        # What OpenAI clients call base_url: /v1, where /v1/models and /v1/chat/completions live.
        base_url=request.build_absolute_uri(reverse("api_models")).removesuffix("/models"),
        api_enabled=settings.FUSIONROOM_API,
        created=created,
        secret=secret,
    )
