"""An evaluation's rows: the user's suites, each evaluation's terms and state, one answer per
task × system (a real run), one grade per criterion × pass. What is saved is what resuming
skips: a finished answer is never asked again, a grade never asked twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from chat.evaluation.suites import Suite
from chat.evaluation.systems import System, parse_system

DEFAULT_PASSES = 3
MAX_PASSES = 10
DEFAULT_THRESHOLD = 70.0
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16


class EvalSuite(models.Model):
    """A suite a user uploaded, private to them; the tasks as read (chat.evaluation.suites.Suite)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eval_suites")
    name = models.CharField(max_length=120)
    filename = models.CharField(max_length=200, blank=True)
    tasks = models.JSONField(help_text="The suite as read: Suite.model_dump()")
    task_count = models.PositiveIntegerField(default=0)
    criteria_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def suite(self) -> Suite:
        return Suite.model_validate(self.tasks)

    @classmethod
    def of(cls, owner: Any, name: str, suite: Suite, filename: str = "") -> EvalSuite:
        """An unsaved row holding `suite`."""
        return cls(
            owner=owner,
            name=name[:120],
            filename=filename[:200],
            tasks=suite.model_dump(mode="json"),
            task_count=len(suite.tasks),
            criteria_count=suite.criteria_count,
        )


class Evaluation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        # Stopped at its cost cap, by its owner, or by a dead process: each can be resumed.
        CAPPED = "capped"
        STOPPED = "stopped"
        INTERRUPTED = "interrupted"
        FAILED = "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="evaluations")
    suite = models.ForeignKey(EvalSuite, on_delete=models.CASCADE, related_name="evaluations")
    name = models.CharField(max_length=120, blank=True)
    # The systems under test, as written (chat.evaluation.systems): "preset:budget", "self:Mx2"...
    systems = models.JSONField()
    grader = models.CharField(max_length=200)
    passes = models.PositiveSmallIntegerField(default=DEFAULT_PASSES)
    # A task "accepted" at or above this score counts for cost per accepted answer.
    threshold = models.FloatField(default=DEFAULT_THRESHOLD)
    max_cost = models.FloatField(null=True, blank=True, help_text="USD; the evaluation stops cleanly there.")
    concurrency = models.PositiveSmallIntegerField(default=DEFAULT_CONCURRENCY)
    seed = models.PositiveIntegerField(
        default=0, help_text="The bootstrap's seed: the same seed, the same intervals."
    )
    # Kept out of every system's web tools (a rubric's hosts): excluded from search and never fetched.
    blocked_domains = models.JSONField(default=list, blank=True)
    allow_self_grading = models.BooleanField(default=False)
    # The systems the grader sits in (seat, judge or writer), said in the report when allowed.
    self_graded = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    note = models.TextField(blank=True)
    estimated_cost = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name or f"Evaluation {self.pk}"

    @property
    def parsed_systems(self) -> list[System]:
        return [parse_system(text) for text in self.systems]

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def resumable(self) -> bool:
        return self.status in (
            self.Status.CAPPED,
            self.Status.STOPPED,
            self.Status.INTERRUPTED,
            self.Status.FAILED,
        )


class EvalAnswer(models.Model):
    """One system's answer to one task: a run of the user's, through the start gate."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        # The system gave no usable answer (every seat failed, say): scored 0, and said.
        FAILED = "failed"

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="answers")
    system = models.CharField(max_length=300)
    task_id = models.CharField(max_length=120)
    run = models.ForeignKey("chat.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    latency_s = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "system", "task_id"], name="one_answer_per_task_and_system"
            )
        ]


class EvalGrade(models.Model):
    """One criterion of one answer, graded once in one pass; `verdict` empty when grading failed."""

    answer = models.ForeignKey(EvalAnswer, on_delete=models.CASCADE, related_name="grades")
    criterion = models.CharField(max_length=120)
    pass_index = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=5, blank=True, help_text="MET, UNMET, or empty: an error")
    reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    calls = models.PositiveSmallIntegerField(default=1)
    cost = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["answer", "criterion", "pass_index"], name="one_grade_per_criterion_and_pass"
            )
        ]
