"""Share links: making and revoking them, what a link shows, and forking it into a visitor's account."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from chat.export import conversation_document, import_document
from chat.models import Conversation, ShareLink, Turn

# 32 random bytes: 256 bits, 43 URL-safe characters. Nobody guesses one, so the link is the key.
TOKEN_BYTES = 32
FORK_SUFFIX = " (fork)"


class NothingToShare(Exception):
    """The conversation has no turn yet."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def create_link(conversation: Conversation, *, show_owner: bool = False) -> ShareLink:
    """A link to the conversation as it is now: its turns so far, and none added later."""
    last = conversation.turns.order_by("-position").first()
    if last is None:
        raise NothingToShare("There is nothing to share yet: ask something first.")
    return ShareLink.objects.create(
        conversation=conversation, token=new_token(), upto_position=last.position, show_owner=show_owner
    )


def revoke(link: ShareLink) -> None:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])


def active_link(token: str) -> ShareLink | None:
    """The link with this token, unless it was revoked or never existed."""
    return ShareLink.objects.active().select_related("conversation__owner").filter(token=token).first()


def shared_turns(link: ShareLink) -> list[Turn]:
    """The turns the link was made with; their runs as they are now, alternatives included."""
    turns = link.conversation.turns.filter(position__lte=link.upto_position).order_by("position")
    return list(turns.prefetch_related("runs__answers", "runs__retry_of"))


def fork_title(conversation: Conversation) -> str:
    title = conversation.title or str(conversation)
    return title[: 200 - len(FORK_SUFFIX)] + FORK_SUFFIX


def fork(link: ShareLink, visitor: User) -> Conversation:
    """A copy of what the link shows, owned by the visitor, who can go on with it like any other.

    The copy goes through the export document, so it holds exactly what an export would; a run
    that was still running is copied as interrupted.
    """
    document = conversation_document(link.conversation, upto_position=link.upto_position)
    return import_document(document, visitor, title=fork_title(link.conversation))
