"""Re-encrypt every stored provider key with the first of FUSIONROOM_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat.endpoints import crypto
from chat.models import ProviderEndpoint, UserProviderKey


def _rotate[Row: (ProviderEndpoint, UserProviderKey)](model: type[Row], unreadable: list[str]) -> int:
    """Re-encrypt the model's stored keys (locked, inside the caller's transaction) and count them;
    each one no configured key decrypts is named in `unreadable` and left as it was."""
    rows = list(model.objects.exclude(encrypted_api_key="").select_for_update())
    for row in rows:
        try:
            row.encrypted_api_key = crypto.rotate(row.encrypted_api_key, endpoint=row.key_label)
        except crypto.KeyUnavailable:
            unreadable.append(f"{model.__name__} {row.pk} ({row})")
    model.objects.bulk_update(rows, ["encrypted_api_key"])
    return len(rows)


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored API key with the first key of FUSIONROOM_ENCRYPTION_KEYS. "
        "To rotate: put a new key first, keep the old ones after it, run this, then drop the old ones. "
        "All or nothing: if any stored key cannot be decrypted, nothing changes."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        unreadable: list[str] = []
        with transaction.atomic():
            rotated += _rotate(ProviderEndpoint, unreadable)
            rotated += _rotate(UserProviderKey, unreadable)
            if unreadable:
                # Raising inside the block rolls every row back.
                raise CommandError(
                    "Nothing was changed: no configured encryption key can decrypt "
                    f"{len(unreadable)} stored key(s): {', '.join(unreadable)}. Put the key that "
                    "encrypted them back in FUSIONROOM_ENCRYPTION_KEYS, or delete those keys and "
                    "have them entered again."
                )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} stored key(s) with the first key."))
