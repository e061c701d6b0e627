"""Re-fuse with all answers and Re-judge from a run's page: owner only, refused while the run goes,
no seat asked again, both runs kept, and only models the owner may call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient

from chat.endpoints.catalog import Catalog, CatalogEntry
from chat.fusion.options import RunOptions
from chat.models import Run, SeatAnswer
from chat.providers.types import ModelInfo
from chat.runs import creation
from chat.runs.dispatch import wait_for_run
from chat.views import rejudge
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, analysis_json, answer
from tests.test_judging_runs import a_quorum_run_with_a_late_seat, execute
from tests.test_runs import saved, script_judge_and_writer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_catalog"),
]

OTHER_JUDGE = "other/judge"


@pytest.fixture
def fake() -> FakeModelClient:
    return FakeModelClient()


@pytest.fixture
def started(run_services: Callable[..., None]) -> list[int]:
    """The runs the views started: recorded, not executed (a test executes them with its fake)."""
    recorded: list[int] = []
    run_services(dispatch=lambda run_id, *args: recorded.append(run_id))
    return recorded


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """The models alice may call: the panel's, and another judge."""
    models = [*SEATS, JUDGE, WRITER, OTHER_JUDGE]
    found = Catalog([CatalogEntry(m, ModelInfo(id=m, name=m, endpoint="e")) for m in models])

    async def user_catalog(user: User) -> Catalog:
        return found

    monkeypatch.setattr(rejudge, "user_catalog", user_catalog)
    return found


async def signed_in(user: User) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


async def a_finished_run(make_run: Callable[..., Run], alice: User, **options: object) -> Run:
    run = await sync_to_async(make_run)(alice)
    await Run.objects.filter(pk=run.pk).aupdate(
        status=Run.Status.DONE, stage=Run.Stage.FINISHED, options=RunOptions(**options).stored()
    )
    await SeatAnswer.objects.filter(run=run).aupdate(status=SeatAnswer.Status.DONE, text="An answer.")
    return await Run.objects.aget(pk=run.pk)


async def test_re_fusing_with_all_answers_keeps_both_runs_and_asks_no_seat(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient, started: list[int]
) -> None:
    first = await a_quorum_run_with_a_late_seat(make_run, alice, fake)
    asked_before = len(fake.requests)
    script_judge_and_writer(fake)

    response = await (await signed_in(alice)).post(f"/runs/{first.pk}/rejudge/")

    assert response.status_code == 302
    again = await Run.objects.filter(pk__gt=first.pk).aget()
    assert started == [again.pk] and again.retry_of_id == first.pk and again.turn_id == first.turn_id
    execute(again, fake)
    await wait_for_run(again.pk)
    assert [request.model for request in fake.requests[asked_before:]] == [JUDGE, WRITER]
    assert "The late answer." in str(fake.requests[asked_before].messages)
    earlier, answers = await saved(first)
    assert earlier.status == Run.Status.DONE and answers[2].late  # the first run is kept as it was
    # Both stay on the turn (after the stopped run the quorum run was a re-run of).
    turn_runs = [pk async for pk in Run.objects.filter(turn_id=first.turn_id).values_list("pk", flat=True)]
    assert turn_runs[-2:] == [first.pk, again.pk]


async def test_re_judging_with_another_judge_uses_it_and_keeps_the_runs_writer(
    make_run: Callable[..., Run], alice: User, catalog: Catalog, started: list[int], fake: FakeModelClient
) -> None:
    first = await a_finished_run(make_run, alice)
    client = await signed_in(alice)
    response = await client.post(f"/runs/{first.pk}/rejudge/", {"judge": OTHER_JUDGE, "writer": ""})
    assert response.status_code == 302
    again = await Run.objects.exclude(pk=first.pk).aget()
    assert (again.judge, again.writer, again.retry_of_id) == (OTHER_JUDGE, WRITER, first.pk)
    fake.script(OTHER_JUDGE, answer(analysis_json()))
    fake.script(WRITER, answer("Fused by another judge."))
    execute(again, fake)
    await wait_for_run(again.pk)
    assert [request.model for request in fake.requests] == [OTHER_JUDGE, WRITER]


async def test_re_judging_shows_the_turn_with_both_runs_over_htmx(
    make_run: Callable[..., Run], alice: User, catalog: Catalog, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice)
    client = await signed_in(alice)
    response = await client.post(
        f"/runs/{first.pk}/rejudge/", {"judge": OTHER_JUDGE}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="turn-{first.turn_id}"' in html and "Earlier run 1 of 2" in html
    assert f"Run 2 of 2: Test panel (re-judged by {OTHER_JUDGE}, written by {WRITER})" in html


async def test_a_model_the_owner_may_not_call_is_refused(
    make_run: Callable[..., Run], alice: User, catalog: Catalog, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice)
    response = await (await signed_in(alice)).post(f"/runs/{first.pk}/rejudge/", {"writer": "someone/else"})
    assert response.status_code == 400
    assert "You cannot use the model someone/else" in response.content.decode()
    assert started == [] and await Run.objects.acount() == 1


async def test_bob_cannot_re_judge_or_see_the_pickers_of_alices_run(
    make_run: Callable[..., Run], alice: User, bob: User, catalog: Catalog, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice)
    client = await signed_in(bob)
    assert (await client.post(f"/runs/{first.pk}/rejudge/")).status_code == 404
    assert (await client.get(f"/runs/{first.pk}/rejudge/", headers={"HX-Request": "true"})).status_code == 404
    assert started == [] and await Run.objects.acount() == 1


async def test_signed_out_nobody_re_judges(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice)
    response = await AsyncClient().post(f"/runs/{first.pk}/rejudge/")
    assert response.status_code == 302 and "/login" in response["Location"]
    assert started == []


async def test_a_running_run_is_refused_like_a_retry(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    running = await sync_to_async(make_run)(alice)
    response = await (await signed_in(alice)).post(f"/runs/{running.pk}/rejudge/")
    assert response.status_code == 409 and started == [] and await Run.objects.acount() == 1


async def test_an_auto_fuse_run_is_refused_with_the_reason(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice)
    await Run.objects.filter(pk=first.pk).aupdate(auto_fuse=True)
    response = await (await signed_in(alice)).post(f"/runs/{first.pk}/rejudge/")
    assert response.status_code == 429 and "fused again" in response.content.decode()
    assert started == []


async def test_the_pickers_list_the_owners_catalog(
    make_run: Callable[..., Run], alice: User, catalog: Catalog
) -> None:
    first = await a_finished_run(make_run, alice)
    response = await (await signed_in(alice)).get(
        f"/runs/{first.pk}/rejudge/", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and f'<option value="{OTHER_JUDGE}">' in html
    assert 'name="judge"' in html and 'name="writer"' in html and "<html" not in html
    # Without JavaScript the same form is a page of its own.
    page = (await (await signed_in(alice)).get(f"/runs/{first.pk}/rejudge/")).content.decode()
    assert "<html" in page and f'<option value="{OTHER_JUDGE}">' in page


async def test_a_compare_only_run_re_judged_is_judged(
    make_run: Callable[..., Run], alice: User, catalog: Catalog, started: list[int]
) -> None:
    first = await a_finished_run(make_run, alice, compare_only=True)
    response = await (await signed_in(alice)).post(f"/runs/{first.pk}/rejudge/", {"judge": OTHER_JUDGE})
    assert response.status_code == 302
    again = await Run.objects.exclude(pk=first.pk).aget()
    assert first.compare_only and not again.compare_only and again.judge == OTHER_JUDGE


async def test_a_plain_retry_of_a_compare_only_run_stays_compare_only(
    make_run: Callable[..., Run], alice: User
) -> None:
    first = await a_finished_run(make_run, alice, compare_only=True)
    retry = await sync_to_async(creation.create_retry)(first, simulated=False)
    rejudged = await sync_to_async(creation.create_retry)(first, simulated=False, keep_all=True)
    assert retry.compare_only and not rejudged.compare_only
