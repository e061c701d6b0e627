"""Building a panel: the seats, the judge and the writer a user chose, checked against the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.http import QueryDict
from pydantic import ValidationError

from chat.endpoints.catalog import Catalog, Estimate, estimate_run
from chat.fusion.request import MAX_SEATS, MIN_SEATS
from chat.models import Panel
from chat.panel_options import SeatSettings, Terms
from chat.webtools import DomainPolicy
from chat.webtools.options import DEFAULT_TOOL_CALLS, MAX_TOOL_CALLS, MIN_TOOL_CALLS, WebToolOptions


@dataclass
class Draft:
    """A panel being built: what the builder form holds between clicks."""

    seats: list[str] = field(default_factory=list)
    judge: str = ""
    writer: str = ""
    web_search: bool = False
    # The writer answers, and consults the seats and the judge only for a question worth it.
    auto_fuse: bool = False
    max_tool_calls: int = DEFAULT_TOOL_CALLS
    excluded_domains: list[str] = field(default_factory=list)
    blocked_domains: list[str] = field(default_factory=list)
    name: str = ""
    panel_id: int | None = None
    # The judging terms (Panel.options), each seat's settings among them, in the seats' order.
    terms: Terms = field(default_factory=Terms)
    # One key per seat that stays with it when seats move or go: the ids of its settings' fields
    # are made from it, so a value typed while a move is in flight lands on the same seat.
    seat_keys: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        count = len(self.seats)
        if len(self.seat_keys) != count or len(set(self.seat_keys)) != count:
            self.seat_keys = list(range(count))
        self.terms.seats = (self.terms.seats + [SeatSettings() for _ in range(count)])[:count]

    # Form field names avoid DOM method names ("remove", "name"...): a form control named
    # "remove" hides form.remove(), and htmx's swap of the form then fails.

    @classmethod
    def from_post(cls, data: QueryDict) -> Draft:
        panel_id = data.get("panel_id", "")
        # Every seat posts its settings and key, blank or not, so the lists line up with the seats.
        seats = data.getlist("seats")
        draft = cls(
            seats=list(seats),
            judge=data.get("judge", "").strip(),
            writer=data.get("writer", "").strip(),
            web_search=data.get("web_search") in ("on", "true", "1"),
            auto_fuse=data.get("auto_fuse") in ("on", "true", "1"),
            max_tool_calls=_whole_number(data.get("max_tool_calls"), default=DEFAULT_TOOL_CALLS),
            excluded_domains=_domains(data.get("excluded_domains", "")),
            blocked_domains=_domains(data.get("blocked_domains", "")),
            name=data.get("panel_name", "").strip(),
            panel_id=int(panel_id) if panel_id.isdigit() else None,
            terms=Terms.from_post(data, len(seats)),
            seat_keys=[int(key) if key.isdigit() else -1 for key in data.getlist("seat_key")],
        )
        for index in reversed(range(len(seats))):
            if not seats[index]:
                draft._remove_seat(index)
        return draft

    @property
    def web_tools(self) -> WebToolOptions:
        """The draft's web-tool settings (valid once `errors` is empty)."""
        return WebToolOptions(
            web_search=self.web_search,
            max_tool_calls=self.max_tool_calls,
            excluded_domains=tuple(self.excluded_domains),
            blocked_domains=tuple(self.blocked_domains),
        )

    @classmethod
    def from_panel(cls, panel: Panel) -> Draft:
        return cls(
            seats=list(panel.seats),
            judge=panel.judge,
            writer=panel.writer,
            auto_fuse=panel.auto_fuse,
            **panel.web_tools.fields(),
            name=panel.name,
            panel_id=panel.pk,
            terms=Terms.of(panel.run_options, len(panel.seats)),
        )

    # -- the builder's buttons ------------------------------------------------------------

    def apply(self, data: QueryDict) -> None:
        """Carry out the button that was pressed: add, remove or move a seat (its settings and
        its key go with it)."""
        if ref := data.get("add"):
            if len(self.seats) >= MAX_SEATS:
                self.errors["seats"] = f"A panel has at most {MAX_SEATS} seats."
            else:
                self.seats.append(ref)
                self.terms.seats.append(SeatSettings())
                self.seat_keys.append(max(self.seat_keys, default=-1) + 1)
                # The first model added is a sensible judge until the user picks one.
                self.judge = self.judge or ref
        elif (index := _index(data.get("seat_remove"))) is not None and index < len(self.seats):
            self._remove_seat(index)
        elif (index := _index(data.get("seat_up"))) is not None and 0 < index < len(self.seats):
            self._swap_seats(index - 1, index)
        elif (index := _index(data.get("seat_down"))) is not None and index < len(self.seats) - 1:
            self._swap_seats(index, index + 1)

    def _per_seat(self) -> list[list[Any]]:
        """The lists that hold one item per seat, in the seats' order."""
        return [self.seats, self.terms.seats, self.seat_keys]

    def _remove_seat(self, index: int) -> None:
        for items in self._per_seat():
            del items[index]

    def _swap_seats(self, first: int, second: int) -> None:
        for items in self._per_seat():
            items[first], items[second] = items[second], items[first]

    # -- checking -------------------------------------------------------------------------

    def validate(self, catalog: Catalog, *, need_name: bool) -> bool:
        """Fill `errors` with a message per control; True when the panel can be saved."""
        errors = self.errors
        if len(self.seats) < MIN_SEATS:
            errors["seats"] = f"A panel needs at least {MIN_SEATS} seats: add another model."
        elif len(self.seats) > MAX_SEATS:
            errors["seats"] = f"A panel has at most {MAX_SEATS} seats: remove {len(self.seats) - MAX_SEATS}."
        elif unknown := [seat for seat in self.seats if seat not in catalog]:
            errors["seats"] = (
                f"No endpoint offers {', '.join(sorted(set(unknown)))}: remove it or pick another."
            )
        # A compare-only panel asks no judge and no writer: whatever is picked waits, unchecked,
        # for the day the box is unticked.
        compare_only = self.terms.compare_only
        if compare_only:
            if self.auto_fuse:
                errors["auto_fuse"] = (
                    "Auto-fuse needs a writer, and a compare-only panel has none: untick one."
                )
        elif not self.judge:
            errors["judge"] = "Pick a judge: the model that compares the answers (or tick Compare only)."
        elif self.judge not in catalog:
            errors["judge"] = f"No endpoint offers {self.judge}."
        if self.writer and self.writer not in catalog and not compare_only:
            errors["writer"] = f"No endpoint offers {self.writer}."
        self.terms.checked(len(self.seats), errors)
        if not MIN_TOOL_CALLS <= self.max_tool_calls <= MAX_TOOL_CALLS:
            errors["max_tool_calls"] = (
                f"Tool calls per seat: a number from {MIN_TOOL_CALLS} to {MAX_TOOL_CALLS}."
            )
        for control, domains in (
            ("excluded_domains", self.excluded_domains),
            ("blocked_domains", self.blocked_domains),
        ):
            try:
                DomainPolicy(excluded_search_domains=domains, blocked_fetch_domains=[])
            except ValidationError:
                errors[control] = "One of these is not a domain name (e.g. example.org)."
        if need_name and not self.name:
            errors["name"] = "Give the panel a name to save it."
        elif len(self.name) > 80:
            errors["name"] = "A panel name has at most 80 characters."
        return not errors

    def estimate(self, catalog: Catalog) -> Estimate | None:
        compare_only = self.terms.compare_only
        if not self.seats or not (self.judge or compare_only):
            return None
        return estimate_run(
            self.seats,
            self.judge,
            self.writer or self.judge,
            catalog,
            auto_fuse=self.auto_fuse,
            compare_only=compare_only,
        )

    @property
    def waiting(self) -> str:
        """The waiting terms in a few words ("judge at 2 of 3"), while they are valid."""
        options = self.terms.checked(len(self.seats), {})
        return options.brief(len(self.seats)) if options else ""

    def save(self, owner: User) -> Panel:
        """Save the draft, checked first (validate): its terms must be valid."""
        problems: dict[str, str] = {}
        options = self.terms.checked(len(self.seats), problems)
        if options is None:
            raise ValueError(f"The panel's terms are not valid: {problems}")
        panel = Panel.objects.filter(pk=self.panel_id, owner=owner).first() if self.panel_id else None
        panel = panel or Panel(owner=owner)
        panel.name, panel.seats, panel.judge = self.name, list(self.seats), self.judge
        panel.writer, panel.auto_fuse = self.writer, self.auto_fuse
        panel.options = options.stored()
        for name, value in self.web_tools.fields().items():
            setattr(panel, name, value)
        panel.save()
        return panel

    def seat_list(self, catalog: Catalog) -> list[dict[str, Any]]:
        """Each seat with its number and settings, as the template shows it; the same model may
        sit twice."""
        return [
            {
                "index": index,
                "number": index + 1,
                "ref": ref,
                "entry": catalog.get(ref),
                "key": key,
                "settings": settings,
                "error": self.errors.get(f"seat_settings_{index}", ""),
            }
            for index, (ref, key, settings) in enumerate(
                zip(self.seats, self.seat_keys, self.terms.seats, strict=True)
            )
        ]


def _whole_number(raw: str | None, *, default: int) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return default


def _domains(raw: str) -> list[str]:
    """One domain a line (or separated by commas or spaces), blanks dropped."""
    return [item for item in raw.replace(",", " ").split() if item]


def _index(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None
