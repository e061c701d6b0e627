"""A conversation as a versioned JSON document (export, import, fork) and as readable Markdown."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Annotated, Any, Literal, Self

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chat import import_limit
from chat.forms import MAX_PROMPT_CHARS
from chat.fusion.analysis import Analysis, Wording, analysis_markdown
from chat.fusion.consult import MAX_QUERY_CHARS
from chat.fusion.events import CallStats, Source
from chat.fusion.options import RunOptions
from chat.fusion.request import Sampling
from chat.models import Conversation, Run, SeatAnswer, Turn
from chat.rendering import render_answer

FORMAT = "fusionroom.conversation"
VERSION = 1
MAX_SEATS = 8
# The messages before an API call's question that a turn keeps (Turn.context).
MAX_CONTEXT_MESSAGES = 1000
# A copied run has no task executing it: it can never finish, so it must not say "running".
INTERRUPTED_NOTE = "It was still running when this copy was made; what had arrived by then is kept."

Count = Annotated[int, Field(ge=0)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolStep(_Document):
    tool: Literal["web_search", "web_fetch"]
    argument: str
    ok: bool
    detail: str


class AnswerDocument(_Document):
    index: Annotated[int, Field(ge=0, lt=MAX_SEATS)]
    model: Annotated[str, Field(min_length=1, max_length=200)]
    status: SeatAnswer.Status
    text: str
    reasoning: str
    error: str
    prompt_tokens: Count
    completion_tokens: Count
    cost: Amount | None
    ttft_ms: Amount | None
    duration_ms: Amount | None
    reused: bool
    # Still running when the panel was judged early: kept, not judged (false in older files).
    late: bool = False
    # What the seat searched and read, and its sources (absent in files from before web tools).
    tool_activity: list[ToolStep] = []
    sources: list[Source] = []


class RunDocument(_Document):
    panel_name: Annotated[str, Field(max_length=80)]
    judge: Annotated[str, Field(max_length=200)]
    writer: Annotated[str, Field(max_length=200)]
    simulated: bool
    web_search: bool = False
    max_tool_calls: Annotated[int, Field(ge=1, le=16)] = 8
    excluded_domains: list[str] = []
    blocked_domains: list[str] = []
    status: Run.Status
    stage: Run.Stage
    note: str
    thread_note: str
    # An API call's temperature, max_tokens and reasoning, when it set them.
    sampling: Sampling | None = None
    # The position in its turn's `runs` of the run this one re-ran, always an earlier one.
    retry_of: Count | None
    # The prompt the run was asked when the user edited the turn's (absent: the turn's own).
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)] | None = None
    # Auto-fuse: the writer answered, and consulted the panel with `consult_query` (null: it did
    # not); false in files from before Auto-fuse.
    auto_fuse: bool = False
    consult_query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)] | None = None
    # False for a run a model consulted over the API: it ended with the analysis.
    write_answer: bool = True
    # The panel's judging terms (quorum, deadline, instructions, seat settings, compare only), and
    # when the panel was judged before every seat answered; absent in older files.
    options: RunOptions = RunOptions()
    judged_at_ms: Amount | None = None
    analysis: Analysis | None
    analysis_error: str
    analysis_stats: CallStats | None
    fused_text: str
    fused_error: str
    fused_stats: CallStats | None
    prompt_tokens: Count
    completion_tokens: Count
    cost: Amount | None
    duration_ms: Amount | None
    started_at: datetime
    finished_at: datetime | None
    answers: Annotated[list[AnswerDocument], Field(max_length=MAX_SEATS)]  # answers per run

    @model_validator(mode="after")
    def _seats_are_numbered_once(self) -> Self:
        indexes = [answer.index for answer in self.answers]
        if len(set(indexes)) != len(indexes):
            raise ValueError("two answers of one run have the same seat index")
        return self


class ContextMessage(_Document):
    """One message an API caller sent before its question (Turn.context)."""

    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=settings.FUSIONROOM_MAX_THREAD_CHARS)]


class TurnDocument(_Document):
    position: Count
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    context: Annotated[list[ContextMessage], Field(max_length=MAX_CONTEXT_MESSAGES)] = []
    created_at: datetime
    runs: list[RunDocument]

    @model_validator(mode="after")
    def _retries_point_back(self) -> Self:
        for number, run in enumerate(self.runs):
            if run.retry_of is not None and run.retry_of >= number:
                raise ValueError(
                    f"run {number} says it re-ran run {run.retry_of}, which does not come before it"
                )
        return self


class ConversationDocument(_Document):
    format: Literal["fusionroom.conversation"]
    version: Literal[1]
    title: Annotated[str, Field(max_length=200)]
    turns: list[TurnDocument]

    @model_validator(mode="after")
    def _positions_are_unique(self) -> Self:
        positions = [turn.position for turn in self.turns]
        if len(set(positions)) != len(positions):
            raise ValueError("two turns have the same position")
        return self


class ImportRefused(Exception):
    """A file that is not a conversation this FusionRoom can import; the message says why, for people."""


# -- export -----------------------------------------------------------------------------------


def _turns(conversation: Conversation, upto_position: int | None) -> list[Turn]:
    turns = conversation.turns.order_by("position").prefetch_related("runs__answers")
    if upto_position is not None:
        turns = turns.filter(position__lte=upto_position)
    return list(turns)


def _answer_document(answer: SeatAnswer) -> AnswerDocument:
    return AnswerDocument(
        index=answer.index,
        model=answer.model,
        status=SeatAnswer.Status(answer.status),
        text=answer.text,
        reasoning=answer.reasoning,
        error=answer.error,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cost=answer.cost,
        ttft_ms=answer.ttft_ms,
        duration_ms=answer.duration_ms,
        reused=answer.reused,
        late=answer.late,
        tool_activity=[ToolStep.model_validate(step) for step in answer.tool_activity],
        sources=[Source.model_validate(source) for source in answer.sources],
    )


def _run_document(run: Run, position_of: dict[int, int]) -> RunDocument:
    return RunDocument(
        panel_name=run.panel_name,
        judge=run.judge,
        writer=run.writer,
        simulated=run.simulated,
        web_search=run.web_search,
        max_tool_calls=run.max_tool_calls,
        excluded_domains=list(run.excluded_domains),
        blocked_domains=list(run.blocked_domains),
        status=Run.Status(run.status),
        stage=Run.Stage(run.stage),
        note=run.note,
        thread_note=run.thread_note,
        sampling=Sampling.model_validate(run.sampling) if run.sampling else None,
        # Alternatives are always of the same turn; a link elsewhere (never made) would be dropped.
        retry_of=position_of.get(run.retry_of_id) if run.retry_of_id is not None else None,
        prompt=run.prompt,
        auto_fuse=run.auto_fuse,
        consult_query=run.consult_query or None,
        write_answer=run.write_answer,
        options=run.run_options,
        judged_at_ms=run.judged_at_ms,
        analysis=Analysis.model_validate(run.analysis) if run.analysis is not None else None,
        analysis_error=run.analysis_error,
        analysis_stats=CallStats.model_validate(run.analysis_stats) if run.analysis_stats else None,
        fused_text=run.fused_text,
        fused_error=run.fused_error,
        fused_stats=CallStats.model_validate(run.fused_stats) if run.fused_stats else None,
        prompt_tokens=run.prompt_tokens,
        completion_tokens=run.completion_tokens,
        cost=run.cost,
        duration_ms=run.duration_ms,
        started_at=run.started_at,
        finished_at=run.finished_at,
        answers=[_answer_document(answer) for answer in run.answers.all()],
    )


def _turn_document(turn: Turn) -> TurnDocument:
    runs = sorted(turn.runs.all(), key=lambda run: run.pk)
    position_of = {run.pk: number for number, run in enumerate(runs)}
    return TurnDocument(
        position=turn.position,
        prompt=turn.prompt,
        context=[ContextMessage.model_validate(message) for message in turn.context],
        created_at=turn.created_at,
        runs=[_run_document(run, position_of) for run in runs],
    )


def conversation_document(
    conversation: Conversation, upto_position: int | None = None
) -> ConversationDocument:
    """Everything that makes the conversation, up to a turn's position when one is given."""
    return ConversationDocument(
        format=FORMAT,
        version=VERSION,
        title=conversation.title,
        turns=[_turn_document(turn) for turn in _turns(conversation, upto_position)],
    )


def export_json(conversation: Conversation) -> str:
    return json.dumps(
        conversation_document(conversation).model_dump(mode="json"), indent=2, ensure_ascii=False
    )


def export_filename(conversation: Conversation, extension: str) -> str:
    return f"{slugify(conversation.title)[:80].strip('-') or f'conversation-{conversation.pk}'}.{extension}"


# -- import -----------------------------------------------------------------------------------


def _where(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location) or "the document"


def _readable(error: ValidationError, limit: int = 5) -> str:
    problems = [f"{_where(item['loc'])}: {item['msg']}" for item in error.errors()[:limit]]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class ImportLimits:
    """How much one file may hold (FUSIONROOM_MAX_IMPORT_* settings), all checked before any write."""

    bytes: int
    depth: int
    turns: int
    runs_per_turn: int
    rows: int
    text_chars: int
    list_items: int

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            bytes=settings.FUSIONROOM_MAX_IMPORT_BYTES,
            depth=settings.FUSIONROOM_MAX_IMPORT_DEPTH,
            turns=settings.FUSIONROOM_MAX_IMPORT_TURNS,
            runs_per_turn=settings.FUSIONROOM_MAX_IMPORT_RUNS_PER_TURN,
            rows=settings.FUSIONROOM_MAX_IMPORT_ROWS,
            text_chars=settings.FUSIONROOM_MAX_IMPORT_TEXT_CHARS,
            list_items=settings.FUSIONROOM_MAX_IMPORT_LIST_ITEMS,
        )


def too_large_message(limits: ImportLimits) -> str:
    return f"This file is too large: at most {limits.bytes / (1024 * 1024):g} MB."


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deeply the JSON text's arrays and objects nest, counted without parsing it (strings
    removed, then brackets), so no file can reach the parser's recursion with it."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _texts_and_lists(value: object, location: tuple[int | str, ...]) -> Iterator[tuple[str, object]]:
    """Every string and every list in a document, with where it is."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _texts_and_lists(getattr(value, name), (*location, name))
    elif isinstance(value, list):
        yield _where(location), value
        for number, item in enumerate(value):
            yield from _texts_and_lists(item, (*location, number))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts_and_lists(item, (*location, str(key)))
    elif isinstance(value, str):
        yield _where(location), value


def _over_a_limit(document: ConversationDocument, limits: ImportLimits) -> str:
    """Why the document holds more than an import may write, naming the field; "" when it does not."""
    if len(document.turns) > limits.turns:
        return f"turns: {len(document.turns):,} turns; at most {limits.turns:,}"
    rows = len(document.turns)
    for number, turn in enumerate(document.turns):
        if len(turn.runs) > limits.runs_per_turn:
            return f"turns.{number}.runs: {len(turn.runs):,} runs; at most {limits.runs_per_turn:,} a turn"
        rows += sum(1 + len(run.answers) for run in turn.runs)
    if rows > limits.rows:
        return f"turns: {rows:,} turns, runs and answers in all; at most {limits.rows:,}"
    for where, value in _texts_and_lists(document, ()):
        if isinstance(value, str) and len(value) > limits.text_chars:
            return f"{where}: {len(value):,} characters; at most {limits.text_chars:,}"
        counted = where not in {"turns"} and not where.endswith((".runs", ".answers"))
        if isinstance(value, list) and counted and len(value) > limits.list_items:
            return f"{where}: {len(value):,} items; at most {limits.list_items:,}"
    return ""


def parse_document(data: bytes, limits: ImportLimits | None = None) -> ConversationDocument:
    """The validated document in a file, within the limits; ImportRefused with a message a person
    can act on, naming the field that is wrong or too large."""
    limits = limits or ImportLimits.from_settings()
    if len(data) > limits.bytes:
        raise ImportRefused(too_large_message(limits))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused("This file is not text: choose a JSON file exported by FusionRoom.") from None
    if (depth := nesting_depth(text)) > limits.depth:
        raise ImportRefused(
            f"This file nests {depth} levels deep; an export nests at most {limits.depth}: "
            "choose a JSON file exported by FusionRoom."
        )
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportRefused(
            f"This file is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None
    except RecursionError:  # the depth check should have caught it; never a 500 either way
        raise ImportRefused(
            "This file nests too deeply: choose a JSON file exported by FusionRoom."
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ImportRefused(
            "This file is not a FusionRoom conversation: choose a JSON file exported by FusionRoom."
        )
    if raw.get("version") != VERSION:
        raise ImportRefused(
            f"This file is version {raw.get('version')!r} of the export format; "
            f"this FusionRoom reads version {VERSION}."
        )
    try:
        document = ConversationDocument.model_validate(raw)
    except ValidationError as error:
        raise ImportRefused(f"This file does not match the export format: {_readable(error)}.") from None
    if problem := _over_a_limit(document, limits):
        raise ImportRefused(f"This file holds more than an import may: {problem}.")
    return document


def _settled(run: RunDocument) -> RunDocument:
    if run.status != Run.Status.RUNNING:
        return run
    # Ended as a run whose process died is (Run.end): its unfinished answers as such a run's.
    note = f"{run.note} {INTERRUPTED_NOTE}".strip()
    ended = SeatAnswer.ended_values(Run.Status.INTERRUPTED, note=note, began=True)
    answers = [
        answer.model_copy(update=ended) if answer.status in SeatAnswer.UNFINISHED else answer
        for answer in run.answers
    ]
    return run.model_copy(
        update={
            "status": Run.Status.INTERRUPTED,
            "stage": Run.Stage.FINISHED,
            "note": note,
            "answers": answers,
        }
    )


def _create_runs(turn: Turn, documents: Iterable[RunDocument]) -> list[Run]:
    created: list[Run] = []
    for document in map(_settled, documents):
        run = Run.objects.create(
            turn=turn,
            panel=None,  # panels belong to their owner; the run keeps the panel's name
            panel_name=document.panel_name,
            judge=document.judge,
            writer=document.writer,
            simulated=document.simulated,
            web_search=document.web_search,
            max_tool_calls=document.max_tool_calls,
            excluded_domains=document.excluded_domains,
            blocked_domains=document.blocked_domains,
            status=document.status,
            stage=document.stage,
            note=document.note,
            thread_note=document.thread_note,
            sampling=document.sampling.model_dump(exclude_none=True) if document.sampling else None,
            retry_of=created[document.retry_of] if document.retry_of is not None else None,
            prompt=document.prompt,
            auto_fuse=document.auto_fuse,
            consult_query=document.consult_query,
            write_answer=document.write_answer,
            options=document.options.stored(),
            judged_at_ms=document.judged_at_ms,
            analysis=document.analysis.model_dump() if document.analysis else None,
            analysis_error=document.analysis_error,
            analysis_stats=document.analysis_stats.model_dump() if document.analysis_stats else None,
            fused_text=document.fused_text,
            # Rendered here from the text, never taken from the document: the HTML is shown as is.
            fused_html=render_answer(document.fused_text),
            fused_error=document.fused_error,
            fused_stats=document.fused_stats.model_dump() if document.fused_stats else None,
            prompt_tokens=document.prompt_tokens,
            completion_tokens=document.completion_tokens,
            cost=document.cost,
            duration_ms=document.duration_ms,
            finished_at=document.finished_at,
        )
        run.started_at = document.started_at  # auto_now_add overrides it on insert
        SeatAnswer.objects.bulk_create(
            SeatAnswer(run=run, html=render_answer(answer.text), **answer.model_dump())
            for answer in document.answers
        )
        created.append(run)
    return created


# A conversation still hidden this long after its import began was left by a process that died.
ABANDONED_AFTER = timedelta(hours=1)


def _create_turn(conversation: Conversation, document: TurnDocument) -> None:
    turn = Turn.objects.create(
        conversation=conversation,
        position=document.position,
        prompt=document.prompt,
        context=[message.model_dump() for message in document.context],
    )
    runs = _create_runs(turn, document.runs)
    # update() writes the times as they are; save() would stamp auto_now_add fields again.
    Turn.objects.filter(pk=turn.pk).update(created_at=document.created_at)
    Run.objects.bulk_update(runs, ["started_at"])


def discard(conversation: Conversation) -> None:
    """Delete a conversation a turn at a time, so no deletion holds the write lock for long."""
    for pk in conversation.turns.values_list("pk", flat=True):
        Turn.objects.filter(pk=pk).delete()
    conversation.delete()


def discard_abandoned_imports(owner: Any) -> None:
    for conversation in Conversation.objects.filter(
        owner=owner, importing=True, created_at__lt=timezone.now() - ABANDONED_AFTER
    ):
        discard(conversation)


def import_document(document: ConversationDocument, owner: Any, *, title: str | None = None) -> Conversation:
    """A new conversation of `owner` made from the document, all or nothing.

    Written a turn per transaction, one import at a time and pausing between turns, so a large
    import never holds the database's write lock for long; the conversation stays hidden
    (`importing`) until its last turn is in, and is deleted if the import fails. Times are kept
    as in the document, so exporting the copy gives the same document back. A run that was
    still running becomes interrupted: nothing executes a copy.
    """
    with import_limit.writing_slot():
        discard_abandoned_imports(owner)
        conversation = Conversation.objects.create(
            owner=owner, title=document.title if title is None else title, importing=True
        )
        try:
            for turn_document in sorted(document.turns, key=lambda turn: turn.position):
                began = time.monotonic()
                with transaction.atomic():
                    _create_turn(conversation, turn_document)
                # As long again with the lock free: a writer waiting for it finds it free often.
                time.sleep(time.monotonic() - began)
            Conversation.objects.filter(pk=conversation.pk).update(importing=False)
        except BaseException:
            discard(conversation)
            raise
    conversation.importing = False
    return conversation


IMPORTED_SUFFIX = " (imported)"
_TITLE_LENGTH = 200


def imported_title(title: str, owner: Any) -> str:
    """The title of an import: the original's, marked "(imported)", or "(imported 2)" and on when
    the owner has that one already, so the copy is never mistaken for its original in the list."""
    base = title.strip() or "Untitled conversation"
    taken = set(Conversation.objects.filter(owner=owner).values_list("title", flat=True))
    number = 1
    while True:
        suffix = IMPORTED_SUFFIX if number == 1 else f" (imported {number})"
        candidate = base[: _TITLE_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def import_file(data: bytes, owner: Any) -> Conversation:
    document = parse_document(data)
    return import_document(document, owner, title=imported_title(document.title, owner))


# -- Markdown -------------------------------------------------------------------------------

# A person reads seats by number and model; the writer's prompt names them by letter instead.
FOR_PEOPLE = Wording(
    heading="####",  # under the run's "### Analysis"
    held_by="{point} — {seats}",
    insight="{seat}: {insight} ({why})",
    assessment="Judge",
    nobody="no seat",
)


@dataclass(frozen=True)
class _MarkdownSeat:
    answer: SeatAnswer
    settings: str  # the seat's own sampling in words ("temp 0.9 · effort high"); "" for none


@dataclass(frozen=True)
class _MarkdownRun:
    run: Run
    seats: list[_MarkdownSeat]
    analysis: str  # the judge's analysis as Markdown; "" when there is none
    options: RunOptions


@dataclass(frozen=True)
class _MarkdownTurn:
    turn: Turn
    runs: list[_MarkdownRun]


@dataclass(frozen=True)
class _Total:
    runs: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    some_cost_unknown: bool

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _seat_namer(answers: Sequence[SeatAnswer]) -> Callable[[int], str]:
    models = {answer.index: answer.model for answer in answers}

    def name(seat: int) -> str:
        return f"Seat {seat + 1} ({models[seat]})" if seat in models else f"Seat {seat + 1}"

    return name


def _markdown_run(run: Run) -> _MarkdownRun:
    answers = list(run.answers.all())
    analysis = (
        analysis_markdown(Analysis.model_validate(run.analysis), _seat_namer(answers), FOR_PEOPLE)
        if run.analysis
        else ""
    )
    options = run.run_options
    seats = [_MarkdownSeat(answer, options.for_seat(answer.index).summary()) for answer in answers]
    return _MarkdownRun(run=run, seats=seats, analysis=analysis, options=options)


def _total(runs: Sequence[Run]) -> _Total:
    costs = [run.cost for run in runs if run.cost is not None]
    return _Total(
        runs=len(runs),
        prompt_tokens=sum(run.prompt_tokens for run in runs),
        completion_tokens=sum(run.completion_tokens for run in runs),
        cost=sum(costs) if costs else None,
        some_cost_unknown=bool(costs) and len(costs) < len(runs),
    )


def export_markdown(conversation: Conversation) -> str:
    """The conversation for people: prompts, answers, analyses, fused answers and what they cost."""
    turns = [
        _MarkdownTurn(turn, [_markdown_run(run) for run in sorted(turn.runs.all(), key=lambda run: run.pk)])
        for turn in _turns(conversation, None)
    ]
    total = _total([entry.run for turn in turns for entry in turn.runs])
    return render_to_string("chat/export.md", {"conversation": conversation, "turns": turns, "total": total})
