"""The evaluation harness is an app of its own: its rows (suites, evaluations, answers, grades)
sit above the chat's runs, which they point at, and never the other way round."""

from __future__ import annotations

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "chat.evaluation"
    label = "evaluation"
    verbose_name = "FusionRoom evaluations"
