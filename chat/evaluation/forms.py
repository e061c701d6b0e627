"""The evaluation pages' forms: a suite's upload and a new evaluation's terms."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from chat.evaluation.models import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PASSES,
    DEFAULT_THRESHOLD,
    MAX_CONCURRENCY,
    MAX_PASSES,
)
from chat.evaluation.suites import MAX_SUITE_BYTES
from chat.evaluation.systems import BadSystem, parse_system

WEB_CHOICES = [("", "web as the panel says"), ("web", "web on"), ("noweb", "web off")]
MAX_SYSTEMS = 8
MAX_BLOCKED = 50


class SuiteUploadForm(forms.Form):
    name = forms.CharField(max_length=120)
    file = forms.FileField(help_text="JSONL (ours or DRACO's rows) or YAML")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_SUITE_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_SUITE_BYTES // (1024 * 1024)} MB.")
        return upload


def with_web(label: str, web: str) -> str:
    return f"{label}+{web}" if web in ("web", "noweb") else label


class EvaluationForm(forms.Form):
    """Everything but the systems, which the view reads from its checkboxes and pickers."""

    name = forms.CharField(max_length=120, required=False)
    suite = forms.TypedChoiceField(coerce=int)
    grader = forms.CharField(max_length=200)
    passes = forms.IntegerField(min_value=1, max_value=MAX_PASSES, initial=DEFAULT_PASSES)
    threshold = forms.FloatField(min_value=0, max_value=100, initial=DEFAULT_THRESHOLD)
    max_cost = forms.FloatField(min_value=0, required=False, label="Max cost (USD)")
    concurrency = forms.IntegerField(min_value=1, max_value=MAX_CONCURRENCY, initial=DEFAULT_CONCURRENCY)
    blocked_domains = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    allow_self_grading = forms.BooleanField(required=False)

    def __init__(self, *args: Any, suites: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["suite"].choices = suites  # type: ignore[attr-defined]

    def clean_blocked_domains(self) -> list[str]:
        words = [word for word in re.split(r"[\s,]+", self.cleaned_data["blocked_domains"]) if word]
        if len(words) > MAX_BLOCKED:
            raise forms.ValidationError(f"At most {MAX_BLOCKED} blocked domains.")
        return words


def systems_from(data: Any) -> tuple[list[str], list[str]]:
    """The systems the form ticked and typed, as labels, and what was wrong with them."""
    labels: list[str] = []
    problems: list[str] = []
    for value in data.getlist("system"):
        labels.append(with_web(value, data.get(f"web:{value}", "")))
    model = data.get("model", "").strip()
    if model:
        labels.append(with_web(f"model:{model}", data.get("model_web", "")))
    self_model = data.get("self_model", "").strip()
    if self_model:
        copies = data.get("self_copies", "2").strip()
        labels.append(with_web(f"self:{self_model}x{copies}", data.get("self_web", "")))
    for line in data.get("more", "").splitlines():
        if line.strip():
            labels.append(line.strip())
    checked: list[str] = []
    for label in labels:
        try:
            system = parse_system(label)
        except BadSystem as error:
            problems.append(str(error))
            continue
        if system.label not in checked:
            checked.append(system.label)
    if not checked and not problems:
        problems.append("Pick at least one system to evaluate.")
    if len(checked) > MAX_SYSTEMS:
        problems.append(f"At most {MAX_SYSTEMS} systems in one evaluation.")
    return checked, problems
