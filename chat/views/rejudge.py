"""Fusing a finished run's answers again: "Re-fuse with all answers" (the late ones too), and
"Re-judge" with another judge and/or writer picked from the owner's catalog. No seat is asked."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from chat import runs
from chat.endpoints.catalog import Catalog, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.views.chat import _run_of, _start_and_show
from chat.views.requests import AuthenticatedHttpRequest


async def user_catalog(user: User) -> Catalog:
    """The models `user` may call: their endpoints' catalogs (none without their key)."""
    try:
        available = await sync_to_async(endpoints_for)(user)
    except KeyUnavailable as error:
        return Catalog([], down={error.endpoint or "your endpoint": error.user_message})
    return await load_catalog(available)


def not_callable(chosen: list[str], catalog: Catalog) -> str | None:
    """Why one of the chosen models may not be asked, or None when every one may."""
    for model in chosen:
        if model not in catalog:
            return (
                f"You cannot use the model {model}: it is not in your catalog "
                "(your endpoints in Settings list the models you can call)."
            )
    return None


@login_required
@require_http_methods(["GET", "POST"])
async def rejudge_run(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """GET: the Re-judge form's pickers. POST: start the re-judge; with neither a judge nor a
    writer chosen it is "Re-fuse with all answers" (the run's own judge and writer)."""
    user = await request.auser()
    run = await _run_of(user, pk)
    if request.method == "GET":
        context = {"run": run, "catalog": await user_catalog(user), "owner_view": True}
        template = "chat/run.html#rejudge-form" if request.htmx else "chat/rejudge.html"
        return await sync_to_async(render)(request, template, context)
    judge = request.POST.get("judge", "").strip() or None
    writer = request.POST.get("writer", "").strip() or None
    chosen = [model for model in (judge, writer) if model is not None]
    if chosen and (refused := not_callable(chosen, await user_catalog(user))):
        # 400: htmx does not swap it over the turn; the page's alert line says it (static/chat/app.js).
        return HttpResponse(refused, status=400)
    return await _start_and_show(request, runs.Rejudge(run, judge=judge, writer=writer))
