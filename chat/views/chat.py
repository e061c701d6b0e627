"""The chatroom: its pages, sending a message, retrying, re-running and stopping a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat import runs
from chat.endpoints import resolve as endpoints
from chat.endpoints.catalog import Catalog, estimate_run, load_catalog
from chat.forms import MessageForm
from chat.models import Conversation, Panel, Run, SpendBudget, Turn
from chat.providers.types import Endpoint
from chat.runs import gate as limits
from chat.views import history as history_views


def _chat_context(
    request: HttpRequest, conversation: Conversation | None, form: MessageForm | None = None
) -> dict[str, Any]:
    user = request.user
    turns = []
    if conversation is not None:
        turns = list(conversation.turns.prefetch_related("runs__answers"))
    if form is None:
        last_run = (
            Run.objects.filter(turn__conversation=conversation).order_by("-pk").first()
            if conversation
            else None
        )
        panels = Panel.objects.for_user(user)
        asked = request.GET.get("panel", "")
        chosen = panels.filter(pk=asked).first() if asked.isdigit() else None
        # A follow-up defaults to the panel of the conversation's last turn.
        initial_panel = chosen or (last_run.panel if last_run and last_run.panel else panels.first())
        form = MessageForm(user=user, initial={"panel": initial_panel})
    return {
        "conversation": conversation,
        **history_views.chat_page_context(request, conversation),
        "turns": turns,
        "form": form,
        "demo": settings.FUSIONROOM_DEMO,
        "owner_view": True,
    }


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/chat.html", _chat_context(request, None))


@login_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    return render(request, "chat/chat.html", _chat_context(request, conversation))


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.for_user(request.user).select_related("turn"), pk=pk)
    context = {"run": run, "answers": list(run.answers.all()), "owner_view": True}
    return render(request, "chat/run.html#run", context)


def _refuse(request: HttpRequest, conversation: Conversation | None, form: MessageForm) -> HttpResponse:
    context = _chat_context(request, conversation, form)
    template = "chat/chat.html#composer" if request.htmx else "chat/chat.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=422)


def _estimate(panel: Panel, catalog: Catalog | None) -> float | None:
    if catalog is None:
        return None
    return estimate_run(list(panel.seats), panel.judge, panel.writer_model, catalog).cost


@dataclass
class _Sent:
    """A turn and run created by _send, with what starting and showing them needs."""

    run: Run
    url: str
    loaded: runs.Loaded | None


@sync_to_async
def _send(request: HttpRequest, pk: int | None, catalog: Catalog | None) -> HttpResponseBase | _Sent:
    user = request.user
    if not user.is_authenticated:
        return redirect(f"{settings.LOGIN_URL}")
    conversation = None
    if pk is not None:
        conversation = Conversation.objects.for_user(user).filter(pk=pk).first()
        if conversation is None:
            raise Http404("No such conversation.")
    form = MessageForm(request.POST, user=user)
    if not form.is_valid():
        return _refuse(request, conversation, form)
    prompt, panel = form.cleaned_data["message"], form.cleaned_data["panel"]
    thread = conversation.thread_messages() if conversation else []
    try:
        with transaction.atomic():
            # Checked before any provider is called, in the transaction that creates the run.
            limits.check_can_start(
                user,
                thread_chars=len(prompt) + sum(len(m["content"]) for m in thread),
                estimate=_estimate(panel, catalog),
            )
            conversation = conversation or Conversation.objects.create(owner=user)
            run = runs.create_turn_and_run(conversation, prompt, panel, simulated=settings.FUSIONROOM_DEMO)
    except limits.LimitReached as refused:
        form.add_error(None, refused.message)
        return _refuse(request, conversation, form)
    # Everything the response and the run's start need, read here while this thread is ours:
    # each further trip to the database thread would wait behind the run's own.
    return _Sent(run, conversation.get_absolute_url(), runs.loaded_new_run(run, thread, user))


@sync_to_async
def _budgeted_endpoints(user: Any) -> list[Endpoint] | None:
    """The user's endpoints when a spend budget is set (its check needs the catalog), else None."""
    if not user.is_authenticated or not SpendBudget.objects.filter(user=user).exists():
        return None
    return endpoints.endpoints_for(user)


async def _catalog_if_budgeted(request: HttpRequest) -> Catalog | None:
    """The catalog, for the estimate a spend budget is checked against; None without a budget."""
    found = await _budgeted_endpoints(request.user)
    return None if found is None else await load_catalog(found)


@require_POST
async def send_message(request: HttpRequest, pk: int | None = None) -> HttpResponseBase:
    """Create the turn and its run, start the run on the server, and show the new turn."""
    sent = await _send(request, pk, await _catalog_if_budgeted(request))
    if not isinstance(sent, _Sent):
        return sent
    runs.start_run(sent.run.pk, loaded=sent.loaded)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect(sent.url)
    if pk is None:
        # A new conversation gets its own address and a place in the sidebar: load its page.
        return HttpResponseClientRedirect(sent.url)
    return await sync_to_async(_render_turn)(request, sent.run)


def _render_turn(request: HttpRequest, run: Run) -> HttpResponse:
    turn = run.turn
    runs = list(turn.runs.order_by("pk").prefetch_related("answers").select_related("retry_of"))
    return render(request, "chat/run.html#turn", {"turn": turn, "runs": runs, "owner_view": True})


async def _start_and_show(request: HttpRequest, run: Run) -> HttpResponseBase:
    runs.start_run(run.pk)
    if not request.htmx:  # type: ignore[attr-defined]
        url = await sync_to_async(lambda: run.turn.conversation.get_absolute_url())()
        return redirect(url)
    return await sync_to_async(_render_turn)(request, run)


@sync_to_async
def _finished_run_of(user: Any, pk: int) -> Run:
    run = Run.objects.for_user(user).select_related("turn__conversation").filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    return run


@login_required
@require_POST
async def retry_run(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Ask the failed or stopped seats again, keep the other answers, judge and fuse again."""
    user = await request.auser()
    run = await _finished_run_of(user, pk)
    if run.is_running:
        return HttpResponse("This run is still going: stop it first, or wait for it.", status=409)
    retry = await sync_to_async(runs.create_retry)(run, simulated=settings.FUSIONROOM_DEMO)
    return await _start_and_show(request, retry)


@login_required
@require_POST
async def rerun_turn(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Ask a turn again with another panel; the earlier runs stay, as alternatives."""
    user = await request.auser()
    turn = await Turn.objects.filter(conversation__owner=user, pk=pk).select_related("conversation").afirst()
    if turn is None:
        raise Http404("No such turn.")
    chosen = request.POST.get("panel", "")
    panel = await Panel.objects.for_user(user).filter(pk=chosen).afirst() if chosen.isdigit() else None
    if panel is None:
        return HttpResponse("Pick a panel in the list below the thread first.", status=422)
    if await turn.runs.filter(status=Run.Status.RUNNING).aexists():
        return HttpResponse("A run of this turn is still going: stop it first, or wait for it.", status=409)
    latest = await turn.runs.order_by("-pk").afirst()
    run = await sync_to_async(runs.create_run)(
        turn, panel, simulated=settings.FUSIONROOM_DEMO, retry_of=latest
    )
    return await _start_and_show(request, run)


@login_required
@require_POST
async def stop_run(request: HttpRequest, pk: int) -> HttpResponse:
    user = await request.auser()
    exists = await Run.objects.for_user(user).filter(pk=pk).aexists()
    if not exists:
        raise Http404("No such run.")
    await runs.request_stop(pk)
    return HttpResponse(status=204)
