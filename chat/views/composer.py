"""The composer's cost estimate: what sending the message as typed to the chosen panel may cost."""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_POST

from chat.endpoints.catalog import Estimate, estimate_run, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.forms import auto_fuse_choice
from chat.models import Conversation, Panel
from chat.providers.types import Endpoint
from chat.runs.gate import prompt_tokens
from chat.views.requests import AuthenticatedHttpRequest


@dataclass(frozen=True)
class _Asked:
    panel: Panel
    auto_fuse: bool
    tokens: int
    endpoints: list[Endpoint]


def _asked(user: User, pk: int | None, data: QueryDict) -> _Asked | None:
    conversation = Conversation.objects.for_user(user).filter(pk=pk).first() if pk is not None else None
    if pk is not None and conversation is None:
        raise Http404("No such conversation.")
    chosen = data.get("panel", "")
    panel = Panel.objects.for_user(user).filter(pk=chosen).first() if chosen.isdigit() else None
    if panel is None:
        return None
    thread = conversation.thread_messages() if conversation else []
    try:
        endpoints = endpoints_for(user)
    except KeyUnavailable:
        return None
    tokens = prompt_tokens(thread, data.get("message", "").strip())
    return _Asked(panel, panel.auto_fuse_for(auto_fuse_choice(data)), tokens, endpoints)


# POST, not GET: the message may be 100,000 characters, too long for an address.
@login_required
@require_POST
async def composer_estimate(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """The estimate the start gate makes (chat.runs.gate), for the panel and message in the composer."""
    asked = await sync_to_async(_asked)(await request.auser(), pk, request.POST)
    found: Estimate | None = None
    if asked is not None:
        catalog = await load_catalog(asked.endpoints)
        panel = asked.panel
        found = estimate_run(
            list(panel.seats),
            panel.judge,
            panel.writer_model,
            catalog,
            prompt_tokens=asked.tokens,
            auto_fuse=asked.auto_fuse,
            compare_only=panel.compare_only,
        )
    return render(request, "chat/chat.html#estimate", {"estimate": found})
