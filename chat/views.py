"""Views of the chat app: the chatroom, sending a message, stopping a run, signing up."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat import runs
from chat.forms import MessageForm, SignUpForm
from chat.models import Conversation, Panel, Run


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
        "conversations": Conversation.objects.for_user(user)[:100],
        "turns": turns,
        "form": form,
        "demo": settings.FUSIONROOM_DEMO,
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
    return render(request, "chat/run.html#run", {"run": run, "answers": list(run.answers.all())})


@sync_to_async
def _send(request: HttpRequest, pk: int | None) -> tuple[HttpResponseBase | None, Run | None]:
    user = request.user
    if not user.is_authenticated:
        return redirect(f"{settings.LOGIN_URL}"), None
    conversation = None
    if pk is not None:
        conversation = Conversation.objects.for_user(user).filter(pk=pk).first()
        if conversation is None:
            raise Http404("No such conversation.")
    form = MessageForm(request.POST, user=user)
    if not form.is_valid():
        context = _chat_context(request, conversation, form)
        template = "chat/chat.html#composer" if request.htmx else "chat/chat.html"  # type: ignore[attr-defined]
        return render(request, template, context, status=422), None
    if conversation is None:
        conversation = Conversation.objects.create(owner=user)
    run = runs.create_turn_and_run(
        conversation,
        form.cleaned_data["message"],
        form.cleaned_data["panel"],
        simulated=settings.FUSIONROOM_DEMO,
    )
    return None, run


@require_POST
async def send_message(request: HttpRequest, pk: int | None = None) -> HttpResponseBase:
    """Create the turn and its run, start the run on the server, and show the new turn."""
    refused, run = await _send(request, pk)
    if refused is not None:
        return refused
    assert run is not None
    runs.start_run(run.pk)
    url = await sync_to_async(lambda: run.turn.conversation.get_absolute_url())()
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect(url)
    if pk is None:
        # A new conversation gets its own address and a place in the sidebar: load its page.
        return HttpResponseClientRedirect(url)
    return await sync_to_async(_render_turn)(request, run)


def _render_turn(request: HttpRequest, run: Run) -> HttpResponse:
    return render(request, "chat/run.html#turn", {"turn": run.turn, "runs": [run], "live_run": run})


@login_required
@require_POST
async def stop_run(request: HttpRequest, pk: int) -> HttpResponse:
    user = await request.auser()
    exists = await Run.objects.for_user(user).filter(pk=pk).aexists()
    if not exists:
        raise Http404("No such run.")
    await runs.request_stop(pk)
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
