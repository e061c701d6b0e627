"""Seed the Quality and Budget presets; after this they are data, edited in the admin."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# A copy, not an import of chat.presets: a migration must keep meaning what it meant
# when it was written, whatever later code says.
PRESETS = [
    {
        "slug": "quality",
        "name": "Quality",
        "position": 0,
        "seats": ["anthropic/claude-opus-4.8", "openai/gpt-5.5", "google/gemini-3.1-pro-preview"],
        "judge": "anthropic/claude-opus-4.8",
    },
    {
        "slug": "budget",
        "name": "Budget",
        "position": 1,
        "seats": ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"],
        "judge": "google/gemini-3-flash-preview",
    },
]


def seed(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Panel = apps.get_model("chat", "Panel")
    for preset in PRESETS:
        Panel.objects.update_or_create(slug=preset["slug"], is_preset=True, owner=None, defaults=preset)


def unseed(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Panel = apps.get_model("chat", "Panel")
    Panel.objects.filter(is_preset=True, slug__in=[p["slug"] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
