"""The chatroom's pages as a person meets them: accounts, who may see what, sending, saved runs."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib.auth.models import AbstractUser
from django.test import AsyncClient, Client
from django.test.html import Element, parse_html
from django.utils.html import escape

from chat.forms import MAX_PROMPT_CHARS
from chat.fusion.analysis import Analysis
from chat.models import Conversation, Panel, Run, SeatAnswer, Turn
from chat.presets import PRESETS
from chat.runs import execution
from chat.runs.creation import create_turn_and_run
from tests.conftest import saved_rows
from tests.html import attr, elements, text

PASSWORD = "correct horse battery staple"
QUALITY_SEATS = ["anthropic/claude-opus-4.8", "openai/gpt-5.5", "google/gemini-3.1-pro-preview"]

# -- reading pages ----------------------------------------------------------------------------


def page(response: Any) -> Element:
    return parse_html(response.content.decode())


def region(root: Element, label: str) -> Element:
    (found,) = [el for el in elements(root) if attr(el, "aria-label") == label]
    return found


def labelled(root: Element, label: str) -> Element:
    """The form control a <label> with exactly this text points to."""
    (target,) = [attr(el, "for") for el in elements(root) if el.name == "label" and text(el) == label]
    (control,) = [el for el in elements(root) if attr(el, "id") == target]
    return control


# -- who is who -------------------------------------------------------------------------------


@pytest.fixture
def alice(django_user_model: type[AbstractUser]) -> AbstractUser:
    """Alice owns the conversation and its run. With a password, unlike conftest's: she signs in."""
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model: type[AbstractUser]) -> AbstractUser:
    """Bob is another user, with a panel of his own: none of Alice's things are his."""
    return django_user_model.objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def bobs_panel(bob: AbstractUser) -> Panel:
    return Panel.objects.create(
        owner=bob, name="Bob's panel", seats=["openai/gpt-5.5"] * 2, judge="openai/gpt-5.5"
    )


@pytest.fixture
def conversation(alice: AbstractUser, presets: dict[str, Panel]) -> Conversation:
    conversation = Conversation.objects.create(owner=alice)
    create_turn_and_run(
        conversation, "How should a team plan a database migration?", presets["Quality"], simulated=True
    )
    return conversation


@pytest.fixture
def run(conversation: Conversation) -> Run:
    return Run.objects.get(turn__conversation=conversation)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The real hasher is slow on purpose; these tests sign in dozens of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def started_runs(run_services: Callable[..., None]) -> list[int]:
    """Runs the views asked to start; nothing actually runs."""
    started: list[int] = []
    run_services(dispatch=lambda run_id, *args: started.append(run_id))
    return started


@pytest.fixture(autouse=True)
def stop_requests(run_services: Callable[..., None]) -> list[int]:
    requested: list[int] = []

    async def request_stop(run_id: int) -> None:
        requested.append(run_id)

    run_services(request_stop=request_stop)
    return requested


# -- accounts ---------------------------------------------------------------------------------


def test_the_sign_up_form_uses_djangos_labels(client: Client, db: None) -> None:
    form = page(client.get("/accounts/signup/"))

    assert attr(labelled(form, "Username"), "name") == "username"
    assert attr(labelled(form, "Password"), "name") == "password1"
    assert attr(labelled(form, "Password confirmation"), "name") == "password2"


def test_signing_up_creates_the_user_and_signs_them_in(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    response = client.post(
        "/accounts/signup/", {"username": "charlie", "password1": PASSWORD, "password2": PASSWORD}
    )

    charlie = django_user_model.objects.get(username="charlie")
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").context["user"] == charlie


def test_signing_up_with_passwords_that_differ_creates_no_user(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    response = client.post(
        "/accounts/signup/", {"username": "charlie", "password1": PASSWORD, "password2": PASSWORD + "!"}
    )

    assert response.status_code == 200
    assert not django_user_model.objects.filter(username="charlie").exists()


def test_signing_in_with_the_right_password_opens_the_chat(client: Client, alice: AbstractUser) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").context["user"] == alice


def test_signing_in_with_a_wrong_password_is_refused(client: Client, alice: AbstractUser) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert not response.context["user"].is_authenticated


def test_signing_out_by_post_ends_the_session(as_alice: Client) -> None:
    response = as_alice.post("/accounts/logout/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert as_alice.get("/").status_code == 302


def test_changing_the_password_keeps_alice_signed_in_with_the_new_one(
    as_alice: Client, alice: AbstractUser
) -> None:
    new = "a different and longer passphrase"
    response = as_alice.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )

    alice.refresh_from_db()
    assert response.status_code == 302
    assert response.url == "/accounts/password/done/"
    assert alice.check_password(new)
    assert as_alice.get("/").status_code == 200


# -- who may see and do what ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/c/{conversation}/", "/runs/{run}/"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, run: Run, path: str) -> None:
    url = path.format(conversation=run.turn.conversation_id, run=run.pk)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


def test_an_anonymous_send_is_sent_to_sign_in_and_saves_nothing(
    client: Client, presets: dict[str, Panel]
) -> None:
    before = saved_rows()

    response = client.post("/send/", {"message": "Hello?", "panel": presets["Budget"].pk})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert saved_rows() == before


def test_alice_sees_her_conversation(as_alice: Client, conversation: Conversation, run: Run) -> None:
    response = as_alice.get(f"/c/{conversation.pk}/")

    assert response.status_code == 200
    assert region(page(response), f"Run {run.pk}")
    assert "How should a team plan a database migration?" in text(page(response))


def test_alice_sees_her_run_fragment(as_alice: Client, run: Run) -> None:
    response = as_alice.get(f"/runs/{run.pk}/")

    assert response.status_code == 200
    assert attr(page(response), "id") == f"run-{run.pk}"


def test_bob_gets_404_for_alices_conversation(as_bob: Client, conversation: Conversation) -> None:
    assert as_bob.get(f"/c/{conversation.pk}/").status_code == 404


def test_bob_gets_404_for_alices_run_fragment(as_bob: Client, run: Run) -> None:
    assert as_bob.get(f"/runs/{run.pk}/").status_code == 404


def test_bob_cannot_send_to_alices_conversation(
    as_bob: Client, conversation: Conversation, presets: dict[str, Panel], started_runs: list[int]
) -> None:
    before = saved_rows()

    response = as_bob.post(
        f"/c/{conversation.pk}/send/", {"message": "Mine now", "panel": presets["Budget"].pk}
    )

    assert response.status_code == 404
    assert saved_rows() == before
    assert started_runs == []


def test_bob_cannot_stop_alices_run(as_bob: Client, run: Run, stop_requests: list[int]) -> None:
    before = saved_rows()

    response = as_bob.post(f"/runs/{run.pk}/stop/")

    run.refresh_from_db()
    assert response.status_code == 404
    assert stop_requests == []
    assert run.status == Run.Status.RUNNING
    assert saved_rows() == before


def test_alice_can_stop_her_run(as_alice: Client, run: Run, stop_requests: list[int]) -> None:
    response = as_alice.post(f"/runs/{run.pk}/stop/", headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert stop_requests == [run.pk]


def test_stopping_without_javascript_goes_back_to_the_conversation(
    as_alice: Client, run: Run, stop_requests: list[int]
) -> None:
    response = as_alice.post(f"/runs/{run.pk}/stop/")

    assert response.status_code == 302 and response.url == f"/c/{run.turn.conversation_id}/"
    assert stop_requests == [run.pk]


@pytest.mark.parametrize(
    "path", ["/send/", "/c/{conversation}/send/", "/runs/{run}/stop/", "/accounts/logout/"]
)
def test_a_get_on_a_url_that_changes_state_is_refused(as_alice: Client, run: Run, path: str) -> None:
    before = saved_rows()

    response = as_alice.get(path.format(conversation=run.turn.conversation_id, run=run.pk))

    assert response.status_code == 405
    assert saved_rows() == before


# -- the composer -----------------------------------------------------------------------------


def test_the_data_migration_seeds_the_quality_and_budget_presets(db: None) -> None:
    migration = importlib.import_module("chat.migrations.0002_seed_presets")
    Panel.objects.all().delete()

    migration.seed(apps, None)

    presets = Panel.objects.filter(is_preset=True, owner=None)
    assert [(p.name, p.seats, p.judge) for p in presets] == [
        (p["name"], p["seats"], p["judge"]) for p in PRESETS
    ]


def test_the_chat_page_has_a_textbox_labelled_message(as_alice: Client, presets: dict[str, Panel]) -> None:
    assert labelled(page(as_alice.get("/")), "Message").name == "textarea"


def test_the_panel_select_offers_exactly_quality_and_budget(
    as_alice: Client, presets: dict[str, Panel]
) -> None:
    select = labelled(page(as_alice.get("/")), "Panel")

    assert select.name == "select"
    assert [text(option) for option in elements(select) if option.name == "option"] == ["Quality", "Budget"]


def test_the_chat_page_has_a_send_button(as_alice: Client, presets: dict[str, Panel]) -> None:
    buttons = [el for el in elements(page(as_alice.get("/"))) if el.name == "button" and text(el) == "Send"]

    assert [attr(button, "type") for button in buttons] == ["submit"]


@pytest.mark.parametrize("message", ["", "   \n  "], ids=["empty", "blank"])
def test_an_empty_message_is_refused_with_a_clear_message(
    as_alice: Client, presets: dict[str, Panel], message: str
) -> None:
    before = saved_rows()

    response = as_alice.post("/send/", {"message": message, "panel": presets["Budget"].pk})

    assert response.status_code == 422
    assert "Write a message first." in text(page(response))
    assert saved_rows() == before


def test_a_message_over_the_size_limit_is_refused_with_a_clear_message(
    as_alice: Client, conversation: Conversation, presets: dict[str, Panel]
) -> None:
    before = saved_rows()

    response = as_alice.post(
        f"/c/{conversation.pk}/send/",
        {"message": "x" * (MAX_PROMPT_CHARS + 1), "panel": presets["Budget"].pk},
    )

    assert response.status_code == 422
    assert f"over the limit of {MAX_PROMPT_CHARS:,}" in text(page(response))
    assert saved_rows() == before


def test_a_refused_htmx_send_returns_only_the_composer_with_the_error(
    as_alice: Client, presets: dict[str, Panel]
) -> None:
    response = as_alice.post(
        "/send/", {"message": "", "panel": presets["Budget"].pk}, headers={"HX-Request": "true"}
    )

    composer = page(response)
    assert response.status_code == 422
    assert attr(composer, "id") == "composer"
    assert "Write a message first." in text(composer)


def test_sending_with_another_users_panel_is_refused_and_saves_nothing(
    as_alice: Client, bobs_panel: Panel, started_runs: list[int]
) -> None:
    before = saved_rows()

    response = as_alice.post("/send/", {"message": "Use Bob's panel", "panel": bobs_panel.pk})

    assert response.status_code == 422
    assert "Pick one of the panels in the list." in text(page(response))
    assert saved_rows() == before
    assert started_runs == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sending_a_first_message_starts_a_run_in_a_new_conversation(
    async_client: AsyncClient, alice: AbstractUser, presets: dict[str, Panel], started_runs: list[int]
) -> None:
    await async_client.aforce_login(alice)

    response = await async_client.post(
        "/send/", {"message": "Plan a migration", "panel": presets["Budget"].pk}
    )

    run = await Run.objects.select_related("turn__conversation").aget()
    assert response.status_code == 302
    assert response.url == f"/c/{run.turn.conversation.pk}/"
    assert run.turn.conversation.owner_id == alice.pk
    assert run.turn.prompt == "Plan a migration"
    assert run.panel_id == presets["Budget"].pk
    assert started_runs == [run.pk]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sending_a_follow_up_with_htmx_starts_its_run_and_returns_the_new_turn(
    async_client: AsyncClient,
    alice: AbstractUser,
    conversation: Conversation,
    presets: dict[str, Panel],
    started_runs: list[int],
) -> None:
    await Run.objects.filter(turn__conversation=conversation).aupdate(status=Run.Status.DONE)
    await async_client.aforce_login(alice)

    response = await async_client.post(
        f"/c/{conversation.pk}/send/",
        {"message": "And the rollback?", "panel": presets["Budget"].pk},
        headers={"HX-Request": "true"},
    )

    turn = await Turn.objects.aget(conversation=conversation, position=1)
    run = await Run.objects.aget(turn=turn)
    assert response.status_code == 200
    assert attr(page(response), "id") == f"turn-{turn.pk}"
    assert turn.prompt == "And the rollback?"
    assert started_runs == [run.pk]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_send_hands_its_run_what_the_run_would_read_back_itself(
    async_client: AsyncClient,
    alice: AbstractUser,
    conversation: Conversation,
    presets: dict[str, Panel],
    run_services: Callable[..., None],
) -> None:
    handed: list[execution.Loaded | None] = []
    run_services(dispatch=lambda run_id, loaded, services: handed.append(loaded))
    await Run.objects.filter(turn__conversation=conversation).aupdate(status=Run.Status.DONE)
    await async_client.aforce_login(alice)

    await async_client.post(
        f"/c/{conversation.pk}/send/",
        {"message": "And the rollback?", "panel": presets["Budget"].pk},
        headers={"HX-Request": "true"},
    )

    [loaded] = handed
    assert loaded is not None
    read_back = await sync_to_async(execution.load)(loaded.run.pk)
    assert loaded.messages == read_back.messages
    assert len(loaded.messages) >= 2 and loaded.messages[-1]["content"] == "And the rollback?"
    assert [(a.pk, a.index, a.model) for a in loaded.answers] == [
        (a.pk, a.index, a.model) for a in read_back.answers
    ]
    assert loaded.endpoints == read_back.endpoints
    assert (loaded.run.judge, loaded.run.writer) == (read_back.run.judge, read_back.run.writer)


# -- the admin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/chat/run/",
        "/admin/chat/run/{run}/change/",
        "/admin/chat/conversation/",
        "/admin/chat/conversation/{conversation}/change/",
    ],
)
def test_staff_can_read_runs_and_conversations_in_the_admin(
    admin_client: Client, run: Run, path: str
) -> None:
    response = admin_client.get(path.format(run=run.pk, conversation=run.turn.conversation_id))

    assert response.status_code == 200


def test_staff_cannot_add_a_run_in_the_admin(admin_client: Client, db: None) -> None:
    assert admin_client.get("/admin/chat/run/add/").status_code == 403


def test_staff_cannot_change_a_saved_run_in_the_admin(admin_client: Client, run: Run) -> None:
    response = admin_client.post(f"/admin/chat/run/{run.pk}/change/", {"status": "done", "note": "edited"})

    run.refresh_from_db()
    assert response.status_code == 403
    assert run.note == ""


def test_a_normal_user_is_sent_away_from_the_admin(as_alice: Client) -> None:
    response = as_alice.get("/admin/")

    assert response.status_code == 302
    assert response.url == "/admin/login/?next=/admin/"


# -- a saved run on the conversation page -----------------------------------------------------

HOSTILE_ANSWER = "Use **blue-green** deploys.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n"
ANALYSIS = Analysis.model_validate(
    {
        "consensus": [{"point": "Migrate in small steps.", "seats": [0, 1]}],
        "contradictions": [
            {
                "topic": "Downtime",
                "stances": [
                    {"seat": 0, "stance": "Zero downtime is possible."},
                    {"seat": 1, "stance": "Plan a short window."},
                ],
                "assessment": "Seat 1 is right for this schema change.",
            }
        ],
        "partial_coverage": [{"point": "Backfill in batches.", "seats": [1]}],
        "unique_insights": [
            {
                "seat": 0,
                "insight": "Feature flags gate reads.",
                "why_it_matters": "They make rollback instant.",
            }
        ],
        "blind_spots": ["Nobody mentioned testing the restore."],
    }
).model_dump()
HEADINGS = ["Consensus", "Contradictions", "Partial coverage", "Unique insights", "Blind spots"]


def finish(run: Run, **values: Any) -> Run:
    """Save the run as a finished one would be: seat 1 hostile, seat 2 plain, seat 3 failed."""
    first, second, third = run.answers.order_by("index")
    first.status, first.text = SeatAnswer.Status.DONE, HOSTILE_ANSWER
    second.status, second.text = SeatAnswer.Status.DONE, "Plan a short window."
    third.status, third.error = SeatAnswer.Status.FAILED, "The model timed out after 60 s."
    SeatAnswer.objects.bulk_update([first, second, third], ["status", "text", "error"])
    values = {
        "status": Run.Status.DONE,
        "stage": Run.Stage.FINISHED,
        "fused_text": "Migrate **in steps**.",
        **values,
    }
    Run.objects.filter(pk=run.pk).update(**values)
    run.refresh_from_db()
    return run


@pytest.fixture
def finished_run(run: Run) -> Run:
    return finish(run, analysis=ANALYSIS)


@pytest.fixture
def conversation_page(as_alice: Client, finished_run: Run) -> Element:
    return page(as_alice.get(f"/c/{finished_run.turn.conversation_id}/"))


def test_the_analysis_shows_its_five_headings(conversation_page: Element, finished_run: Run) -> None:
    analysis = region(conversation_page, "Analysis")

    assert [text(h) for h in elements(analysis) if h.name == "h3"] == HEADINGS


def test_the_analysis_shows_each_kind_of_finding(conversation_page: Element) -> None:
    shown = text(region(conversation_page, "Analysis"))

    for finding in [
        "Migrate in small steps.",
        "Downtime",
        "Zero downtime is possible.",
        "Seat 1 is right for this schema change.",
        "Backfill in batches.",
        "Feature flags gate reads.",
        "They make rollback instant.",
        "Nobody mentioned testing the restore.",
    ]:
        assert finding in shown


def test_each_seat_has_a_region_labelled_with_its_number_and_model(conversation_page: Element) -> None:
    labels = [
        attr(el, "aria-label")
        for el in elements(conversation_page)
        if "seat" in (attr(el, "class") or "").split()
    ]

    assert labels == [f"Seat {i}: {model}" for i, model in enumerate(QUALITY_SEATS, start=1)]


def test_the_fused_answer_has_its_own_region_rendered_as_markdown(conversation_page: Element) -> None:
    fused = region(conversation_page, "Fused answer")

    assert [text(el) for el in elements(fused) if el.name == "strong"] == ["in steps"]


def test_chips_link_to_the_seat_columns_of_their_run(conversation_page: Element, finished_run: Run) -> None:
    chips = [el for el in elements(conversation_page) if attr(el, "class") == "chip"]
    ids = {attr(el, "id") for el in elements(conversation_page)}

    assert {attr(chip, "href") for chip in chips} == {
        f"#run-{finished_run.pk}-seat-0",
        f"#run-{finished_run.pk}-seat-1",
    }
    assert all(attr(chip, "href")[1:] in ids for chip in chips)


def test_a_chip_to_a_seat_that_does_not_exist_is_left_out(as_alice: Client, run: Run) -> None:
    finish(run, analysis={**ANALYSIS, "consensus": [{"point": "Ghost seat.", "seats": [7]}]})

    shown = page(as_alice.get(f"/c/{run.turn.conversation_id}/"))

    assert not [el for el in elements(shown) if attr(el, "href") == f"#run-{run.pk}-seat-7"]


def test_model_text_shows_as_text_and_adds_no_script_or_image_to_the_page(
    conversation_page: Element,
) -> None:
    seat = region(conversation_page, f"Seat 1: {QUALITY_SEATS[0]}")
    scripts = [el for el in elements(conversation_page) if el.name == "script"]

    assert "<script>alert(1)</script>" in text(seat)
    assert not [el for el in elements(conversation_page) if el.name == "img"]
    assert all(attr(script, "src") and not script.children for script in scripts)


def test_model_text_sits_in_containers_where_htmx_is_disabled(conversation_page: Element) -> None:
    answers = [el for el in elements(conversation_page) if "answer" in (attr(el, "class") or "").split()]

    assert len(answers) == len(QUALITY_SEATS) + 1
    assert all("hx-disable" in dict(el.attributes) for el in answers)


def test_the_judges_analysis_text_is_escaped(as_alice: Client, run: Run) -> None:
    hostile = "<img src=x onerror=alert(1)> <a hx-get=/x hx-trigger=load>x</a>"
    finish(run, analysis={**ANALYSIS, "blind_spots": [hostile]})

    response = as_alice.get(f"/c/{run.turn.conversation_id}/")

    assert escape(hostile) in response.content.decode()
    # The page's own controls use hx-get (the sidebar's search); the judge's text must add none.
    assert not [el for el in elements(page(response)) if el.name == "img" or attr(el, "hx-get") == "/x"]


def test_a_failed_seat_shows_its_error(conversation_page: Element) -> None:
    seat = region(conversation_page, f"Seat 3: {QUALITY_SEATS[2]}")

    alerts = [text(el) for el in elements(seat) if attr(el, "role") == "alert"]
    assert alerts == ["The model timed out after 60 s."]


def test_a_run_whose_analysis_failed_says_the_analysis_is_missing_and_why(as_alice: Client, run: Run) -> None:
    finish(
        run, status=Run.Status.DEGRADED, analysis=None, analysis_error="The judge's reply was not valid JSON."
    )

    analysis = region(page(as_alice.get(f"/c/{run.turn.conversation_id}/")), "Analysis")

    assert re.search(r"The analysis is missing: The judge's reply was not valid JSON\.", text(analysis))
    assert not [h for h in elements(analysis) if h.name == "h3"]


def test_demo_mode_says_plainly_that_the_models_are_simulated(
    as_alice: Client, presets: dict[str, Panel], settings: Any
) -> None:
    settings.FUSIONROOM_DEMO = True
    assert "simulated models" in text(page(as_alice.get("/")))


def test_with_a_real_provider_there_is_no_demo_notice(
    as_alice: Client, presets: dict[str, Panel], settings: Any
) -> None:
    settings.FUSIONROOM_DEMO = False
    assert "simulated" not in text(page(as_alice.get("/")))
