"""The sidebar's history: listing and searching conversations, renaming and deleting them, and spend."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from chat import runs
from chat.history import (
    BadCursor,
    Cursor,
    HistoryPage,
    clean_title,
    conversation_spend,
    history_page,
    with_api_token_name,
)
from chat.models import Conversation, Run
from chat.views.requests import AuthenticatedHttpRequest, HtmxHttpRequest

SIDEBAR = "chat/sidebar.html"
TITLE = "chat/title.html#title"
# The event a rename tells the page (static/chat/tools.js): the heading, the sidebar entry and
# the tab's title all show the new title, whichever of them was used to rename.
RENAMED_EVENT = "conversationRenamed"


def _cursor(request: HtmxHttpRequest) -> Cursor | None:
    raw = request.GET.get("before", "")
    return Cursor.parse(raw) if raw else None


def _current_pk(request: HtmxHttpRequest) -> int | None:
    """The conversation shown by the page an htmx request came from, if it shows one."""
    path = request.htmx.current_url_abs_path if request.htmx else None
    if not path:
        return None
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.kwargs.get("pk") if match.url_name == "conversation" else None


def sidebar_for(request: AuthenticatedHttpRequest, conversation: Conversation | None) -> HistoryPage:
    """The sidebar of a full page; without JavaScript, ?q= searches and ?before= pages it."""
    try:
        before = _cursor(request)
    except BadCursor:
        before = None  # a mangled link shows the newest page rather than an error page
    return history_page(
        request.user,
        query=request.GET.get("q", ""),
        before=before,
        current_pk=conversation.pk if conversation else None,
    )


def chat_page_context(request: AuthenticatedHttpRequest, conversation: Conversation | None) -> dict[str, Any]:
    """What the chat page's sidebar and spend summary need, each queried only if it is rendered
    (an htmx swap of the composer renders neither)."""
    return {
        "sidebar": SimpleLazyObject(lambda: sidebar_for(request, conversation)),
        "spend": SimpleLazyObject(lambda: conversation_spend(conversation)) if conversation else None,
    }


@login_required
@require_GET
def conversation_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """htmx: the list for a search (#list), or the page after `before` (#items) for "Load more"."""
    if not request.htmx:
        # Without JavaScript the search form and "Load more" go to the chat page itself.
        query = request.GET.urlencode()
        return redirect(f"{reverse('home')}?{query}" if query else reverse("home"))
    try:
        before = _cursor(request)
    except BadCursor:
        return HttpResponseBadRequest("That is not a page of your conversations.")
    page = history_page(
        request.user, query=request.GET.get("q", ""), before=before, current_pk=_current_pk(request)
    )
    partial = "items" if before else "list"
    return render(request, f"{SIDEBAR}#{partial}", {"sidebar": page})


def _render_item(
    request: HtmxHttpRequest, conversation: Conversation, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"item": conversation, "current_pk": _current_pk(request), **extra}
    return render(request, f"{SIDEBAR}#item", context, status=status)


def _render_heading(
    request: HtmxHttpRequest, conversation: Conversation, status: int = 200, **extra: Any
) -> HttpResponse:
    return render(request, TITLE, {"conversation": conversation, **extra}, status=status)


@login_required
@require_POST
def conversation_rename(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Annotated as the sidebar's items are: the item sent back keeps its "API · name" tag.
    conversation = get_object_or_404(with_api_token_name(Conversation.objects.for_user(request.user)), pk=pk)
    raw = request.POST.get("title", "")
    # The heading above the thread renames too, and is answered with itself (chat/title.html).
    render_place = _render_heading if request.POST.get("place") == "heading" else _render_item
    try:
        title = clean_title(raw)
    except ValueError as error:
        if request.htmx:
            # 422 still swaps (see base.html's htmx config): the item shows the message.
            return render_place(request, conversation, 422, rename_error=str(error), rename_value=raw)
        messages.error(request, str(error))
        return redirect(conversation)
    conversation.title = title
    # Only the title: updated_at stays, so a rename does not move the conversation up the list.
    conversation.save(update_fields=["title"])
    if request.htmx:
        response = render_place(request, conversation)
        renamed = {"id": conversation.pk, "title": str(conversation)}
        return trigger_client_event(response, RENAMED_EVENT, renamed)
    messages.success(request, f"Renamed to “{title}”.")
    return redirect(conversation)


@login_required
@require_http_methods(["GET", "POST"])
def conversation_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page, for browsers without JavaScript (htmx asks with hx-confirm).
    POST: delete it, with its turns, runs, answers and share links (all cascade)."""
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    if request.method == "GET":
        return render(request, "chat/history_delete.html", {"conversation": conversation})
    title = str(conversation)
    running = list(Run.objects.active().filter(turn__conversation=conversation).values_list("pk", flat=True))
    conversation.delete()
    # A run still going would keep calling models for a conversation that is gone.
    for run_id in running:
        async_to_sync(runs.stop)(run_id)
    if request.htmx and _current_pk(request) != pk:
        return HttpResponse("")  # the sidebar item is swapped for nothing
    messages.success(request, f"Deleted “{title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("home"))  # the page showed what was deleted
    return redirect("home")


@login_required
@require_GET
def conversation_spend_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The spend summary again (its Refresh link, or a run of the page ending): the figures
    change as runs finish. It comes back open, unless `?open=0` asks to keep it closed."""
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    if not request.htmx:
        return redirect(conversation)
    spend = conversation_spend(conversation)
    context = {"conversation": conversation, "spend": spend, "open": request.GET.get("open") != "0"}
    return render(request, "chat/spend.html#spend", context)
