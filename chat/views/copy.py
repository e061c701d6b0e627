"""The original Markdown of an answer, as plain text, for its Copy button (static/chat/tools.js).

The page shows answers rendered; Copy must put on the clipboard what the model wrote. The text
is fetched when the button is pressed, from the owner's page or a share link's, with the same
access as that page: another user's run, or a run outside a link, looks missing.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from chat import sharing
from chat.models import Run
from chat.runs.protocol import FUSED
from chat.views.requests import HtmxHttpRequest
from chat.views.share import SHARED_PAGE_HEADERS

# Asked for while the text is still being saved (a column that just finished, in a run that
# goes on): the page asks again in a moment.
NOT_YET = "This answer is still being saved; try again in a moment."


def _source(run: Run, column: str) -> HttpResponse:
    if column == FUSED:
        if run.is_running:
            return HttpResponse(NOT_YET, status=409, content_type="text/plain; charset=utf-8")
        text = run.fused_text
    elif column.isdigit():
        answer = run.answers.filter(index=int(column)).first()
        if answer is None:
            raise Http404("No such seat.")
        if answer.status in answer.UNFINISHED:
            return HttpResponse(NOT_YET, status=409, content_type="text/plain; charset=utf-8")
        text = answer.text
    else:
        raise Http404("No such column.")
    return HttpResponse(
        text, content_type="text/plain; charset=utf-8", headers={"Cache-Control": "private, no-store"}
    )


@require_GET
def answer_source(request: HtmxHttpRequest, pk: int, column: str) -> HttpResponse:
    """An answer of one of the user's runs: a seat's (its index) or the fused one ("fused")."""
    # Anonymous visitors and other users alike get a 404, not a redirect to sign in: nothing here.
    run = get_object_or_404(Run.objects.for_user(request.user), pk=pk)
    return _source(run, column)


@require_GET
def shared_answer_source(request: HtmxHttpRequest, token: str, pk: int, column: str) -> HttpResponse:
    """An answer of a run the share link shows, for anyone who has the link."""
    link = sharing.active_link(token)
    if link is None:
        raise Http404("This link does not exist or was revoked.")
    run = get_object_or_404(
        Run.objects.select_related("turn"),
        pk=pk,
        turn__conversation=link.conversation,
        turn__position__lte=link.upto_position,
    )
    response = _source(run, column)
    for name, value in SHARED_PAGE_HEADERS.items():
        response.headers[name] = value
    return response
