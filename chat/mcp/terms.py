"""The `fuse` tool's judging terms over the panel's own (the API's names, RunOptions' limits)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from chat.fusion.options import RunOptions

# The tool's argument names for RunOptions' fields, where they differ (as the API names them).
ARGUMENT_NAMES = {"deadline_s": "deadline", "seats": "seat_settings"}


def judging_options(panel: RunOptions, given: dict[str, Any], *, seats: int) -> RunOptions | None:
    """The panel's terms with each term the call gave (by RunOptions' field names; None: not
    given) over them; None when it gave none, so the run takes the panel's. ToolError naming
    the argument for a value out of bounds or a quorum the panel can never reach."""
    named = {field: value for field, value in given.items() if value is not None}
    if not named:
        return None
    try:
        options = RunOptions.model_validate({**panel.model_dump(), **named})
    except ValidationError as error:
        problem = error.errors()[0]
        first, *inside = problem["loc"]
        where = ".".join([ARGUMENT_NAMES.get(str(first), str(first)), *map(str, inside)])
        raise ToolError(f"{where}: {problem['msg']}") from None
    if options.quorum is not None and options.quorum > seats:
        raise ToolError(
            f"quorum: the panel has {seats} seats; a quorum of {options.quorum} is never reached."
        )
    return options
