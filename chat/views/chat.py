"""The chatroom: its pages, sending a message, retrying, re-running, editing and stopping a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from chat import runs
from chat.endpoints.catalog import Catalog
from chat.forms import MessageForm, auto_fuse_choice
from chat.models import Conversation, Panel, Run, Turn
from chat.runs.gate import budget_catalog
from chat.views import history as history_views
from chat.views.requests import AuthenticatedHttpRequest, HtmxHttpRequest


def _chat_context(
    request: AuthenticatedHttpRequest, conversation: Conversation | None, form: MessageForm | None = None
) -> dict[str, Any]:
    user = request.user
    turns = []
    running = None
    if conversation is not None:
        turns = list(conversation.turns.prefetch_related("runs__answers", "runs__api_token"))
        # The composer's Send is a Stop while a run of the conversation is going (the gate
        # refuses a follow-up then); static/chat/composer.js keeps it in step with the frames.
        running = Run.objects.filter(turn__conversation=conversation).active().order_by("-pk").first()
    if form is None:
        last_run = (
            Run.objects.filter(turn__conversation=conversation).order_by("-pk").first()
            if conversation
            else None
        )
        # Read once: the picker's options, the one asked for, the last turn's and the first.
        panels = list(Panel.objects.for_user(user))
        by_pk = {panel.pk: panel for panel in panels}
        asked = request.GET.get("panel", "")
        chosen = by_pk.get(int(asked)) if asked.isdigit() else None
        # A follow-up defaults to the panel of the conversation's last turn, and to its Auto-fuse.
        last_panel = None
        if last_run is not None and last_run.panel_id is not None:
            last_panel = by_pk.get(last_run.panel_id) or last_run.panel
        initial_panel = chosen or last_panel or (panels[0] if panels else None)
        if chosen is None and last_run is not None:
            auto_fuse = last_run.auto_fuse
        else:
            auto_fuse = bool(initial_panel and initial_panel.auto_fuse)
        form = MessageForm(user=user, panels=panels, initial={"panel": initial_panel, "auto_fuse": auto_fuse})
    return {
        "conversation": conversation,
        **history_views.chat_page_context(request, conversation),
        "turns": turns,
        "form": form,
        "running": running,
        "demo": settings.FUSIONROOM_DEMO,
        "owner_view": True,
    }


@login_required
@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "chat/chat.html", _chat_context(request, None))


@login_required
@require_GET
def conversation_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    return render(request, "chat/chat.html", _chat_context(request, conversation))


@login_required
@require_GET
def run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.for_user(request.user).select_related("turn"), pk=pk)
    context = {"run": run, "answers": list(run.answers.all()), "owner_view": True}
    return render(request, "chat/run.html#run", context)


@login_required
@require_GET
def turn_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A turn with its runs: what a page open on the conversation fetches when a run was added
    to it elsewhere (static/chat/tools.js, told by chat.consumers.ConversationConsumer)."""
    mine = Turn.objects.filter(conversation__in=Conversation.objects.for_user(request.user))
    turn = get_object_or_404(mine.select_related("conversation"), pk=pk)
    if not request.htmx:
        return redirect(turn.conversation)
    return _show_turn(request, turn)


def _refuse(
    request: AuthenticatedHttpRequest, conversation: Conversation | None, form: MessageForm
) -> HttpResponse:
    """The composer again, holding the user's text and saying why: in place of the one on the
    page (never added to the thread), or the whole page without JavaScript."""
    context = _chat_context(request, conversation, form)
    if not request.htmx:
        return render(request, "chat/chat.html", context, status=422)
    response = render(request, "chat/chat.html#composer", context, status=422)
    return reswap(retarget(response, "#composer"), "outerHTML")


@dataclass
class _Sent:
    """A turn and run opened by _send, with what starting and showing them needs."""

    opened: runs.Opened
    url: str


@sync_to_async
def _send(request: HtmxHttpRequest, pk: int | None, catalog: Catalog | None) -> HttpResponseBase | _Sent:
    if not request.user.is_authenticated:
        return redirect(f"{settings.LOGIN_URL}")
    signed_in = cast(AuthenticatedHttpRequest, request)
    user = signed_in.user
    conversation = None
    if pk is not None:
        conversation = Conversation.objects.for_user(user).filter(pk=pk).first()
        if conversation is None:
            raise Http404("No such conversation.")
    form = MessageForm(request.POST, user=user)
    if not form.is_valid():
        return _refuse(signed_in, conversation, form)
    data = form.cleaned_data
    ask = runs.Ask(conversation, data["message"], data["panel"], data["auto_fuse"])
    try:
        opened = runs.open_run(user, ask, catalog=catalog)
    except runs.LimitReached as refused:
        form.add_error(None, refused.message)
        return _refuse(signed_in, conversation, form)
    # Everything the response needs, read here while this thread is ours: each further trip
    # to the database thread would wait behind the run's own.
    return _Sent(opened, opened.conversation.get_absolute_url())


@require_POST
async def send_message(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponseBase:
    """Create the turn and its run, start the run on the server, and show the new turn."""
    sent = await _send(request, pk, await budget_catalog(request.user))
    if not isinstance(sent, _Sent):
        return sent
    runs.launch(sent.opened)
    if not request.htmx:
        return redirect(sent.url)
    if pk is None:
        # A new conversation gets its own address and a place in the sidebar: load its page.
        return HttpResponseClientRedirect(sent.url)
    return await sync_to_async(_render_turn)(cast(AuthenticatedHttpRequest, request), sent.opened.run)


def _render_turn(request: AuthenticatedHttpRequest, run: Run) -> HttpResponse:
    return _show_turn(request, run.turn)


def _show_turn(request: AuthenticatedHttpRequest, turn: Turn) -> HttpResponse:
    turn_runs = list(
        turn.runs.order_by("pk").prefetch_related("answers").select_related("retry_of", "api_token")
    )
    return render(request, "chat/run.html#turn", {"turn": turn, "runs": turn_runs, "owner_view": True})


async def _start_and_show(request: AuthenticatedHttpRequest, what: runs.Start) -> HttpResponseBase:
    """Start a retry or a re-run through the same gate as a new message, and show its turn."""
    try:
        run = await runs.start(await request.auser(), what)
    except runs.RunBusy as busy:
        return HttpResponse(busy.message, status=409)
    except runs.LimitReached as refused:
        return HttpResponse(refused.message, status=429)
    if not request.htmx:
        url = await sync_to_async(lambda: run.turn.conversation.get_absolute_url())()
        return redirect(url)
    return await sync_to_async(_render_turn)(request, run)


@sync_to_async
def _run_of(user: User, pk: int) -> Run:
    run = Run.objects.for_user(user).select_related("turn__conversation").filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    return run


@login_required
@require_POST
async def retry_run(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """Ask the failed or stopped seats again, keep the other answers, judge and fuse again."""
    run = await _run_of(await request.auser(), pk)
    return await _start_and_show(request, runs.Retry(run))


@login_required
@require_POST
async def rerun_turn(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """Ask a turn again with another panel; the earlier runs stay, as alternatives."""
    user = await request.auser()
    turn = await Turn.objects.filter(conversation__owner=user, pk=pk).select_related("conversation").afirst()
    if turn is None:
        raise Http404("No such turn.")
    chosen = request.POST.get("panel", "")
    panel = await Panel.objects.for_user(user).filter(pk=chosen).afirst() if chosen.isdigit() else None
    if panel is None:
        # 400, not 422: htmx swaps a 422 (a form shown again), and this text must not replace the
        # turn; the page shows it in its alert line (static/chat/app.js).
        return HttpResponse("Pick a panel in the list below the thread first.", status=400)
    return await _start_and_show(request, runs.Rerun(turn, panel, auto_fuse_choice(request.POST)))


@login_required
@require_POST
async def edit_turn(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """Ask the last turn again with an edited prompt; the earlier runs stay, as alternatives."""
    user = await request.auser()
    turn = await Turn.objects.filter(conversation__owner=user, pk=pk).select_related("conversation").afirst()
    if turn is None:
        raise Http404("No such turn.")
    form = MessageForm(request.POST, user=user)
    if not await sync_to_async(form.is_valid)():
        return await sync_to_async(_refuse_edit)(request, turn, form, " ".join(_errors(form)))
    data = form.cleaned_data
    what = runs.Edit(turn, data["message"], data["panel"], data["auto_fuse"])
    try:
        run = await runs.start(user, what)
    except runs.LimitReached as refused:
        return await sync_to_async(_refuse_edit)(request, turn, form, refused.message)
    if not request.htmx:
        return redirect(turn.conversation.get_absolute_url())
    return await sync_to_async(_render_turn)(request, run)


def _errors(form: MessageForm) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


def _refuse_edit(
    request: AuthenticatedHttpRequest, turn: Turn, form: MessageForm, message: str
) -> HttpResponse:
    """The prompt editor again, holding the edited text and saying why it was not asked."""
    if not request.htmx:
        messages.error(request, message)
        return redirect(turn.conversation.get_absolute_url())
    latest = turn.latest_run()
    context = {
        "turn": turn,
        "edited": form.data.get("message", ""),
        "panel_pk": form.data.get("panel", latest.panel_id if latest else ""),
        "edit_error": message,
        "owner_view": True,
    }
    response = render(request, "chat/run.html#edit-prompt", context, status=422)
    return reswap(retarget(response, f"#edit-{turn.pk}"), "outerHTML")


@login_required
@require_POST
async def stop_run(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    user = await request.auser()
    run = await Run.objects.for_user(user).filter(pk=pk).select_related("turn__conversation").afirst()
    if run is None:
        raise Http404("No such run.")
    await runs.stop(pk)
    if not request.htmx:
        # The composer's Stop works without JavaScript too: back to the conversation.
        return redirect(run.turn.conversation.get_absolute_url())
    return HttpResponse(status=204)
