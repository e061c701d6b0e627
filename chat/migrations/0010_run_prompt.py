"""A run keeps the prompt it was asked when the user edited the turn's prompt and asked again."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chat", "0009_stored_html")]

    operations = [
        migrations.AddField(
            model_name="run",
            name="prompt",
            field=models.TextField(blank=True, null=True),
        ),
    ]
