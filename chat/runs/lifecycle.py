"""A run's one lifecycle, the same for every surface (chatroom, terminal, API).

    run = await start(user, Ask(conversation, prompt, panel))   # gate, rows, dispatch
    async for event in events(run.pk): ...                     # a run executing here
    await stop(run.pk); await wait(run.pk)
    run, queue = await start_call(user, Call(context, prompt, panel, token))  # the API's: events
                                                                          # wherever it executes

`start` checks the user's limits and budget (chat.runs.gate) and creates the rows in one
transaction, for a new message, a retry, a re-run and an edited prompt alike; then the run goes
to a worker or runs here (chat.runs.dispatch), and ends through the model's transitions (Run.end).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from chat.endpoints.catalog import Catalog
from chat.fusion.events import Event
from chat.fusion.options import RunOptions
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import Sampling
from chat.models import ApiToken, Conversation, Panel, Run, Turn
from chat.providers.types import Endpoint
from chat.runs import dispatch, news
from chat.runs.creation import (
    can_rejudge,
    create_retry,
    create_run,
    create_turn_and_run,
    kept_by_retry,
    start_conversation,
)
from chat.runs.execution import Loaded, fusion_request, loaded_new_run
from chat.runs.gate import (
    LimitReached,
    budget_catalog,
    check_can_start,
    estimate,
    hold_starts,
    prompt_tokens,
)
from chat.runs.services import Services, current
from chat.runs.toolbox import toolbox_for


@dataclass(frozen=True)
class Ask:
    """A new turn: `prompt` to `panel`, in `conversation` or a new one; `auto_fuse` says whether
    the panel's writer answers and consults the panel only if it decides to (None: as the panel
    says)."""

    conversation: Conversation | None
    prompt: str
    panel: Panel
    auto_fuse: bool | None = None


@dataclass(frozen=True)
class Retry:
    """The same turn and panel again, keeping every answer that arrived."""

    run: Run


@dataclass(frozen=True)
class Rejudge:
    """The same answers fused again, by another judge and/or writer (None: the run's own), and
    with the late answers too: no seat is asked or billed again, and both results stay, as
    retries do. With neither changed it is "Re-fuse with all answers"."""

    run: Run
    judge: str | None = None
    writer: str | None = None


@dataclass(frozen=True)
class Rerun:
    """The same turn asked of another panel; the earlier runs stay, as alternatives."""

    turn: Turn
    panel: Panel
    auto_fuse: bool | None = None


@dataclass(frozen=True)
class Edit:
    """The conversation's last turn asked again with an edited prompt; the earlier runs stay,
    as alternatives, each with the prompt it was asked."""

    turn: Turn
    prompt: str
    panel: Panel
    auto_fuse: bool | None = None


@dataclass(frozen=True)
class Call:
    """A call from a program (the API, the MCP server): `prompt` to `panel` after the caller's own
    `context` (system and earlier messages), in a new conversation of the user, marked with the
    API token it came with (none for the MCP server over stdio: the user started it themselves)."""

    context: list[dict[str, str]]
    prompt: str
    panel: Panel
    token: ApiToken | None = None
    sampling: Sampling | None = None
    # The caller's judging terms (the API's `fusion` parameters, the terminal's flags) over the
    # panel's own; None: the panel's.
    options: RunOptions | None = None
    # False when a model consulted the panel (the API's fusion server tool): the run ends with the
    # analysis, which goes back to that model, and the model writes the answer.
    write_answer: bool = True
    # False for an evaluation's runs: their conversations stay out of the sidebar and its search.
    listed: bool = True


type Start = Ask | Retry | Rejudge | Rerun | Edit | Call


class RunBusy(LimitReached):
    """A run of the turn (for a follow-up: of the conversation) is still going: a new run would race it."""


BUSY_RUN = "This run is still going: stop it first, or wait for it."
BUSY_TURN = "A run of this turn is still going: stop it first, or wait for it."
BUSY_FOLLOW_UP = (
    "The last run of this conversation is still going: stop it or wait for its fused answer, "
    "then send your follow-up (it builds on that answer)."
)
CANNOT_REJUDGE = (
    "Only a finished run whose panel answered (at least two answers, and not an Auto-fuse run's "
    "own answer) can be fused again."
)
PICK_A_JUDGE = "Pick a judge: this panel only compared its answers."
NOT_LAST_TURN = "Only the last prompt of a conversation can be edited: the turns after it build on it."


@dataclass(frozen=True)
class Opened:
    """A run whose rows exist and which may start: `loaded` spares it reading them back."""

    run: Run
    loaded: Loaded | None
    # Read with the rows, so that announcing the run (chat.runs.news) needs no query on the loop.
    conversation_id: int | None = None

    @property
    def conversation(self) -> Conversation:
        return self.run.turn.conversation


def _refuse_if_busy(turn: Turn, retried: Run | None) -> None:
    # Read with the user's starts held (hold_starts), so two retries of one turn cannot both
    # see it idle.
    running = set(turn.runs.filter(status=Run.Status.RUNNING).values_list("pk", flat=True))
    if running:
        raise RunBusy(BUSY_RUN if retried is not None and retried.pk in running else BUSY_TURN)


def _refuse_follow_up_if_busy(conversation: Conversation) -> None:
    # A follow-up is asked with the thread's fused answers: one still being written would be
    # left out, and the follow-up would silently get the wrong context.
    if Run.objects.filter(turn__conversation=conversation).active().exists():
        raise RunBusy(BUSY_FOLLOW_UP)


def _gate(
    user: User,
    prompt: str,
    thread: list[dict[str, str]],
    asked: list[str],
    judge: str,
    writer: str,
    catalog: Catalog | None,
    token: ApiToken | None = None,
    *,
    auto_fuse: bool,
    compare_only: bool = False,
) -> float | None:
    """The start gate for a run that asks `asked`, the judge and the writer about this thread;
    returns the run's estimate, which the run reserves against the budget while it goes."""
    expected = estimate(
        asked,
        judge,
        writer,
        catalog,
        prompt_tokens=prompt_tokens(thread, prompt),
        auto_fuse=auto_fuse,
        compare_only=compare_only,
    )
    check_can_start(
        user,
        thread_chars=len(prompt) + sum(len(message["content"]) for message in thread),
        estimate=expected,
        token=token,
        starts_held=True,  # open_run holds them first
    )
    return expected


def _gate_panel(
    user: User,
    prompt: str,
    thread: list[dict[str, str]],
    panel: Panel,
    catalog: Catalog | None,
    token: ApiToken | None = None,
    *,
    auto_fuse: bool,
    options: RunOptions | None = None,
) -> float | None:
    """The start gate for a run asking the whole of `panel` (a retry asks only some seats: _gate)."""
    seats = list(panel.seats)
    compare_only = (options or panel.run_options).compare_only
    return _gate(
        user,
        prompt,
        thread,
        seats,
        panel.judge,
        panel.writer_model,
        catalog,
        token,
        auto_fuse=auto_fuse,
        compare_only=compare_only,
    )


def open_run(user: User, what: Start, *, catalog: Catalog | None, simulated: bool | None = None) -> Opened:
    """Pass the start gate and create the run's rows, in one transaction that holds the user's
    starts (so starts sent at once pass one at a time); raise LimitReached (or RunBusy) when
    the run may not start. Sync: views call it in their database thread."""
    simulated = settings.FUSIONROOM_DEMO if simulated is None else simulated
    with transaction.atomic():
        # First: everything below, the busy check too, reads with this user's starts held.
        hold_starts(user)
        match what:
            case Ask(conversation=conversation, prompt=prompt, panel=panel, auto_fuse=chosen):
                auto_fuse = panel.auto_fuse_for(chosen)
                if conversation is not None:
                    _refuse_follow_up_if_busy(conversation)
                thread = conversation.thread_messages() if conversation else []
                expected = _gate_panel(user, prompt, thread, panel, catalog, auto_fuse=auto_fuse)
                if conversation is None:
                    run = start_conversation(user, prompt, panel, simulated=simulated, auto_fuse=auto_fuse)
                else:
                    run = create_turn_and_run(
                        conversation, prompt, panel, simulated=simulated, auto_fuse=auto_fuse
                    )
            case Retry(run=earlier):
                turn = earlier.turn
                _refuse_if_busy(turn, earlier)
                thread = turn.conversation.thread_messages(before=turn)
                # Kept answers are not asked again, so they cost nothing again.
                answers = earlier.answers.order_by("index")
                asked = [answer.model for answer in answers if not kept_by_retry(earlier, answer)]
                prompt = earlier.asked_prompt(turn)
                expected = _gate(
                    user,
                    prompt,
                    thread,
                    asked,
                    earlier.judge,
                    earlier.writer,
                    catalog,
                    auto_fuse=earlier.auto_fuse,
                    compare_only=earlier.compare_only,
                )
                run = create_retry(earlier, simulated=simulated)
            case Rejudge(run=earlier, judge=judge, writer=writer):
                turn = earlier.turn
                _refuse_if_busy(turn, earlier)
                if not can_rejudge(earlier):
                    raise LimitReached(CANNOT_REJUDGE)
                thread = turn.conversation.thread_messages(before=turn)
                prompt = earlier.asked_prompt(turn)
                judge = judge or earlier.judge
                writer = writer or earlier.writer or judge
                if not judge:
                    raise LimitReached(PICK_A_JUDGE)
                # No seat is asked: only the judge and the writer are estimated and billed.
                expected = _gate(user, prompt, thread, [], judge, writer, catalog, auto_fuse=False)
                run = create_retry(earlier, simulated=simulated, judge=judge, writer=writer, keep_all=True)
            case Rerun(turn=turn, panel=panel, auto_fuse=chosen):
                auto_fuse = panel.auto_fuse_for(chosen)
                _refuse_if_busy(turn, None)
                thread = turn.conversation.thread_messages(before=turn)
                latest = turn.runs.order_by("-pk").first()
                # A re-run asks what the run shown asked: after an edit, the edited prompt.
                edited = latest.prompt if latest else None
                expected = _gate_panel(
                    user, edited or turn.prompt, thread, panel, catalog, auto_fuse=auto_fuse
                )
                run = create_run(
                    turn, panel, simulated=simulated, retry_of=latest, prompt=edited, auto_fuse=auto_fuse
                )
            case Edit(turn=turn, prompt=prompt, panel=panel, auto_fuse=chosen):
                auto_fuse = panel.auto_fuse_for(chosen)
                _refuse_if_busy(turn, None)
                if turn.conversation.turns.filter(position__gt=turn.position).exists():
                    raise LimitReached(NOT_LAST_TURN)
                thread = turn.conversation.thread_messages(before=turn)
                expected = _gate_panel(user, prompt, thread, panel, catalog, auto_fuse=auto_fuse)
                latest = turn.runs.order_by("-pk").first()
                own = None if prompt == turn.prompt else prompt
                run = create_run(
                    turn, panel, simulated=simulated, retry_of=latest, prompt=own, auto_fuse=auto_fuse
                )
            case Call(context=thread, prompt=prompt, panel=panel, token=token, sampling=sampling):
                expected = _gate_panel(
                    user,
                    prompt,
                    thread,
                    panel,
                    catalog,
                    token,
                    auto_fuse=panel.auto_fuse,
                    options=what.options,
                )
                run = start_conversation(
                    user, prompt, panel, simulated=simulated, context=thread, listed=what.listed
                )
                run.api_token = token
                run.sampling = sampling.model_dump(exclude_none=True) if sampling else None
                run.write_answer = what.write_answer
                if what.options is not None:
                    run.options = what.options.stored()
                run.save(update_fields=["api_token", "sampling", "write_answer", "options"])
                # The run's own thread is its turn's context (execution puts it before the prompt).
                thread = []
        if expected is not None:
            run.estimated_cost = expected
            run.save(update_fields=["estimated_cost"])
    # Read here while this thread is ours: each further trip to the database thread would
    # wait behind the run's own.
    return Opened(run, loaded_new_run(run, thread, user), run.turn.conversation_id)


def launch(opened: Opened, *, services: Services | None = None) -> None:
    """Hand an opened run to a worker, or execute it here; it outlives the caller."""
    services = services or current()
    (services.dispatch or dispatch.dispatch)(opened.run.pk, opened.loaded, services)
    if opened.conversation_id is not None:
        # Other pages open on the conversation show the new turn or run, with its live stream.
        news.announce(services, opened.conversation_id, opened.run.turn_id, opened.run.pk)


async def start(user: User, what: Start, *, services: Services | None = None) -> Run:
    """Gate, create and launch a run; raise LimitReached (or RunBusy) when it may not start."""
    catalog = await budget_catalog(user, what.token if isinstance(what, Call) else None)
    opened = await sync_to_async(open_run)(user, what, catalog=catalog)
    launch(opened, services=services)
    return opened.run


async def start_call(
    user: User, what: Call, *, services: Services | None = None
) -> tuple[Run, asyncio.Queue[Event | None]]:
    """Start an API call's run, and return it with the queue of its events (ended by None),
    wherever it executes: handed to a run worker when there are workers (its events come back
    through the channel layer), else here. Raises LimitReached like `start`."""
    services = services or current()
    catalog = await budget_catalog(user, what.token)
    opened = await sync_to_async(open_run)(user, what, catalog=catalog)
    layer = services.channel_layer() if services.travels and settings.FUSIONROOM_RUN_WORKERS else None
    if layer is None:
        launch(opened, services=services.replace(here=True))
        # Listening before anything awaits: the run's task has not taken a step yet.
        return opened.run, dispatch.listen(opened.run.pk)
    events = await dispatch.listen_elsewhere(opened.run.pk, layer)
    launch(opened, services=services)
    return opened.run, events


async def stop(run_id: int, *, services: Services | None = None) -> None:
    """Ask the run to stop, wherever it executes. It saves what arrived and ends as stopped."""
    services = services or current()
    await (services.request_stop or dispatch.request_stop)(run_id)


async def wait(run_id: int) -> None:
    """Wait until the run, if this process executes it, has ended (and saved its end)."""
    await dispatch.wait_for_run(run_id)


async def unsaved(
    messages: list[dict[str, Any]],
    panel: Panel,
    endpoints: list[Endpoint],
    *,
    services: Services | None = None,
) -> AsyncIterator[Event]:
    """A run that saves nothing and is shown nowhere else (the terminal's without --save): the
    same request, client (timeouts, retries, endpoints) and web tools as a saved run's."""
    services = services or current()
    request = fusion_request(
        messages,
        seats=list(panel.seats),
        judge=panel.judge,
        writer=panel.writer or None,
        web_tools=panel.web_tools,
        catalog=await services.catalog(endpoints),
        auto=panel.auto_fuse,
        options=panel.run_options,
    )
    toolbox = toolbox_for(panel.web_tools) if request.web_search else None
    async for event in run_fusion(request, services.client_for(endpoints), toolbox=toolbox):
        yield event


async def events(run_id: int) -> AsyncIterator[Event]:
    """The pipeline's events of a run this process executes, as they come, until it ends.

    Subscribe right after `start` (with `Services(here=True)`, so the run stays in this
    process): events that came before are not replayed.
    """
    queue = dispatch.listen(run_id)
    while (event := await queue.get()) is not None:
        yield event
