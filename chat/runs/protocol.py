"""The wire of a live run: every channel and group name, message, sequence rule, close code and DOM id.

Everything that two processes (a web process and a run worker), or the server and the page,
must agree on is spelled here once; templates reach the DOM ids through the `dom_id` filter.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from django.utils.html import escape

# -- channels and groups -----------------------------------------------------------------

# The channel run workers listen on: `python manage.py runworker fusion-runs`.
RUNS_CHANNEL = "fusion-runs"


def run_group(run_id: int) -> str:
    """Viewers of a run: its frames and snapshots are published here."""
    return f"run-{run_id}"


def control_group(run_id: int) -> str:
    """The process executing a run listens here for stops and snapshot requests."""
    return f"run-{run_id}-control"


def events_group(run_id: int) -> str:
    """The pipeline's events of an API run executed by a worker, for the request that reads them."""
    return f"run-{run_id}-events"


def stop_key(run_id: int) -> str:
    """The cache key of a stop asked before any process took the run (chat.runs.dispatch)."""
    return f"run-stop:{run_id}"


def user_group(user_id: int) -> str:
    """Every run socket of a user: closed when the user's password changes or the user goes."""
    return f"user-{user_id}"


def conversation_group(conversation_id: int) -> str:
    """Pages open on a conversation: told when a run is added to it, from wherever it was sent."""
    return f"conversation-{conversation_id}"


def session_group(session_key: str) -> str:
    """Every run socket of one session: closed when it signs out."""
    # A digest, not the key: group names end up in Redis, where a session key would be a credential.
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:40]


# -- messages ----------------------------------------------------------------------------

START = "run.start"  # to RUNS_CHANNEL: a worker should execute the run
STOP = "run.stop"  # to the control group: stop the run
SYNC = "run.sync"  # to the control group: send `reply_to` a snapshot
FRAME = "run.frame"  # to viewers: HTML fragments that change the page
SNAPSHOT = "run.snapshot"  # to viewers: the whole run, from which frames line up again
EVENT = "run.event"  # to the events group: one pipeline event (JSON), or None at the run's end
SIGNED_OUT = {"type": "user.signed_out"}  # to a user's or session's group: close the sockets
RUN_ADDED = "conversation.run_added"  # to a conversation's group: a turn or a run was added

# A run numbers what it publishes to its group (`seq`, 1, 2, 3...); a snapshot carries the number
# of the last message it covers. A viewer that sees a number skipped lost a frame on the way
# (a full or expired channel) and asks for a snapshot instead of showing a gap; one that sees a
# number it has already passed drops it (the snapshot covered it).


def start_message(run_id: int) -> dict[str, Any]:
    return {"type": START, "run_id": run_id}


def event_message(event: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": EVENT, "event": event}


def stop_message(run_id: int, *, relayed: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"type": STOP, "run_id": run_id}
    if relayed:
        message["relayed"] = True
    return message


def sync_message(reply_to: str) -> dict[str, Any]:
    return {"type": SYNC, "reply_to": reply_to}


def frame_message(html: str, *, seq: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": FRAME, "html": html}
    if seq is not None:
        message["seq"] = seq
    return message


def snapshot_message(html: str, *, final: bool, seq: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": SNAPSHOT, "html": html, "final": final}
    if seq is not None:
        message["seq"] = seq
    return message


def run_added_message(turn_id: int, run_id: int) -> dict[str, Any]:
    return {"type": RUN_ADDED, "turn_id": turn_id, "run_id": run_id}


SeqVerdict = Literal["show", "drop", "resync"]


def judge_seq(seq: int | None, last: int | None) -> SeqVerdict:
    """What a viewer that has shown message `last` does with a frame numbered `seq`."""
    if seq is None or last is None:
        return "show"
    if seq <= last:  # already part of the snapshot this viewer has shown
        return "drop"
    if seq > last + 1:  # a frame was lost on the way: start again from a snapshot
        return "resync"
    return "show"


# -- the socket --------------------------------------------------------------------------

SOCKET_PATH = "ws/runs/<int:run_id>/"
# Close codes in the private range, so the page can tell why it was refused.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# The session behind the socket ended (signed out, password changed): sign in again to follow.
CLOSE_SIGNED_OUT = 4440
# The most a page may send in one socket message.
MAX_CLIENT_MESSAGE_BYTES = 4096


def socket_url(run_id: int) -> str:
    return "/" + SOCKET_PATH.replace("<int:run_id>", str(run_id))


# A page open on a conversation listens here for runs added to it elsewhere (another tab, a command).
CONVERSATION_SOCKET_PATH = "ws/conversations/<int:conversation_id>/"


def conversation_socket_url(conversation_id: int) -> str:
    return "/" + CONVERSATION_SOCKET_PATH.replace("<int:conversation_id>", str(conversation_id))


# -- DOM ids -----------------------------------------------------------------------------

LIVE_ERROR_ID = "live-error"
# Where a conversation's socket puts the news of a run added elsewhere (static/chat/tools.js reads it).
RUN_NEWS_ID = "run-news"
FUSED = "fused"
Column = int | str  # a seat's index, or FUSED

# The parts of a run's page that frames address, by name (used by the `dom_id` template filter).
_PARTS = {
    "run": "run-{run}",
    "socket": "run-{run}-socket",
    "reload": "run-{run}-reload",
    "progress": "run-{run}-progress",
    "analysis": "run-{run}-analysis",
    "strip": "run-{run}-strip",  # the seat strip: one link per seat, above the columns
    "columns": "run-{run}-columns",  # the seats' columns, side by side
    "panel": "run-{run}-panel",  # the seat strip and the columns (an Auto-fuse run's, once consulted)
    "consult": "run-{run}-consult",  # Auto-fuse: whether the model consulted the panel, and its query
    "rejudge": "run-{run}-rejudge",  # under a finished run: fuse its answers again (chat/views/rejudge.py)
}
# The conversation's spend summary, which the page fetches again as its runs end.
SPEND_ID = "spend"


def run_dom_id(run_id: int, part: str = "run") -> str:
    return _PARTS[part].format(run=run_id)


def column_dom_id(run_id: int, column: Column, part: str = "") -> str:
    """A seat's or the fused answer's column, or one of its parts: blocks, tail, reasoning, tools, head,
    or a seat's tab in the seat strip."""
    base = f"run-{run_id}-fused" if column == FUSED else f"run-{run_id}-seat-{column}"
    return f"{base}-{part}" if part else base


def turn_dom_id(turn_id: int) -> str:
    """A turn's <article> (templates/chat/run.html writes it as turn-{{ turn.pk }}, tested in
    tests/test_copy_and_title.py), which a page told of a new run looks for."""
    return f"turn-{turn_id}"


def run_added_frame(turn_id: int, run_id: int, turn_url: str) -> str:
    """A run was added to the conversation: the page fetches its turn unless it shows that run."""
    return (
        f'<div id="{RUN_NEWS_ID}" hx-swap-oob="innerHTML"><span data-turn="{escape(turn_dom_id(turn_id))}" '
        f'data-run="{escape(run_dom_id(run_id))}" data-url="{escape(turn_url)}"></span></div>'
    )


def error_frame(message: str) -> str:
    return f'<div id="{LIVE_ERROR_ID}" hx-swap-oob="innerHTML">{escape(message)}</div>'


def clear_error_frame() -> str:
    return f'<div id="{LIVE_ERROR_ID}" hx-swap-oob="innerHTML"></div>'


def reload_frame(run_id: int, run_url: str) -> str:
    """The run ended before the socket joined: have the page fetch its saved state."""
    return (
        f'<div id="{run_dom_id(run_id, "reload")}" hx-swap-oob="outerHTML" hx-get="{run_url}" '
        f'hx-trigger="load" hx-target="#{run_dom_id(run_id)}" hx-swap="outerHTML"></div>'
    )
