"""The rows of a new run: a new turn's, a retry's that keeps the answers it can, a re-run's.

Called inside the start gate's transaction (chat.runs.lifecycle), never on their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chat.fusion.events import CallStats
from chat.fusion.request import ReusedAnswer
from chat.models import Conversation, Panel, Run, SeatAnswer, Turn

KEPT_STATUSES = (SeatAnswer.Status.DONE, SeatAnswer.Status.INCOMPLETE)
KEPT_FIELDS = (
    "text",
    "html",
    "tool_activity",
    "sources",
    "reasoning",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "ttft_ms",
    "duration_ms",
)


def create_turn_and_run(
    conversation: Conversation,
    prompt: str,
    panel: Panel,
    *,
    simulated: bool,
    context: list[dict[str, str]] | None = None,
    auto_fuse: bool | None = None,
) -> Run:
    last = conversation.turns.order_by("-position").first()
    turn = Turn.objects.create(
        conversation=conversation,
        position=(last.position + 1) if last else 0,
        prompt=prompt,
        context=context or [],
    )
    if not conversation.title:
        conversation.title = title_from(prompt)
    conversation.save()  # bumps updated_at: the conversation moves to the top of the list
    return create_run(turn, panel, simulated=simulated, auto_fuse=auto_fuse)


def start_conversation(
    owner: Any,
    prompt: str,
    panel: Panel,
    *,
    simulated: bool,
    context: list[dict[str, str]] | None = None,
    auto_fuse: bool | None = None,
    listed: bool = True,
) -> Run:
    """A new conversation, titled after `prompt`, with its first turn and that turn's run:
    written, never read back (create_turn_and_run would look for a last turn, and save the
    conversation again for its title and place in the list)."""
    conversation = Conversation.objects.create(owner=owner, title=title_from(prompt), listed=listed)
    turn = Turn.objects.create(conversation=conversation, position=0, prompt=prompt, context=context or [])
    return create_run(turn, panel, simulated=simulated, auto_fuse=auto_fuse)


def create_run(
    turn: Turn,
    panel: Panel,
    *,
    simulated: bool,
    retry_of: Run | None = None,
    prompt: str | None = None,
    auto_fuse: bool | None = None,
) -> Run:
    """A run of `turn` by `panel`; `prompt`, when given, replaces the turn's (an edit), and
    `auto_fuse` the panel's own Auto-fuse setting (the composer's toggle)."""
    auto_fuse = panel.auto_fuse_for(auto_fuse)
    run = Run.objects.create(
        turn=turn,
        panel=panel if panel.pk else None,  # a panel made up for one run (the terminal's) is not kept
        panel_name=panel.name,
        judge=panel.judge,
        writer=panel.writer_model,
        simulated=simulated,
        retry_of=retry_of,
        prompt=prompt,
        auto_fuse=auto_fuse,
        stage=Run.first_stage(auto_fuse),
        options=panel.run_options.stored(),
        **panel.web_tools.fields(),
    )
    SeatAnswer.objects.bulk_create(
        SeatAnswer(run=run, index=i, model=model) for i, model in enumerate(panel.seats)
    )
    return run


def kept_by_retry(run: Run, answer: SeatAnswer) -> bool:
    """Whether a retry of `run` keeps this answer instead of asking its seat again: a finished
    one, except in an Auto-fuse run, whose model writes the panel a new query each time."""
    return not run.auto_fuse and answer.status in KEPT_STATUSES


def create_retry(
    run: Run, *, simulated: bool, judge: str | None = None, writer: str | None = None, keep_all: bool = False
) -> Run:
    """A new run of the same turn and panel that keeps every answer and re-asks the rest.

    With every seat answered it re-runs only the judge and the writer: "retry the analysis".
    `keep_all` (a re-judge) keeps the failed answers too, as failed, so no seat is asked; `judge`
    and `writer` replace the run's. Either way the quorum and deadline are not applied again:
    they were for the first asking, and kept answers arrive at once.
    """
    dropped: dict[str, object] = {"quorum": None, "deadline_s": None}
    if keep_all:
        dropped["compare_only"] = False  # a compare-only run is re-judged to be fused after all
    options = run.run_options.model_copy(update=dropped)
    retry = Run.objects.create(
        turn=run.turn,
        panel=run.panel,
        panel_name=run.panel_name,
        judge=judge or run.judge,
        writer=writer or run.writer,
        simulated=simulated,
        retry_of=run,
        prompt=run.prompt,  # a retry asks what the retried run asked
        auto_fuse=run.auto_fuse,
        stage=Run.first_stage(run.auto_fuse),
        write_answer=run.write_answer,
        options=options.stored(),
        **run.web_tools.fields(),
    )
    copies = []
    for answer in run.answers.order_by("index"):
        kept = keep_all or kept_by_retry(run, answer)
        values = {name: getattr(answer, name) for name in KEPT_FIELDS} if kept else {}
        if kept and keep_all:
            values["error"] = answer.error
        copies.append(SeatAnswer(run=retry, index=answer.index, model=answer.model, reused=kept, **values))
    SeatAnswer.objects.bulk_create(copies)
    return retry


def can_rejudge(run: Run, answers: Iterable[SeatAnswer] | None = None) -> bool:
    """Whether the run's answers can be fused again: it has ended, it is no Auto-fuse run (whose
    model wrote the panel its own query), and at least two seats answered. `answers`: the run's,
    when they are at hand (a live run's page has them in memory)."""
    if run.is_running or run.auto_fuse:
        return False
    if answers is None:
        return run.answers.filter(status__in=KEPT_STATUSES).count() >= 2
    return sum(1 for answer in answers if answer.status in KEPT_STATUSES) >= 2


def reused_answers(answers: list[SeatAnswer]) -> dict[int, ReusedAnswer]:
    """The answers a retry kept, as the pipeline takes them (not asked again, not billed again);
    a re-judge keeps failed ones too, which stay failed."""
    return {
        answer.index: ReusedAnswer(
            text=answer.text,
            complete=answer.status == SeatAnswer.Status.DONE,
            failure=(answer.error or "The seat failed.") if answer.status not in KEPT_STATUSES else None,
            stats=CallStats(
                model=answer.model,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                cost=answer.cost,
                ttft_ms=answer.ttft_ms,
                duration_ms=answer.duration_ms or 0.0,
            ),
        )
        for answer in answers
        if answer.reused
    }


def title_from(prompt: str) -> str:
    words = " ".join(prompt.split())
    return words if len(words) <= 60 else words[:57].rsplit(" ", 1)[0] + "…"
