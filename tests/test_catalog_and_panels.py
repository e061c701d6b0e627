"""The merged catalog, estimates, and checking a panel before it is saved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from django.http import QueryDict

from chat.endpoints.catalog import Catalog, CatalogEntry, catalog_cache, estimate_run, load_catalog
from chat.panels import Draft
from chat.providers.types import Endpoint, ModelInfo
from chat.simulator import Simulator


def info(
    model_id: str, prompt: float | None = 1e-6, completion: float | None = 2e-6, tools: bool = True
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id.split("/")[-1].title(),
        endpoint="openrouter",
        prompt_price=prompt,
        completion_price=completion,
        supports_tools=tools,
    )


CATALOG = Catalog(
    [
        CatalogEntry("openai/gpt-5.5", info("openai/gpt-5.5", 5e-6, 30e-6)),
        CatalogEntry("google/gemini-3-flash-preview", info("google/gemini-3-flash-preview", 0.3e-6, 2.5e-6)),
        CatalogEntry("meta-llama/llama-4-maverick", info("meta-llama/llama-4-maverick", tools=False)),
        CatalogEntry("ollama::llama3.2", info("llama3.2", None, None)),
    ]
)


def post(**fields: str | list[str]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(time_scale=0) as simulator:
        yield simulator


# -- the catalog --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_models_of_other_endpoints_are_qualified_by_the_endpoint(sim: Simulator) -> None:
    first = sim.endpoint("simulated")
    second = sim.endpoint("lab")
    catalog = await load_catalog([first, second], refresh=True)
    assert "openai/gpt-5.5" in catalog
    assert "lab::openai/gpt-5.5" in catalog


@pytest.mark.asyncio
async def test_an_endpoint_that_is_down_is_reported_and_the_rest_still_works(sim: Simulator) -> None:
    down = Endpoint(name="broken", base_url="http://127.0.0.1:9/v1")  # nothing listens on port 9
    catalog = await load_catalog([sim.endpoint("simulated"), down], refresh=True)
    assert "broken" in catalog.down and catalog.down["broken"]
    assert "openai/gpt-5.5" in catalog


@pytest.mark.asyncio
async def test_the_catalog_is_cached_until_refreshed(sim: Simulator) -> None:
    endpoint = sim.endpoint("cached-endpoint")
    catalog_cache.forget(endpoint)
    await load_catalog([endpoint])
    sim.add_model(sim.models["openai/gpt-5.5"].model_copy(update={"id": "new/model"}))
    assert "new/model" not in await load_catalog([endpoint])
    assert "new/model" in await load_catalog([endpoint], refresh=True)


def test_search_matches_every_word_in_the_name_or_id() -> None:
    assert [e.ref for e in CATALOG.search("gemini flash")] == ["google/gemini-3-flash-preview"]


def test_search_filters_by_provider_tools_and_price() -> None:
    assert [e.ref for e in CATALOG.search(provider="openai")] == ["openai/gpt-5.5"]
    assert "meta-llama/llama-4-maverick" not in [e.ref for e in CATALOG.search(tools_only=True)]
    # $3 per million output tokens: flash (2.5) and maverick (2) pass, gpt-5.5 (30) and the
    # unpriced one do not.
    assert [e.ref for e in CATALOG.search(max_price=3)] == [
        "google/gemini-3-flash-preview",
        "meta-llama/llama-4-maverick",
    ]


def test_sorting_by_price_puts_unknown_prices_last() -> None:
    refs = [e.ref for e in CATALOG.search(sort="price")]
    assert refs[0] == "meta-llama/llama-4-maverick" and refs[-1] == "ollama::llama3.2"


# -- the estimate ---------------------------------------------------------------------------


def test_the_estimate_prices_every_seat_the_judge_and_the_writer() -> None:
    estimate = estimate_run(["openai/gpt-5.5", "openai/gpt-5.5"], "openai/gpt-5.5", "openai/gpt-5.5", CATALOG)
    seats = 2 * (400 * 5e-6 + 900 * 30e-6)
    judge = (400 + 1800) * 5e-6 + 1200 * 30e-6
    writer = (400 + 1800 + 1200) * 5e-6 + 1000 * 30e-6
    assert estimate.cost == pytest.approx(seats + judge + writer)


def test_the_estimate_is_unknown_when_a_price_is_missing_and_says_which() -> None:
    estimate = estimate_run(
        ["openai/gpt-5.5", "ollama::llama3.2"], "openai/gpt-5.5", "openai/gpt-5.5", CATALOG
    )
    assert estimate.cost is None and estimate.unpriced == ["ollama::llama3.2"]


def test_a_cheaper_panel_is_estimated_cheaper() -> None:
    dear = estimate_run(["openai/gpt-5.5"] * 3, "openai/gpt-5.5", "openai/gpt-5.5", CATALOG)
    flash = "google/gemini-3-flash-preview"
    cheap = estimate_run([flash] * 3, flash, flash, CATALOG)
    assert cheap.cost is not None and dear.cost is not None and cheap.cost < dear.cost


# -- building and checking a panel -----------------------------------------------------------


def test_adding_a_model_seats_it_and_makes_it_the_judge_until_one_is_picked() -> None:
    draft = Draft()
    draft.apply(post(add="openai/gpt-5.5"))
    draft.apply(post(add="google/gemini-3-flash-preview"))
    assert draft.seats == ["openai/gpt-5.5", "google/gemini-3-flash-preview"]
    assert draft.judge == "openai/gpt-5.5"


def test_the_same_model_can_sit_twice() -> None:
    draft = Draft()
    draft.apply(post(add="openai/gpt-5.5"))
    draft.apply(post(add="openai/gpt-5.5"))
    draft.name = "Self-fusion"
    assert draft.validate(CATALOG, need_name=True)
    assert draft.seats == ["openai/gpt-5.5", "openai/gpt-5.5"]


def test_seats_can_be_removed_and_reordered() -> None:
    draft = Draft(seats=["a", "b", "c"])
    draft.apply(post(seat_up="2"))
    assert draft.seats == ["a", "c", "b"]
    draft.apply(post(seat_down="0"))
    assert draft.seats == ["c", "a", "b"]
    draft.apply(post(seat_remove="1"))
    assert draft.seats == ["c", "b"]


def test_a_ninth_seat_is_refused_with_a_message() -> None:
    draft = Draft(seats=["openai/gpt-5.5"] * 8)
    draft.apply(post(add="openai/gpt-5.5"))
    assert len(draft.seats) == 8 and "at most 8" in draft.errors["seats"]


@pytest.mark.parametrize(
    ("draft", "control", "message"),
    [
        (Draft(seats=["openai/gpt-5.5"], judge="openai/gpt-5.5", name="x"), "seats", "at least 2"),
        (Draft(seats=["openai/gpt-5.5"] * 9, judge="openai/gpt-5.5", name="x"), "seats", "at most 8"),
        (
            Draft(seats=["openai/gpt-5.5", "nobody/nothing"], judge="openai/gpt-5.5", name="x"),
            "seats",
            "nobody/nothing",
        ),
        (Draft(seats=["openai/gpt-5.5"] * 2, judge="", name="x"), "judge", "Pick a judge"),
        (Draft(seats=["openai/gpt-5.5"] * 2, judge="nobody/nothing", name="x"), "judge", "nobody/nothing"),
        (
            Draft(seats=["openai/gpt-5.5"] * 2, judge="openai/gpt-5.5", writer="no/writer", name="x"),
            "writer",
            "no/writer",
        ),
        (Draft(seats=["openai/gpt-5.5"] * 2, judge="openai/gpt-5.5", name=""), "name", "name"),
    ],
)
def test_an_invalid_panel_gets_a_message_next_to_the_control(
    draft: Draft, control: str, message: str
) -> None:
    assert not draft.validate(CATALOG, need_name=True)
    assert message in draft.errors[control]


@pytest.mark.django_db
def test_saving_a_panel_stores_it_for_its_owner_only(django_user_model: type) -> None:
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    draft = Draft(seats=["openai/gpt-5.5"] * 2, judge="openai/gpt-5.5", name="Mine", web_search=True)
    panel = draft.save(alice)
    assert (panel.owner, panel.seats, panel.web_search) == (alice, ["openai/gpt-5.5"] * 2, True)
    # Bob cannot overwrite it by posting its id: he gets a new panel of his own.
    hijack = Draft(seats=["a", "b"], judge="a", name="Stolen", panel_id=panel.pk).save(bob)
    panel.refresh_from_db()
    assert hijack.pk != panel.pk and panel.name == "Mine" and hijack.owner == bob
