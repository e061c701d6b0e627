"""The sidebar's history (search and keyset pages of a user's conversations) and a conversation's spend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Left
from django.urls import reverse
from django.utils.http import urlencode

from chat.models import Conversation, ConversationQuerySet, Run, Turn

PAGE_SIZE = 50
MAX_QUERY_CHARS = 200
TITLE_MAX_CHARS = 200  # Conversation.title's max_length
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class BadCursor(ValueError):
    """A `before` value that no page of ours ever wrote."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last conversation's (updated_at, pk). The next page starts below it.

    Written as "<microseconds since the epoch>-<pk>": exact (both databases keep microseconds),
    and safe in a URL as it is.
    """

    updated_at: datetime
    pk: int

    @classmethod
    def after(cls, conversation: Conversation) -> Cursor:
        return cls(conversation.updated_at, conversation.pk)

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        micros, sep, pk = raw.partition("-")
        if not (sep and micros.isdigit() and pk.isdigit()):
            raise BadCursor(raw)
        try:
            return cls(_EPOCH + int(micros) * _MICROSECOND, int(pk))
        except OverflowError:
            raise BadCursor(raw) from None

    def __str__(self) -> str:
        return f"{(self.updated_at - _EPOCH) // _MICROSECOND}-{self.pk}"


def search(user: User, query: str = "") -> ConversationQuerySet:
    """The user's conversations whose title or any turn's prompt contains `query` (any case),
    each once, newest first. Only ever the user's own."""
    conversations = Conversation.objects.for_user(user).filter(listed=True)
    query = query.strip()[:MAX_QUERY_CHARS]
    if query:
        # EXISTS, not a join: a conversation with three matching prompts is still one row.
        prompt_matches = Turn.objects.filter(conversation=OuterRef("pk"), prompt__icontains=query)
        conversations = conversations.filter(Q(title__icontains=query) | Exists(prompt_matches))
    return conversations.order_by("-updated_at", "-pk")


def with_api_token_name(conversations: ConversationQuerySet) -> ConversationQuerySet:
    """Each conversation with `api_token_name`: the name of the API token its latest run started
    over the API was started with (None when none was), for the sidebar's "API · name" tag."""
    latest = (
        Run.objects.filter(turn__conversation=OuterRef("pk"), api_token__isnull=False)
        .order_by("-pk")
        .values("api_token__name")[:1]
    )
    return conversations.annotate(api_token_name=Subquery(latest))


@dataclass(frozen=True)
class HistoryPage:
    """One page of the sidebar: up to PAGE_SIZE conversations and where the next page starts."""

    conversations: list[Conversation]
    query: str
    before: Cursor | None
    next_cursor: Cursor | None
    current_pk: int | None = None

    @property
    def more_params(self) -> str:
        """The query string of the next page."""
        params = {"q": self.query} if self.query else {}
        return urlencode({**params, "before": str(self.next_cursor)})

    @property
    def page_url(self) -> str:
        """The chat page the sidebar belongs to: where its links without JavaScript go."""
        return reverse("conversation", args=[self.current_pk]) if self.current_pk else reverse("home")

    @property
    def newest_params(self) -> str:
        return urlencode({"q": self.query}) if self.query else ""


def history_page(
    user: User,
    *,
    query: str = "",
    before: Cursor | None = None,
    current_pk: int | None = None,
    size: int = PAGE_SIZE,
) -> HistoryPage:
    """One query: the page's rows and one more, which only says whether another page follows.

    Keyset, not OFFSET: the database seeks to (updated_at, pk) through the (owner, -updated_at)
    index, so the thousandth page costs what the first does."""
    query = query.strip()[:MAX_QUERY_CHARS]
    conversations = with_api_token_name(search(user, query).only("pk", "title", "updated_at"))
    if before is not None:
        # The plain `<=` lets the database seek in the index; the OR then breaks ties by pk.
        conversations = conversations.filter(updated_at__lte=before.updated_at).filter(
            Q(updated_at__lt=before.updated_at) | Q(pk__lt=before.pk)
        )
    rows = list(conversations[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return HistoryPage(
        conversations=rows,
        query=query,
        before=before,
        next_cursor=Cursor.after(rows[-1]) if more else None,
        current_pk=current_pk,
    )


def clean_title(raw: str) -> str:
    """The title to save, with runs of whitespace made one space; ValueError says why not."""
    title = " ".join(raw.split())
    if not title:
        raise ValueError("A title needs at least one character.")
    if len(title) > TITLE_MAX_CHARS:
        raise ValueError(
            f"A title can have at most {TITLE_MAX_CHARS} characters (this one has {len(title)})."
        )
    return title


# -- spend ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnSpend:
    """Tokens and cost of one turn, summed over all of its runs (retries and re-runs included)."""

    position: int
    prompt_head: str
    runs: int
    running: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # the sum of the costs that are known; None when none is
    unknown_cost_runs: int

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_is_partial(self) -> bool:
        return self.unknown_cost_runs > 0 and self.cost is not None


@dataclass(frozen=True)
class Spend:
    turns: list[TurnSpend]

    @property
    def runs(self) -> int:
        return sum(turn.runs for turn in self.turns)

    @property
    def running(self) -> int:
        return sum(turn.running for turn in self.turns)

    @property
    def prompt_tokens(self) -> int:
        return sum(turn.prompt_tokens for turn in self.turns)

    @property
    def completion_tokens(self) -> int:
        return sum(turn.completion_tokens for turn in self.turns)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float | None:
        known = [turn.cost for turn in self.turns if turn.cost is not None]
        return sum(known) if known else None

    @property
    def unknown_cost_runs(self) -> int:
        return sum(turn.unknown_cost_runs for turn in self.turns)

    @property
    def cost_is_partial(self) -> bool:
        return self.unknown_cost_runs > 0 and self.cost is not None


def conversation_spend(conversation: Conversation) -> Spend:
    """One query: per turn, its runs' tokens and cost summed (SUM skips unknown costs, which are
    counted so the page can say a figure is partial); the totals add the turns up."""
    rows = (
        Turn.objects.filter(conversation=conversation)
        .order_by("position")
        .values("pk", "position")
        .annotate(
            prompt_head=Left("prompt", 80),
            runs_count=Count("runs"),
            running=Count("runs", filter=Q(runs__status=Run.Status.RUNNING)),
            prompt_tokens=Coalesce(Sum("runs__prompt_tokens"), 0, output_field=IntegerField()),
            completion_tokens=Coalesce(Sum("runs__completion_tokens"), 0, output_field=IntegerField()),
            cost=Sum("runs__cost"),
            unknown_cost_runs=Count("runs", filter=Q(runs__cost__isnull=True)),
        )
    )
    return Spend(
        [
            TurnSpend(
                position=row["position"],
                prompt_head=row["prompt_head"],
                runs=row["runs_count"],
                running=row["running"],
                prompt_tokens=row["prompt_tokens"],
                completion_tokens=row["completion_tokens"],
                cost=row["cost"],
                unknown_cost_runs=row["unknown_cost_runs"],
            )
            for row in rows
        ]
    )
