"""The systems under test, named as the command line and the form name them:

model:openai/gpt-5.5          one model answering alone
preset:budget                 a preset panel (by slug or name)
panel:My panel                one of the user's saved panels (by slug or name)
self:openai/gpt-5.5x3         self-fusion: the model in three seats, judging and writing
…+web                         any of them with web search and fetch on (+noweb: off)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chat.fusion.request import MAX_SEATS

Kind = Literal["model", "preset", "panel", "self"]
KINDS: tuple[Kind, ...] = ("model", "preset", "panel", "self")
_SELF = re.compile(r"^(?P<model>.+?)\s*[x×]\s*(?P<copies>\d+)$")


class BadSystem(ValueError):
    pass


@dataclass(frozen=True)
class System:
    kind: Kind
    target: str
    copies: int = 1
    # None: as the panel says (a model alone has none); True/False: forced on or off.
    web: bool | None = None

    @property
    def label(self) -> str:
        """The system as written, canonically: the report's and results.csv's `system`."""
        target = f"{self.target}x{self.copies}" if self.kind == "self" else self.target
        web = "" if self.web is None else ("+web" if self.web else "+noweb")
        return f"{self.kind}:{target}{web}"


def parse_system(text: str) -> System:
    text = text.strip()
    kind, colon, rest = text.partition(":")
    if not colon or kind not in KINDS or not rest.strip():
        raise BadSystem(
            f"{text!r} is not a system: write model:MODEL, preset:NAME, panel:NAME or self:MODELxK "
            "(add +web or +noweb to turn web tools on or off)"
        )
    web: bool | None = None
    for suffix, value in (("+web", True), ("+noweb", False)):
        if rest.endswith(suffix):
            rest, web = rest[: -len(suffix)], value
    rest = rest.strip()
    if kind != "self":
        return System(kind, rest, web=web)
    match = _SELF.match(rest)
    if match is None:
        raise BadSystem(f"{text!r}: self-fusion is written self:MODELxK, e.g. self:openai/gpt-5.5x3")
    copies = int(match["copies"])
    if not 2 <= copies <= MAX_SEATS:
        raise BadSystem(f"{text!r}: self-fusion sits the model 2 to {MAX_SEATS} times")
    return System("self", match["model"].strip(), copies=copies, web=web)
