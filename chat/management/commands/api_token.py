"""`manage.py api_token create|list|revoke`: a user's API tokens from the terminal.

`create` prints the token alone on its last line, so a script can take it with `| tail -n 1`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from chat.api_tokens import token_rows
from chat.forms import ApiTokenForm
from chat.models import ApiToken, api_token_digest


class Command(BaseCommand):
    help = "Create, list or revoke a user's API tokens (the /v1 API)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token; it is printed once, on the last line")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="where the token is used, e.g. laptop")
        create.add_argument("--expires-days", type=int, default=None, help="days until it expires")
        create.add_argument(
            "--models", default="", help="the only models it may call, e.g. fusion,fusion/budget"
        )
        create.add_argument("--budget", default="", help="what its runs may cost in all, in USD")
        listing = actions.add_parser("list", help="the user's tokens, newest first")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="revoke a token by its name or its prefix")
        revoke.add_argument("username")
        revoke.add_argument("name_or_prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is called {options['username']!r}.")
        match options["action"]:
            case "create":
                self._create(user, options)
            case "list":
                self._list(user)
            case "revoke":
                self._revoke(user, options["name_or_prefix"])

    def _create(self, user: User, options: dict[str, Any]) -> None:
        form = ApiTokenForm(
            {
                "name": options["name"],
                "expires_days": "" if options["expires_days"] is None else options["expires_days"],
                "allowed_models": options["models"],
                "budget_usd": options["budget"],
            },
            user=user,
        )
        if not form.is_valid():
            flags = {"expires_days": "--expires-days", "allowed_models": "--models", "budget_usd": "--budget"}
            problems = [
                f"{flags.get(field, '--' + field)}: {' '.join(str(error) for error in errors)}"
                for field, errors in form.errors.items()
            ]
            raise CommandError("\n".join(problems))
        token, secret = form.issue()
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        self.stdout.write(f"API token {token.name!r} for {user.username} ({token.prefix}…), {expiry}.")
        self.stdout.write("It is shown only this once; FusionRoom keeps only a digest of it.")
        self.stdout.write(secret)

    def _list(self, user: User) -> None:
        rows = token_rows(user)
        if not rows:
            self.stdout.write(f"{user.username} has no API tokens.")
            return
        for row in rows:
            token = row.token
            budget = f"${row.spent:.4f} of ${token.budget_usd}" if token.budget_usd else f"${row.spent:.4f}"
            self.stdout.write(
                "  ".join(
                    [
                        token.prefix + "…",
                        token.status.ljust(7),
                        repr(token.name),
                        f"created {_when(token.created_at)}",
                        f"last used {_when(token.last_used_at)}",
                        f"expires {_when(token.expires_at)}",
                        "models: " + (",".join(token.allowed_models) or "all"),
                        budget,
                    ]
                )
            )

    def _revoke(self, user: User, name_or_prefix: str) -> None:
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        found = list(active.filter(name=name_or_prefix)) or [
            token
            for token in active
            if name_or_prefix in (token.prefix, token.prefix + "…")
            or api_token_digest(name_or_prefix) == token.digest
        ]
        if not found:
            raise CommandError(f"{user.username} has no active token named or starting {name_or_prefix!r}.")
        if len(found) > 1:
            prefixes = ", ".join(token.prefix for token in found)
            raise CommandError(f"{len(found)} tokens match ({prefixes}): give the prefix of one.")
        token = found[0]
        token.revoke()
        self.stdout.write(f"Revoked {token.name!r} ({token.prefix}…): it no longer opens the API.")


def _when(moment: Any) -> str:
    return "never" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"
