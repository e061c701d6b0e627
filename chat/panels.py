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
    errors: dict[str, str] = field(default_factory=dict)

    # Form field names avoid DOM method names ("remove", "name"...): a form control named
    # "remove" hides form.remove(), and htmx's swap of the form then fails.

    @classmethod
    def from_post(cls, data: QueryDict) -> Draft:
        panel_id = data.get("panel_id", "")
        return cls(
            seats=[seat for seat in data.getlist("seats") if seat],
            judge=data.get("judge", "").strip(),
            writer=data.get("writer", "").strip(),
            web_search=data.get("web_search") in ("on", "true", "1"),
            auto_fuse=data.get("auto_fuse") in ("on", "true", "1"),
            max_tool_calls=_whole_number(data.get("max_tool_calls"), default=DEFAULT_TOOL_CALLS),
            excluded_domains=_domains(data.get("excluded_domains", "")),
            blocked_domains=_domains(data.get("blocked_domains", "")),
            name=data.get("panel_name", "").strip(),
            panel_id=int(panel_id) if panel_id.isdigit() else None,
        )

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
        )

    # -- the builder's buttons ------------------------------------------------------------

    def apply(self, data: QueryDict) -> None:
        """Carry out the button that was pressed: add, remove or move a seat."""
        if ref := data.get("add"):
            if len(self.seats) >= MAX_SEATS:
                self.errors["seats"] = f"A panel has at most {MAX_SEATS} seats."
            else:
                self.seats.append(ref)
                # The first model added is a sensible judge until the user picks one.
                self.judge = self.judge or ref
        elif (index := _index(data.get("seat_remove"))) is not None and index < len(self.seats):
            del self.seats[index]
        elif (index := _index(data.get("seat_up"))) is not None and 0 < index < len(self.seats):
            self.seats[index - 1], self.seats[index] = self.seats[index], self.seats[index - 1]
        elif (index := _index(data.get("seat_down"))) is not None and index < len(self.seats) - 1:
            self.seats[index + 1], self.seats[index] = self.seats[index], self.seats[index + 1]

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
        if not self.judge:
            errors["judge"] = "Pick a judge: the model that compares the answers."
        elif self.judge not in catalog:
            errors["judge"] = f"No endpoint offers {self.judge}."
        if self.writer and self.writer not in catalog:
            errors["writer"] = f"No endpoint offers {self.writer}."
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
        if not self.seats or not self.judge:
            return None
        return estimate_run(
            self.seats, self.judge, self.writer or self.judge, catalog, auto_fuse=self.auto_fuse
        )

    def save(self, owner: User) -> Panel:
        panel = Panel.objects.filter(pk=self.panel_id, owner=owner).first() if self.panel_id else None
        panel = panel or Panel(owner=owner)
        panel.name, panel.seats, panel.judge = self.name, list(self.seats), self.judge
        panel.writer, panel.auto_fuse = self.writer, self.auto_fuse
        for name, value in self.web_tools.fields().items():
            setattr(panel, name, value)
        panel.save()
        return panel

    def seat_list(self, catalog: Catalog) -> list[dict[str, Any]]:
        """Each seat with its number, as the template shows it; the same model may sit twice."""
        return [
            {"index": index, "number": index + 1, "ref": ref, "entry": catalog.get(ref)}
            for index, ref in enumerate(self.seats)
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
