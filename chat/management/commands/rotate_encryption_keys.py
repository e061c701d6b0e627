"""Re-encrypt every stored provider key with the first of FUSIONROOM_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat.endpoints import crypto
from chat.models import EncryptedKeyMixin, ProviderEndpoint, UserProviderKey


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
            for model in (ProviderEndpoint, UserProviderKey):
                rows: list[EncryptedKeyMixin] = list(
                    model.objects.exclude(encrypted_api_key="").select_for_update()  # type: ignore[attr-defined]
                )
                for row in rows:
                    try:
                        row.encrypted_api_key = crypto.rotate(row.encrypted_api_key, endpoint=row.key_label)
                    except crypto.KeyUnavailable:
                        unreadable.append(f"{model.__name__} {row.pk} ({row})")
                model.objects.bulk_update(rows, ["encrypted_api_key"])  # type: ignore[attr-defined]
                rotated += len(rows)
            if unreadable:
                # Raising inside the block rolls every row back.
                raise CommandError(
                    "Nothing was changed: no configured encryption key can decrypt "
                    f"{len(unreadable)} stored key(s): {', '.join(unreadable)}. Put the key that "
                    "encrypted them back in FUSIONROOM_ENCRYPTION_KEYS, or delete those keys and "
                    "have them entered again."
                )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} stored key(s) with the first key."))
