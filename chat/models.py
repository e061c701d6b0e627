"""Conversations, their turns and runs, each seat's answer, and the panels that answer them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class PanelQuerySet(models.QuerySet["Panel"]):
    def for_user(self, user: Any) -> PanelQuerySet:
        """The presets everyone shares, then the user's own panels."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user)).order_by("-is_preset", "position", "name")


class Panel(models.Model):
    """A panel of seats with a judge and an optional writer. Presets have no owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="panels"
    )
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, blank=True)
    is_preset = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    seats = models.JSONField(help_text="Model ids, one per seat; a model may sit twice.")
    judge = models.CharField(max_length=200)
    writer = models.CharField(
        max_length=200, blank=True, help_text="Empty: the judge writes the fused answer."
    )
    web_search = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PanelQuerySet.as_manager()

    class Meta:
        ordering = ["-is_preset", "position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def writer_model(self) -> str:
        return self.writer or self.judge


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: Any) -> ConversationQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("conversation", args=[self.pk])

    def thread_messages(self, before: Turn | None = None) -> list[dict[str, str]]:
        """Earlier prompts and their fused answers, as chat messages for a follow-up."""
        messages: list[dict[str, str]] = []
        turns = self.turns.order_by("position")
        if before is not None:
            turns = turns.filter(position__lt=before.position)
        for turn in turns.prefetch_related("runs"):
            run = turn.latest_run()
            messages.append({"role": "user", "content": turn.prompt})
            if run is not None and run.fused_text:
                messages.append({"role": "assistant", "content": run.fused_text})
        return messages


class Turn(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="unique_turn_position")
        ]

    def __str__(self) -> str:
        return self.prompt[:60]

    def latest_run(self) -> Run | None:
        runs = list(self.runs.all())
        return max(runs, key=lambda run: run.pk) if runs else None


class RunQuerySet(models.QuerySet["Run"]):
    def for_user(self, user: Any) -> RunQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(turn__conversation__owner=user)

    def active(self) -> RunQuerySet:
        return self.filter(status=Run.Status.RUNNING)


class Run(models.Model):
    """One fusion of one turn: the panel's answers, the analysis and the fused answer.

    The row is the saved fold of the pipeline's events: text is flushed in batches while the
    run streams, and everything is final once `status` leaves RUNNING.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        DEGRADED = "degraded"
        FAILED = "failed"
        STOPPED = "stopped"
        INTERRUPTED = "interrupted"

    class Stage(models.TextChoices):
        PANEL = "panel"
        ANALYSIS = "analysis"
        FUSED = "fused"
        FINISHED = "finished"

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="runs")
    panel = models.ForeignKey(Panel, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    panel_name = models.CharField(max_length=80, blank=True)
    judge = models.CharField(max_length=200)
    writer = models.CharField(max_length=200)
    simulated = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.PANEL)
    note = models.TextField(blank=True)

    analysis = models.JSONField(null=True, blank=True)
    analysis_error = models.TextField(blank=True)
    analysis_stats = models.JSONField(null=True, blank=True)

    fused_text = models.TextField(blank=True)
    fused_error = models.TextField(blank=True)
    fused_stats = models.JSONField(null=True, blank=True)

    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    # Set on an instance while it streams (see chat.live): the settled HTML and the tail.
    is_live = False
    live_blocks = ""
    live_tail = ""

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def group_name(self) -> str:
        """The channel-layer group its events are published to."""
        return f"run-{self.pk}"


class SeatAnswer(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting"
        WRITING = "writing"
        DONE = "done"
        INCOMPLETE = "incomplete"
        FAILED = "failed"
        STOPPED = "stopped"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="answers")
    index = models.PositiveSmallIntegerField()
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    text = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    is_live = False
    live_blocks = ""
    live_tail = ""

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="unique_seat_index")]

    def __str__(self) -> str:
        return f"Seat {self.index + 1}: {self.model}"

    @property
    def seat_number(self) -> int:
        return self.index + 1

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
