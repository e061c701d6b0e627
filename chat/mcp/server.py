"""The MCP server's tools, list_panels, fuse and get_run, answering the caller each request comes from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from asgiref.sync import sync_to_async
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from chat.endpoints.crypto import KeyUnavailable
from chat.forms import MAX_PROMPT_CHARS
from chat.fusion.events import Event, RunDone
from chat.fusion.options import LateSeats, SeatOptions
from chat.mcp.caller import Caller
from chat.mcp.panels import UnknownPanel, callers_panels, find_panel, with_web_search
from chat.mcp.reports import fused_report, run_url, saved_report
from chat.mcp.terms import judging_options
from chat.models import Panel, Run
from chat.runs import Call, LimitReached, start_call, wait
from chat.runs.outcome import Outcome, progress_step, read_early_end

# Longer than any panel's name or model id: what a `panel` argument may be (it is echoed in errors).
PANEL_ARGUMENT_CHARS = 200
# The largest primary key there can be (a signed 64-bit integer): a larger run id is refused
# before any query, which the database could not even compare.
LARGEST_ID = 2**63 - 1
# Where the HTTP transport puts the caller it authenticated, in the request's ASGI scope.
CALLER_SCOPE_KEY = "fusionroom.mcp_caller"
INSTRUCTIONS = (
    "FusionRoom asks a panel of models one question, has a judge compare their answers and "
    "writes one fused answer. A panel takes a while and costs more than one model: use `fuse` "
    "for questions worth several perspectives (research, architecture decisions, disputed facts), "
    "written so they stand alone (the panel sees nothing else). `list_panels` names the panels; "
    "`get_run` reads a run again by the id `fuse` gives."
)


class PanelInfo(BaseModel):
    name: str
    model: str = Field(description="The API's model id of the panel (GET /v1/models)")
    seats: list[str]
    judge: str
    writer: str
    web_search: bool


class PanelList(BaseModel):
    panels: list[PanelInfo]


def caller_of(ctx: Context[Any, Any]) -> Caller:
    """The caller of this request: the HTTP request's (its scope says), or stdio's one user."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None)
    found = scope.get(CALLER_SCOPE_KEY) if scope is not None else ctx.request_context.lifespan_context
    if not isinstance(found, Caller):
        # The transports always name one; a server built without is a programming error.
        raise ToolError("This MCP server does not know who is calling.")
    return found


async def list_panels(ctx: Context[Any, Any]) -> PanelList:
    """The panels `fuse` can use: your presets and saved panels, with their seats, judge, writer
    and whether the seats search the web."""
    caller = caller_of(ctx)
    panels = await sync_to_async(callers_panels)(caller)
    return PanelList(panels=[_info(model_id, panel) for model_id, panel in panels])


def _info(model_id: str, panel: Panel) -> PanelInfo:
    return PanelInfo(
        name=panel.name,
        model=model_id,
        seats=list(panel.seats),
        judge=panel.judge,
        writer=panel.writer_model,
        web_search=panel.web_search,
    )


async def fuse(
    question: Annotated[str, Field(description="The question, self-contained: the panel sees nothing else")],
    panel: Annotated[
        str | None,
        Field(
            description="A panel's name (list_panels), or its model id; default: the first",
            max_length=PANEL_ARGUMENT_CHARS,
        ),
    ] = None,
    web: Annotated[
        bool | None, Field(description="Let the seats search the web (default: as the panel says)")
    ] = None,
    quorum: Annotated[int | None, Field(description="Judge when this many seats have answered")] = None,
    deadline: Annotated[
        float | None, Field(description="Judge at this many seconds with what has answered (at least two)")
    ] = None,
    late_seats: Annotated[
        LateSeats | None, Field(description="Seats still running when judged: keep (shown late) or stop")
    ] = None,
    judge_instructions: Annotated[str | None, Field(description="What the judge should scrutinise")] = None,
    writer_instructions: Annotated[
        str | None, Field(description="How the fused answer is written: form, length, audience")
    ] = None,
    system_prompt: Annotated[str | None, Field(description="The seats' system prompt")] = None,
    compare_only: Annotated[
        bool | None, Field(description="Only the seats' answers side by side: no judge, no fused answer")
    ] = None,
    seat_settings: Annotated[
        list[SeatOptions] | None,
        Field(description="Each seat's temperature, reasoning_effort, max_tokens, seed, by seat order"),
    ] = None,
    *,
    ctx: Context[Any, Any],
) -> CallToolResult:
    """Ask a panel of models the question: they answer, a judge compares the answers (consensus,
    contradictions, unique insights, blind spots) and one fused answer is written. Takes a minute
    or more; progress is reported per step, and the first step names the run for `get_run`. The
    judging terms (quorum, deadline, instructions...) are the panel's unless given here."""
    caller = caller_of(ctx)
    if not question.strip():
        raise ToolError("The question is empty.")
    if len(question) > MAX_PROMPT_CHARS:
        raise ToolError(f"The question is {len(question):,} characters; the limit is {MAX_PROMPT_CHARS:,}.")
    given = {
        "quorum": quorum,
        "deadline_s": deadline,
        "late_seats": late_seats,
        "judge_instructions": judge_instructions,
        "writer_instructions": writer_instructions,
        "system_prompt": system_prompt,
        "compare_only": compare_only,
        "seats": seat_settings,
    }
    try:
        chosen = with_web_search(await sync_to_async(find_panel)(caller, panel), web)
        options = judging_options(chosen.run_options, given, seats=len(chosen.seats))
        what = Call(context=[], prompt=question, panel=chosen, token=caller.token, options=options)
        run, events = await start_call(caller.user, what)
    except UnknownPanel as error:
        raise ToolError(error.message) from None
    except LimitReached as error:
        # The start gate's own words: which limit or budget, and what is left.
        raise ToolError(error.message) from None
    except KeyUnavailable as error:
        # A budget's estimate reads the user's endpoints, and with them their keys.
        raise ToolError(f"{error.user_message} (Settings → keys)") from None
    url = await sync_to_async(run_url)(caller, run)
    progress = Progress(ctx, seats=len(chosen.seats))
    await progress.report(f"run {run.pk} started ({url}); get_run({run.pk}) reads it again")
    outcome = Outcome(list(chosen.seats), chosen.judge, chosen.writer_model)
    while (event := await events.get()) is not None:
        outcome.apply(event)
        await progress.step(event)
        if isinstance(event, RunDone):
            break
    # Its end saved before the answer goes out (when this process executes it): a get_run
    # right after reads the run as ended.
    await wait(run.pk)
    await read_early_end(outcome, run.pk)
    report = fused_report(outcome, run, url)
    if outcome.status == "error":
        said = f"The run failed ({outcome.error_code}): {outcome.note} Run {run.pk}: {url}"
        return _result(said, report, is_error=True)
    return _result(outcome.content(), report)


def _result(text: str, report: dict[str, Any], *, is_error: bool = False) -> CallToolResult:
    """A tool's answer: the text for the model to read, the report for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=report, is_error=is_error
    )


class Progress:
    """A `fuse` call's progress notifications (when the client asked for them with a progressToken):
    one per step of the run, out of about as many as a run of this panel takes."""

    def __init__(self, ctx: Context[Any, Any], *, seats: int) -> None:
        self.ctx = ctx
        # The run's start, each seat's start and answer, the judge's start and end, the writer.
        self.total = 1 + 2 * seats + 3
        self.done = 0

    async def report(self, message: str) -> None:
        self.done += 1
        await self.ctx.report_progress(self.done, max(self.total, self.done), message)

    async def step(self, event: Event) -> None:
        if (said := progress_step(event)) is not None:
            await self.report(said)


async def get_run(
    run_id: Annotated[int, Field(description="The run id `fuse` gave", ge=1, le=LARGEST_ID)],
    ctx: Context[Any, Any],
) -> CallToolResult:
    """A run of yours again, by its id: its status (running until it ends), the fused answer, the
    analysis and the seats. For clients whose calls time out before a `fuse` ends."""
    caller = caller_of(ctx)
    report = await sync_to_async(_saved_report)(caller, run_id)
    if report is None:
        raise ToolError(f"There is no run {run_id} of yours.")
    if report["status"] == Run.Status.RUNNING:
        # What it has so far stays in the report; the text must not pass for the answer.
        return _result(f"Run {run_id} is still running: ask get_run again in a moment.", report)
    text = report["answer"] or f"Run {run_id} is {report['status']}. {report['note']}".strip()
    return _result(text, report)


def _saved_report(caller: Caller, run_id: int) -> dict[str, Any] | None:
    # Another user's run is "not found", exactly like one that does not exist.
    run = (
        Run.objects.filter(pk=run_id, turn__conversation__owner=caller.user)
        .select_related("turn__conversation")
        .first()
    )
    return None if run is None else saved_report(run, run_url(caller, run))


def build_server(caller: Caller | None = None) -> MCPServer[Caller | None]:
    """The MCP server. Over stdio it serves `caller`; over HTTP (caller None) each request's
    scope names its own (chat.mcp.http)."""

    @asynccontextmanager
    async def lifespan(server: MCPServer[Caller | None]) -> AsyncIterator[Caller | None]:
        yield caller

    server: MCPServer[Caller | None] = MCPServer("FusionRoom", instructions=INSTRUCTIONS, lifespan=lifespan)
    looks = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(list_panels, annotations=looks)
    server.add_tool(fuse, annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    server.add_tool(get_run, annotations=looks)
    return server
