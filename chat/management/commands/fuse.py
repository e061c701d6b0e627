"""`manage.py fuse "question"`: run a fusion from the terminal and watch it stream."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.endpoints.resolve import default_endpoint
from chat.fusion.request import MAX_SEATS, MIN_SEATS, FusionRequest
from chat.models import Panel
from chat.providers.catalog import fetch_catalog
from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.http_client import create_http_client
from chat.terminal import TerminalView


class Command(BaseCommand):
    help = "Ask a panel of models one question and print the judge's analysis and the fused answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--preset", default=None, help="quality or budget (default: budget)")
        parser.add_argument("--seat", action="append", default=[], help="a panel model; repeat for each seat")
        parser.add_argument("--judge", default=None, help="the judge model (default: the preset's judge)")
        parser.add_argument("--writer", default=None, help="the model that writes the fused answer")
        parser.add_argument("--max-tokens", type=int, default=settings.FUSIONROOM_MAX_TOKENS)

    def handle(self, *args: Any, **options: Any) -> None:
        seats: list[str] = options["seat"]
        judge: str | None = options["judge"]
        if not seats or options["preset"]:
            preset = self._preset(options["preset"] or "budget")
            seats = seats or list(preset.seats)
            judge = judge or preset.judge
        if not MIN_SEATS <= len(seats) <= MAX_SEATS:
            raise CommandError(f"A panel has {MIN_SEATS} to {MAX_SEATS} seats; you gave {len(seats)}.")
        assert judge is not None
        try:
            asyncio.run(
                self._fuse(options["question"], seats, judge, options["writer"], options["max_tokens"])
            )
        except ProviderError as error:
            raise CommandError(error.message) from None

    @staticmethod
    def _preset(name: str) -> Panel:
        presets = Panel.objects.filter(is_preset=True)
        found = presets.filter(slug__iexact=name).first() or presets.filter(name__iexact=name).first()
        if found is None:
            names = ", ".join(panel.slug or panel.name for panel in presets) or "none (run migrate)"
            raise CommandError(f"No preset called {name!r}; the presets are: {names}")
        return found

    async def _fuse(
        self, question: str, seats: list[str], judge: str, writer: str | None, max_tokens: int
    ) -> None:
        # Imported here: the pipeline is only needed once the arguments are known to be good.
        from chat.fusion.pipeline import run_fusion

        endpoint = default_endpoint()
        async with create_http_client() as http:
            catalog = {model.id: model for model in await fetch_catalog(endpoint, http)}
            unknown = sorted({*seats, judge, writer or judge} - catalog.keys())
            if unknown:
                raise CommandError(f"{endpoint.name} offers no model called {', '.join(unknown)}.")
            request = FusionRequest(
                messages=[{"role": "user", "content": question}],
                seats=seats,
                judge=judge,
                writer=writer,
                max_tokens=max_tokens,
                catalog=catalog,
            )
            # rich writes whole lines itself; Django's wrapper would add a newline to every write.
            self.stdout.ending = ""
            view = TerminalView(self.stdout, simulated=endpoint.simulated)
            client = OpenAICompatibleClient(endpoint, http)
            with view:
                async for event in run_fusion(request, client):
                    view.show(event)
