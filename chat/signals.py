"""Closing open run sockets when the session behind them ends: sign-out, a new password, a deleted user.

A websocket is authenticated once, when it connects; nothing re-checks the session afterwards.
So each run socket also joins its session's group and its user's group (chat/consumers.py), and
these receivers tell those groups to close:

- signing out ends one session: that session's sockets close, the user's other devices stay;
- a changed password hash ends every other session of the user (Django's session verification),
  so all of the user's sockets close, wherever they are; so does deleting the user.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from chat.runs.protocol import SIGNED_OUT, session_group, user_group

logger = logging.getLogger(__name__)


def close_sockets(group: str) -> None:
    """Tell every socket in the group to close. Called from synchronous code (views, signals)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, SIGNED_OUT)
    except Exception:
        # Signing out must still work when the channel layer is down; say so, loudly.
        logger.exception("Could not tell the sockets of %s to close", group.split("-")[0])


@receiver(user_logged_out)
def close_the_sessions_sockets(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    # Sent before the session is flushed, so its key is still known here.
    session_key = request.session.session_key if request is not None else None
    if session_key:
        close_sockets(session_group(session_key))


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def notice_a_new_password(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        instance._password_hash_changed = False
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_hash_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def close_sockets_after_a_new_password(sender: Any, instance: Any, **kwargs: Any) -> None:
    if getattr(instance, "_password_hash_changed", False):
        instance._password_hash_changed = False
        user_id = instance.pk
        # Once the new hash is saved for good: a rolled-back change ends no session.
        transaction.on_commit(lambda: close_sockets(user_group(user_id)))


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def close_sockets_of_a_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    user_id = instance.pk
    transaction.on_commit(lambda: close_sockets(user_group(user_id)))
