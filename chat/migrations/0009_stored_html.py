"""Finished answers keep their rendered HTML: the fields, and the rows that already exist filled."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

# The rows still running when this runs are rendered when they finish.
RUNNING = ("waiting", "writing")


def fill_html(apps: Any, schema_editor: Any) -> None:
    from chat.rendering import render_answer

    SeatAnswer = apps.get_model("chat", "SeatAnswer")
    Run = apps.get_model("chat", "Run")
    answers = SeatAnswer.objects.exclude(text="").exclude(status__in=RUNNING).only("pk", "text")
    for answer in answers.iterator(chunk_size=200):
        SeatAnswer.objects.filter(pk=answer.pk).update(html=render_answer(answer.text))
    runs = Run.objects.exclude(fused_text="").exclude(status="running").only("pk", "fused_text")
    for run in runs.iterator(chunk_size=200):
        Run.objects.filter(pk=run.pk).update(fused_html=render_answer(run.fused_text))


class Migration(migrations.Migration):
    dependencies = [("chat", "0008_run_estimated_cost")]

    operations = [
        migrations.AddField(
            model_name="run",
            name="fused_html",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="seatanswer",
            name="html",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(fill_html, migrations.RunPython.noop, elidable=True),
    ]
