"""A run's one lifecycle, used by every surface: the chatroom's views, `manage.py fuse`, the API
(/v1), and next the tool loop and the evaluation harness.

    lifecycle   start / stop / wait / events: the interface every surface calls
    gate        what a user may start now (limits, budget), checked on every path
    creation    the rows of a new run, a retry, a re-judge, a re-run, an edited prompt's run
    dispatch    where a run executes: a run worker, or this process
    execution   executing here: events folded (state), rendered (frames), saved and published
    recovery    runs whose process died: interrupted, swept, shown
    protocol    every group, message, close code and DOM id of a live run
    news        telling the pages open on a conversation that a run was added to it
    services    what a run takes from outside (client, catalog, pacing, layer), injectable
    worker      the run worker's consumer; toolbox the run's web tools; startup the ASGI hook

The names below are the interface; the rest is imported from the submodule that holds it.
"""

from __future__ import annotations

from chat.runs.gate import LimitReached
from chat.runs.lifecycle import (
    Ask,
    Call,
    Edit,
    Opened,
    Rejudge,
    Rerun,
    Retry,
    RunBusy,
    Start,
    events,
    launch,
    open_run,
    start,
    start_call,
    stop,
    unsaved,
    wait,
)
from chat.runs.services import Services

__all__ = [
    "Ask",
    "Call",
    "Edit",
    "LimitReached",
    "Opened",
    "Rejudge",
    "Rerun",
    "Retry",
    "RunBusy",
    "Services",
    "Start",
    "events",
    "launch",
    "open_run",
    "start",
    "start_call",
    "stop",
    "unsaved",
    "wait",
]
