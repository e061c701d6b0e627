"""A request's judging terms over its panel's own: what the API's `fusion` parameters come to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from chat.fusion.options import RunOptions
from chat.views.api.errors import ApiError
from chat.views.api.schema import TERM_FIELDS, JudgingTerms

# RunOptions' field names back to the API's, to name the parameter a refused value came in.
API_NAMES = {field: name for name, field in TERM_FIELDS.items()}

type Source = tuple[str, JudgingTerms | None]


def judging_options(panel: RunOptions, sources: Sequence[Source], *, seats: int) -> RunOptions | None:
    """The run's terms: the panel's, with each term a source names put over it (sources are
    (param, terms), e.g. ("plugins.fusion", plugin)); None when no source names any, so that
    the run takes the panel's own. ApiError 400 naming the parameter for a value out of bounds,
    a term two sources give differently, a quorum the `seats` can never reach, or settings for
    more seats than there are."""
    given: dict[str, tuple[str, Any]] = {}
    for param, terms in sources:
        for name, value in (terms.given_terms() if terms is not None else {}).items():
            if name in given and given[name][1] != value:
                raise _refused(f"{param}.{name}", f"{given[name][0]}.{name} says otherwise: give it once.")
            given[name] = (param, value)
    if not given:
        return None
    fields = panel.model_dump()
    for name, (_, value) in given.items():
        field = TERM_FIELDS[name]
        default = RunOptions.model_fields[field].get_default(call_default_factory=True)
        fields[field] = default if value is None else value
    try:
        options = RunOptions.model_validate(fields)
    except ValidationError as error:
        problem = error.errors()[0]
        first, *inside = problem["loc"]
        name = API_NAMES.get(str(first), str(first))
        where = given[name][0] if name in given else "fusion"
        message = problem["msg"].removeprefix("Value error, ")
        raise _refused(".".join([where, name, *map(str, inside)]), message) from error
    _check_against_seats(options, given, seats)
    return options


def _check_against_seats(options: RunOptions, given: dict[str, tuple[str, Any]], seats: int) -> None:
    if "quorum" in given and options.quorum is not None and options.quorum > seats:
        raise _refused(
            f"{given['quorum'][0]}.quorum",
            f"the panel has {seats} seats: a quorum of {options.quorum} would never be reached.",
        )
    if "seat_settings" in given and len(options.seats) > seats:
        raise _refused(
            f"{given['seat_settings'][0]}.seat_settings",
            f"{len(options.seats)} seats' settings for a panel of {seats} seats.",
        )


def _refused(param: str, problem: str) -> ApiError:
    return ApiError(400, f"{param}: {problem}", code="invalid_request", param=param)
