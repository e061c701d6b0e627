"""Conversations, their turns and runs, each seat's answer, the panels that answer them, and the
endpoints and keys they are answered with."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from pydantic import ValidationError as PydanticValidationError

from chat.endpoints import crypto, guard
from chat.endpoints.config import (
    ENDPOINT_NAME_RULES,
    RESERVED_ENDPOINT_NAMES,
    check_base_url,
    check_endpoint_name,
)
from chat.fusion.options import RunOptions
from chat.providers.types import Endpoint
from chat.webtools.options import DEFAULT_TOOL_CALLS, MAX_TOOL_CALLS, MIN_TOOL_CALLS, WebToolOptions


class JudgingTerms:
    """A panel's or a run's judging terms, kept as JSON in `options` (chat.fusion.options)."""

    options: Any

    @property
    def run_options(self) -> RunOptions:
        return RunOptions.model_validate(self.options or {})

    @property
    def compare_only(self) -> bool:
        return self.run_options.compare_only


class PanelQuerySet(models.QuerySet["Panel"]):
    def for_user(self, user: Any) -> PanelQuerySet:
        """The presets everyone shares, then the user's own panels."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user)).order_by("-is_preset", "position", "name")


class Panel(JudgingTerms, models.Model):
    """A panel of seats with a judge and an optional writer. Presets have no owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="panels"
    )
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, blank=True)
    is_preset = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    seats = models.JSONField(help_text="Model ids, one per seat; a model may sit twice.")
    judge = models.CharField(
        max_length=200, blank=True, help_text="Empty only for a compare-only panel (options)."
    )
    writer = models.CharField(
        max_length=200, blank=True, help_text="Empty: the judge writes the fused answer."
    )
    web_search = models.BooleanField(default=False)
    # Auto-fuse: the writer answers, and consults the seats and the judge only when it decides the
    # question is worth it (fusion as a tool, chat.fusion.consult).
    auto_fuse = models.BooleanField(default=False)
    max_tool_calls = models.PositiveSmallIntegerField(
        default=DEFAULT_TOOL_CALLS, help_text=f"Per seat, {MIN_TOOL_CALLS} to {MAX_TOOL_CALLS}."
    )
    # Kept out of the models' reach (a benchmark's answer key, say); subdomains are covered.
    excluded_domains = models.JSONField(default=list, blank=True, help_text="Dropped from search results.")
    blocked_domains = models.JSONField(default=list, blank=True, help_text="Never fetched.")
    # How the panel judges (quorum and deadline, instructions, each seat's sampling, compare
    # only), as chat.fusion.options.RunOptions stores it: only what differs from the defaults.
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PanelQuerySet.as_manager()

    class Meta:
        ordering = ["-is_preset", "position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """What the admin's form checks: options that RunOptions reads, and a judge unless the
        panel is compare only (the builder checks the same, with the catalog)."""
        try:
            options = RunOptions.model_validate(self.options or {})
        except PydanticValidationError as error:
            raise ValidationError({"options": f"Not valid judging terms: {error}"}) from error
        if not self.judge and not options.compare_only:
            raise ValidationError({"judge": "A panel needs a judge unless its options say compare_only."})

    def lineup(self) -> str:
        """Who sits in the panel, on one line: "Budget: gemini-3-flash-preview, kimi-k2.6,
        deepseek-v4-pro → judge gemini-3-flash-preview · judge at 2 of 3" (models without their
        provider); a compare-only panel says "compare only" where the judge would be."""

        def short(model: str) -> str:
            return model.rsplit("/", 1)[-1]

        options = self.run_options
        line = f"{self.name}: {', '.join(short(seat) for seat in self.seats)}"
        if options.compare_only:
            line += " · compare only"
        else:
            line += f" → judge {short(self.judge)}"
            if self.writer and self.writer != self.judge:
                line += f", writer {short(self.writer)}"
        if waiting := self.waiting:
            line += f" · {waiting}"
        line += " · web search" if self.web_search else ""
        return line + (" · auto-fuse" if self.auto_fuse else "")

    @property
    def web_tools(self) -> WebToolOptions:
        return WebToolOptions.of(self)

    @property
    def waiting(self) -> str:
        """When the panel judges without waiting for every seat, in a few words ("judge at 2 of 3")."""
        return self.run_options.brief(len(self.seats))

    @property
    def writer_model(self) -> str:
        return self.writer or self.judge

    def auto_fuse_for(self, chosen: bool | None) -> bool:
        """Whether a run of this panel is an Auto-fuse one: as chosen for it (the composer's
        toggle), or as the panel says when nothing was chosen; never for a compare-only panel,
        which has no one to answer."""
        if self.compare_only:
            return False
        return self.auto_fuse if chosen is None else chosen


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: Any) -> ConversationQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user, importing=False)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # An import or fork is written a turn at a time; until its last turn is in, nobody sees it.
    importing = models.BooleanField(default=False)
    # False for the conversations an evaluation makes (one a task and system): they are opened
    # from the evaluation's pages, and would bury the user's own chats in the list and search.
    listed = models.BooleanField(default=True)

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
            prompt, answer = turn.exchange()
            messages.extend(turn.context)
            messages.append({"role": "user", "content": prompt})
            if answer:
                messages.append({"role": "assistant", "content": answer})
        return messages


class Turn(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    # The messages an API client sent before its question (system, earlier turns): the thread
    # this turn was asked in, which no earlier turn of the conversation holds.
    context = models.JSONField(default=list, blank=True)
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

    def exchange(self) -> tuple[str, str]:
        """The prompt and fused answer a follow-up builds on: the newest run's with a fused
        answer (else the newest run's prompt and no answer). Both come from one run, so an
        edited prompt is never paired with the answer to the prompt it replaced."""
        runs = sorted(self.runs.all(), key=lambda run: run.pk, reverse=True)
        for run in runs:
            if run.fused_text:
                return run.asked_prompt(self), str(run.fused_text)
        return (runs[0].asked_prompt(self) if runs else self.prompt), ""

    @property
    def current_prompt(self) -> str:
        """The prompt of the run shown (the newest): the edited one after an edit."""
        latest = self.latest_run()
        return latest.asked_prompt(self) if latest else self.prompt

    @property
    def is_edited(self) -> bool:
        """Whether a run of the turn was asked with an edited prompt (each run then shows its own)."""
        return any(run.prompt is not None for run in self.runs.all())


class RunQuerySet(models.QuerySet["Run"]):
    def for_user(self, user: Any) -> RunQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(turn__conversation__owner=user)

    def active(self) -> RunQuerySet:
        return self.filter(status=Run.Status.RUNNING)

    def beat(self) -> int:
        """Say these runs are alive (their process's heartbeat); returns how many."""
        return self.update(heartbeat_at=timezone.now())

    def end(self, status: Run.Status, *, note: str, began: bool) -> list[int]:
        """End those of these runs that are still running, in the database; returns their ids.

        The same transition as `Run.end`, for runs no process holds in memory: interrupted by a
        process that died (`began`), stopped before a worker took them or failed before they
        began (not `began`).
        """
        with transaction.atomic():
            ids = list(self.active().select_for_update().values_list("pk", flat=True))
            if not ids:
                return []
            # Seats an Auto-fuse model never consulted were never asked (Run.asks_panel).
            SeatAnswer.objects.filter(run_id__in=ids, status__in=SeatAnswer.UNFINISHED).exclude(
                run__auto_fuse=True, run__consult_query__isnull=True
            ).update(**SeatAnswer.ended_values(status, note=note, began=began))
            Run.objects.filter(pk__in=ids, status=Run.Status.RUNNING).update(
                **Run.ended_values(status, note=note)
            )
        return ids

    def of_owner(self, user: Any) -> RunQuerySet:
        return self.filter(turn__conversation__owner=user)


class Run(JudgingTerms, models.Model):
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
    # The panel's web settings when the run started: the panel may change later.
    web_search = models.BooleanField(default=False)
    max_tool_calls = models.PositiveSmallIntegerField(default=DEFAULT_TOOL_CALLS)
    excluded_domains = models.JSONField(default=list, blank=True)
    blocked_domains = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.PANEL)
    note = models.TextField(blank=True)
    # Said on the page when older turns had to be left out to fit the context window.
    thread_note = models.TextField(blank=True)
    # A retry or a re-run with another panel is a new run of the same turn: an alternative.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="alternatives"
    )
    # The prompt this run was asked when it is not the turn's own (the user edited it and asked
    # again); None: the turn's prompt. Read it through asked_prompt().
    prompt = models.TextField(null=True, blank=True)
    # Auto-fuse (the panel's, when the run began): the writer answered and may have consulted the
    # panel; consult_query is the query it wrote for it (None: it did not consult, or not yet).
    auto_fuse = models.BooleanField(default=False)
    consult_query = models.TextField(null=True, blank=True)
    # False for a run a model consulted over the API (the fusion server tool): it ends with the
    # analysis, which went back to that model, and the model wrote the answer.
    write_answer = models.BooleanField(default=True)

    analysis = models.JSONField(null=True, blank=True)
    analysis_error = models.TextField(blank=True)
    analysis_stats = models.JSONField(null=True, blank=True)

    fused_text = models.TextField(blank=True)
    # fused_text rendered once it is final (chat.rendering.render_answer), so that showing a
    # finished run, a shared one above all, costs no markdown work; empty until then.
    fused_html = models.TextField(blank=True, editable=False)
    fused_error = models.TextField(blank=True)
    fused_stats = models.JSONField(null=True, blank=True)

    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    # What the start gate expected the run to cost (with a spend budget set): reserved against
    # the budget while the run is going, so runs started at once cannot overspend it together.
    estimated_cost = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by the process executing the run; a running run whose heartbeat stops was
    # left behind by a process that died, and is marked interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set for runs started over the API (/v1): the history shows the token's name.
    api_token = models.ForeignKey(
        "ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # An API caller's temperature, max_tokens and reasoning (chat.fusion.request.Sampling).
    sampling = models.JSONField(null=True, blank=True)
    # The panel's judging terms when the run started (chat.fusion.options.RunOptions), or the
    # caller's; and when the panel was judged before every seat answered (ms into the run).
    options = models.JSONField(default=dict, blank=True)
    judged_at_ms = models.FloatField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

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

    def asked_prompt(self, turn: Turn | None = None) -> str:
        """The prompt this run was asked: its own when edited, else its turn's (pass the turn
        when it is in hand, to spare reading it)."""
        if self.prompt is not None:
            return self.prompt
        return (turn or self.turn).prompt

    @property
    def prompt_shown(self) -> str:
        """asked_prompt() for templates."""
        return self.asked_prompt()

    @property
    def is_edit(self) -> bool:
        """Whether the run asked again with another prompt than the run it follows."""
        return self.retry_of is not None and self.prompt != self.retry_of.prompt

    def elapsed_ms(self) -> float:
        """How long the run has been going."""
        return (timezone.now() - self.started_at).total_seconds() * 1000

    @property
    def web_tools(self) -> WebToolOptions:
        """The panel's web-tool settings when the run started."""
        return WebToolOptions.of(self)

    # -- Auto-fuse ------------------------------------------------------------------------

    @staticmethod
    def first_stage(auto_fuse: bool) -> Run.Stage:
        """Where a new run begins: an Auto-fuse run with its model answering (it reaches the
        panel only if it consults it), any other with the panel."""
        return Run.Stage.FUSED if auto_fuse else Run.Stage.PANEL

    @property
    def consulted(self) -> bool:
        """Whether the run's model consulted the panel (an Auto-fuse run's query is saved)."""
        return self.consult_query is not None

    @property
    def asks_panel(self) -> bool:
        """Whether the panel's seats and judge are part of this run: always, except an Auto-fuse
        run whose model has not consulted them (its page then shows no empty seat columns)."""
        return not self.auto_fuse or self.consulted

    # -- the one way a run ends -----------------------------------------------------------

    @staticmethod
    def ended_values(status: Run.Status, *, note: str) -> dict[str, Any]:
        """The run's fields once it has ended with `status` (never RUNNING). A run that did not
        finish (stopped, interrupted, failed) keeps its stage: the page shows where it ended."""
        if status == Run.Status.RUNNING:
            raise ValueError("A run cannot end as running.")
        values: dict[str, Any] = {"status": status, "note": note, "finished_at": timezone.now()}
        if status in (Run.Status.DONE, Run.Status.DEGRADED):
            values["stage"] = Run.Stage.FINISHED
        return values

    def end(
        self, status: Run.Status, *, note: str, answers: list[SeatAnswer]
    ) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
        """End the run held in memory (with its `answers`): the fields that changed on the run,
        and on each answer by its index. Unfinished answers end as `SeatAnswer.ended_values`
        says; answers that finished, reused ones included, keep what they have. Nothing is saved
        here: the caller saves the changed fields (chat.runs.state does, with its next flush)."""
        run_values = Run.ended_values(status, note=note)
        if status == Run.Status.STOPPED and not self.duration_ms:
            run_values["duration_ms"] = self.elapsed_ms()
        # Seats an Auto-fuse model never consulted were never asked: they did not stop, or fail.
        answer_values = {
            answer.index: SeatAnswer.ended_values(status, note=note, began=True)
            for answer in answers
            if answer.status in SeatAnswer.UNFINISHED and self.asks_panel
        }
        for name, value in run_values.items():
            setattr(self, name, value)
        for answer in answers:
            for name, value in answer_values.get(answer.index, {}).items():
                setattr(answer, name, value)
        return run_values, answer_values


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
    # text rendered once the answer is final (chat.rendering.render_answer); empty until then.
    html = models.TextField(blank=True, editable=False)
    reasoning = models.TextField(blank=True)
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # Copied from an earlier run of the turn (a retry re-asks only the failed seats).
    reused = models.BooleanField(default=False)
    # What the seat searched and read ([{tool, argument, ok, detail}]), and its sources ([{title, url}]).
    tool_activity = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    # Still running when the panel was judged (its quorum or deadline): kept and shown, not judged.
    late = models.BooleanField(default=False)

    # Still to come when the run ends: such an answer ends stopped, or failed with its run.
    UNFINISHED = (Status.WAITING, Status.WRITING)

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

    @staticmethod
    def ended_values(run_status: Run.Status, *, note: str, began: bool) -> dict[str, Any]:
        """An unfinished answer's fields when its run ends with `run_status`: failed with the
        run's reason when the run failed before it began (no model was asked), else stopped
        with what arrived."""
        if run_status == Run.Status.FAILED and not began:
            return {"status": SeatAnswer.Status.FAILED, "error": note}
        return {"status": SeatAnswer.Status.STOPPED}


# --- Endpoints and keys ---------------------------------------------------------------------


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def validate_endpoint_name(name: str) -> None:
    try:
        check_endpoint_name(name)
    except ValueError as error:
        raise ValidationError(_sentence(str(error))) from None


def validate_base_url(url: str) -> None:
    try:
        check_base_url(url)
    except ValueError as error:
        raise ValidationError(_sentence(str(error))) from None


def configured_endpoint_names() -> frozenset[str]:
    """Names a database endpoint may not take: the built-in ones and the environment's."""
    return RESERVED_ENDPOINT_NAMES | {endpoint.name for endpoint in settings.FUSIONROOM_EXTRA_ENDPOINTS}


class EncryptedKeyMixin(models.Model):
    """An API key kept encrypted at rest (chat.crypto): write it with set_api_key, read it with
    api_key(), which raises KeyUnavailable rather than return something it cannot vouch for."""

    encrypted_api_key = models.TextField(blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def key_label(self) -> str:
        """The endpoint name KeyUnavailable names."""
        raise NotImplementedError

    @property
    def has_api_key(self) -> bool:
        return bool(self.encrypted_api_key)

    @sensitive_variables()
    def set_api_key(self, plaintext: str) -> None:
        """Encrypt and keep the key (not saved yet); an empty one clears it."""
        self.encrypted_api_key = crypto.encrypt(plaintext) if plaintext else ""

    @sensitive_variables()
    def api_key(self) -> str:
        """The plaintext key, "" when none is set; KeyUnavailable when it can no longer be read."""
        if not self.encrypted_api_key:
            return ""
        return crypto.decrypt(self.encrypted_api_key, endpoint=self.key_label)

    # {{ row.api_key }} in a template must not print the key.
    api_key.do_not_call_in_templates = True  # type: ignore[attr-defined]

    def key_is_readable(self) -> bool:
        try:
            self.api_key()
        except crypto.KeyUnavailable:
            return False
        return True


class ProviderEndpointQuerySet(models.QuerySet["ProviderEndpoint"]):
    def server_wide(self) -> ProviderEndpointQuerySet:
        return self.filter(owner__isnull=True)

    def owned_by(self, user: Any) -> ProviderEndpointQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def enabled(self) -> ProviderEndpointQuerySet:
        return self.filter(enabled=True)


class ProviderEndpoint(EncryptedKeyMixin):
    """An OpenAI-compatible endpoint kept in the database: server-wide (no owner, staff add them
    in the admin) or a user's own (added in their Settings). Endpoints from the environment are
    not rows (see chat.endpoints)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="provider_endpoints",
        help_text="Empty: a server-wide endpoint everyone may use.",
    )
    name = models.CharField(
        max_length=40,
        validators=[validate_endpoint_name],
        help_text=f"Models are chosen as name::model. {_sentence(ENDPOINT_NAME_RULES)}",
    )
    base_url = models.CharField(
        "base URL",
        max_length=500,
        validators=[validate_base_url],
        help_text="The OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProviderEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="unique_server_endpoint_name"
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="unique_user_endpoint_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def key_label(self) -> str:
        return self.name

    @property
    def is_server_wide(self) -> bool:
        return self.owner_id is None

    def clean(self) -> None:
        """Names unique where a user could meet two: with the built-in and configured endpoints,
        with server-wide rows, and with the owner's own others."""
        super().clean()
        try:
            check_endpoint_name(self.name)
        except ValueError:
            return  # the field's own validator says what is wrong with it
        if self.name in configured_endpoint_names():
            raise ValidationError({"name": f"The server already has an endpoint called {self.name!r}."})
        others = ProviderEndpoint.objects.exclude(pk=self.pk).filter(name=self.name)
        if others.server_wide().exists():
            raise ValidationError({"name": f"The server already has an endpoint called {self.name!r}."})
        if self.owner_id is not None and others.filter(owner_id=self.owner_id).exists():
            raise ValidationError({"name": f"You already have an endpoint called {self.name!r}."})

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        """A user's base URL also passes the rules of FUSIONROOM_USER_ENDPOINTS, names resolved
        (chat/endpoints/guard.py); the operator's server-wide rows are trusted."""
        super().clean_fields(exclude)
        if self.owner_id is None or (exclude and "base_url" in exclude):
            return
        problem = guard.address_problem(self.base_url)
        if problem is not None:
            raise ValidationError({"base_url": problem})

    def endpoint(self) -> Endpoint:
        """As the provider client wants it; KeyUnavailable if its key can no longer be read."""
        return Endpoint(
            name=self.name, base_url=self.base_url, api_key=self.api_key(), owner_id=self.owner_id
        )


class UserProviderKey(EncryptedKeyMixin):
    """A user's own key for a server-wide endpoint, used for their runs instead of the server's."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys")
    endpoint = models.CharField(max_length=40, help_text="The server endpoint's name.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "endpoint"]
        constraints = [models.UniqueConstraint(fields=["user", "endpoint"], name="unique_user_endpoint_key")]

    def __str__(self) -> str:
        return f"{self.user} · {self.endpoint}"

    @property
    def key_label(self) -> str:
        return self.endpoint


class ShareLinkQuerySet(models.QuerySet["ShareLink"]):
    def active(self) -> ShareLinkQuerySet:
        return self.filter(revoked_at__isnull=True)


class ShareLink(models.Model):
    """A read-only link to a conversation as it was when shared: its turns up to `upto_position`."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="share_links")
    # secrets.token_urlsafe(32): 256 bits, 43 characters.
    token = models.CharField(max_length=64, unique=True)
    upto_position = models.PositiveIntegerField()
    show_owner = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Share link of {self.conversation} ({'revoked' if self.revoked_at else 'active'})"

    def get_absolute_url(self) -> str:
        return reverse("shared", args=[self.token])


class SpendBudget(models.Model):
    """A user's optional cap on what their runs may cost per day or per month, in dollars."""

    class Period(models.TextChoices):
        DAY = "day"
        MONTH = "month"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spend_budget"
    )
    period = models.CharField(max_length=5, choices=Period.choices, default=Period.MONTH)
    limit_usd = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.user}: ${self.limit_usd} a {self.period}"


# API tokens are shown once, then only their digest is kept: a database dump holds no usable token.
API_TOKEN_PREFIX = "fr-"
API_TOKEN_SHOWN_CHARS = 10


def api_token_digest(secret: str) -> str:
    """The stored form of a token: tokens carry 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        """Not revoked and not expired."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )

    def issue(
        self,
        user: Any,
        name: str,
        *,
        expires_at: Any = None,
        allowed_models: Collection[str] = (),
        budget_usd: Any = None,
    ) -> tuple[ApiToken, str]:
        """A new token for `user`; returns the row and the secret, which is never stored."""
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(
            user=user,
            name=name,
            prefix=secret[:API_TOKEN_SHOWN_CHARS],
            digest=api_token_digest(secret),
            expires_at=expires_at,
            allowed_models=list(allowed_models),
            budget_usd=budget_usd,
        )
        return token, secret

    def find(self, secret: str) -> ApiToken | None:
        """The usable token whose secret this is, with its user, or None."""
        if not secret.startswith(API_TOKEN_PREFIX):
            return None
        return self.usable().select_related("user").filter(digest=api_token_digest(secret)).first()


class ApiToken(models.Model):
    """A user's key to the API (/v1): named, optionally expiring, limited to some models, budgeted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    # The first characters of the secret, to recognise a token in a list; never enough to use it.
    prefix = models.CharField(max_length=API_TOKEN_SHOWN_CHARS)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Model ids (fusion/... included) this token may call; empty: all."
    )
    budget_usd = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="What this token's runs may cost."
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    @property
    def status(self) -> str:
        """ "active", "revoked" or "expired", as lists show it."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class ApiCall(models.Model):
    """A plain model's completion passed through the API (/v1/chat/completions). It is no run,
    but it spends the same keys: it counts in the user's and the token's budgets, and in limits of
    its own (chat/runs/gate.py open_passthrough)."""

    class Status(models.TextChoices):
        # "running" as a Run's, so the budget's sum (gate.committed) reads both kinds the same.
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_calls")
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)
    # Reserved against the budgets while the call goes (its cost is known only at its end).
    estimated_cost = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "started_at"])]

    def __str__(self) -> str:
        return f"{self.model} for {self.user} ({self.status})"

    def settle(self, *, ok: bool, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        """The call ended: what it used replaces what was reserved."""
        ApiCall.objects.filter(pk=self.pk).update(
            status=self.Status.DONE if ok else self.Status.FAILED,
            prompt_tokens=max(prompt_tokens, 0),
            completion_tokens=max(completion_tokens, 0),
            cost=cost,
            finished_at=timezone.now(),
        )
