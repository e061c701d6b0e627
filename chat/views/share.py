"""Views of sharing and export: share links, the public shared page, forks, export and import."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import export, import_limit, sharing
from chat.models import Conversation, ShareLink
from chat.views.requests import AuthenticatedHttpRequest, HtmxHttpRequest

# The shared page is for whoever holds the link: no search engine and no cache in between.
SHARED_PAGE_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "private, no-store"}


def _referrer_policy(request: HtmxHttpRequest) -> str:
    """No Referer at all, so the token never leaves in one; but a browser then sends `Origin: null`
    with a POST, which Django's CSRF check refuses, so the page with the Fork form keeps the
    Referer and Origin for this site alone. Other sites get nothing either way."""
    return "same-origin" if request.user.is_authenticated else "no-referrer"


def _own_conversation(request: HtmxHttpRequest, pk: int) -> Conversation:
    # Anonymous visitors and other users get the same 404: an owner's action, on nothing of theirs.
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def _share_panel(request: HtmxHttpRequest, conversation: Conversation, problem: str = "") -> HttpResponseBase:
    if request.htmx:
        context = {"conversation": conversation, "share_problem": problem}
        return render(request, "chat/share_panel.html", context, status=422 if problem else 200)
    if problem:
        messages.error(request, problem)
    return redirect(f"{conversation.get_absolute_url()}#share-panel")


@require_POST
def create_share_link(request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
    conversation = _own_conversation(request, pk)
    try:
        sharing.create_link(conversation, show_owner=request.POST.get("show_owner") == "on")
    except sharing.NothingToShare as error:
        return _share_panel(request, conversation, str(error))
    return _share_panel(request, conversation)


@require_POST
def revoke_share_link(request: HtmxHttpRequest, pk: int, link_pk: int) -> HttpResponseBase:
    conversation = _own_conversation(request, pk)
    sharing.revoke(get_object_or_404(ShareLink, conversation=conversation, pk=link_pk))
    return _share_panel(request, conversation)


def _link_gone(request: HtmxHttpRequest) -> HttpResponse:
    """Our own page, rendered here rather than by raising Http404: under DEBUG Django would answer
    with its debug page, which lists every URL of the site to whoever holds a revoked link."""
    response = render(request, "chat/share_gone.html", status=404)
    for name, value in SHARED_PAGE_HEADERS.items():
        response.headers[name] = value
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def shared(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The conversation as it was shared, for anyone with the link; nothing on it writes."""
    link = sharing.active_link(token)
    if link is None:
        return _link_gone(request)
    return _shared_page(request, link)


def _shared_page(request: HtmxHttpRequest, link: ShareLink, fork_problem: str = "") -> HttpResponse:
    conversation = link.conversation
    referrer_policy = _referrer_policy(request)
    context = {
        "link": link,
        "conversation": conversation,
        "turns": sharing.shared_turns(link),
        "owner_name": conversation.owner.get_username() if link.show_owner else "",
        "login_to_fork": f"{reverse('login')}?{urlencode({'next': link.get_absolute_url()})}",
        "referrer_policy": referrer_policy,
        "fork_problem": fork_problem,
        "share_token": link.token,  # Copy buttons fetch answers through the link (chat/views/copy.py)
    }
    response = render(request, "chat/shared.html", context, status=429 if fork_problem else 200)
    for name, value in SHARED_PAGE_HEADERS.items():
        response.headers[name] = value
    response.headers["Referrer-Policy"] = referrer_policy
    return response


@require_POST
def fork_shared(request: HtmxHttpRequest, token: str) -> HttpResponseBase:
    link = sharing.active_link(token)
    if link is None:
        return _link_gone(request)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?{urlencode({'next': link.get_absolute_url()})}")
    if not import_limit.take(request.user):
        response = _shared_page(request, link, fork_problem=import_limit.refusal_message())
        response["Retry-After"] = str(import_limit.window_seconds())
        return response
    try:
        copy = sharing.fork(link, request.user)
    except import_limit.Busy as busy:
        return _shared_page(request, link, fork_problem=str(busy))
    messages.success(request, "Forked into your conversations: ask a follow-up to go on with it.")
    return redirect(copy)


@require_GET
def export_markdown(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    return _attachment(export.export_markdown(conversation), "text/markdown", conversation, "md")


@require_GET
def export_json(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    return _attachment(export.export_json(conversation), "application/json", conversation, "json")


def _attachment(content: str, content_type: str, conversation: Conversation, extension: str) -> HttpResponse:
    filename = export.export_filename(conversation, extension)
    return HttpResponse(
        content,
        content_type=f"{content_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_conversation(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A conversation exported as JSON, recreated in the importer's account; all of it or nothing,
    within the import limits (chat/export.py) and the imports a user may make (chat/import_limit.py)."""
    error = ""
    status = 422
    if request.method == "POST":
        upload = request.FILES.get("file")
        limits = export.ImportLimits.from_settings()
        if upload is None:
            error = "Choose a JSON file exported by FusionRoom."
        elif not import_limit.take(request.user):
            error, status = import_limit.refusal_message(), 429
        elif upload.size is not None and upload.size > limits.bytes:
            error = export.too_large_message(limits)
        else:
            try:
                conversation = export.import_file(upload.read(), request.user)
            except export.ImportRefused as refused:
                error = str(refused)
            except import_limit.Busy as busy:
                error, status = str(busy), 503
            else:
                messages.success(request, f"Imported “{conversation}”.")
                return redirect(conversation)
    response = render(request, "chat/import.html", {"error": error}, status=status if error else 200)
    if error and status == 429:
        response["Retry-After"] = str(import_limit.window_seconds())
    return response
