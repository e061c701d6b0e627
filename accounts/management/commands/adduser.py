"""`manage.py adduser NAME`: staff create an account; the password asked for, or from a file or stdin."""

from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create an account (for FUSIONROOM_SIGNUP=closed). The password is asked for twice, or "
        "read from --password-file (its first line; '-' reads stdin), never from the command line."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password-file", help="a file whose first line is the password; - for stdin")
        parser.add_argument("--staff", action="store_true", help="may use the admin")

    def handle(
        self, *args: Any, username: str, password_file: str | None, staff: bool, **options: Any
    ) -> None:
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        user = User(username=username, is_staff=staff)
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        password = self._password(password_file)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        user.set_password(password)
        user.save()
        self.stdout.write(f"Created {username}{' (staff)' if staff else ''}.")

    def _password(self, password_file: str | None) -> str:
        if password_file == "-":
            return sys.stdin.readline().rstrip("\r\n")
        if password_file:
            try:
                lines = Path(password_file).read_text().splitlines()
            except OSError as error:
                raise CommandError(f"Cannot read {password_file}: {error.strerror}") from None
            return lines[0] if lines else ""
        if not sys.stdin.isatty():
            raise CommandError("No terminal to ask for the password on: use --password-file (- for stdin).")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
