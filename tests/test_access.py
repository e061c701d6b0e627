"""Every URL of the app, tried as its owner's neighbour and as an anonymous visitor.

alice owns a conversation, a run, a panel, an endpoint, a key and a share link; bob is another
signed-in user; the visitor is not signed in. For everything of alice's, bob and the visitor get
404 (or, for the visitor, the sign-in page) and the database does not change. The table must
name every URL pattern: a new URL without a row here fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, reverse

from accounts import urls as accounts_urls
from chat import sharing
from chat import urls as chat_urls
from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.suites import read_suite
from chat.evaluation.views import STARTER
from chat.models import (
    ApiToken,
    Conversation,
    Panel,
    ProviderEndpoint,
    Run,
    SeatAnswer,
    ShareLink,
    SpendBudget,
    Turn,
    UserProviderKey,
)


@dataclass
class World:
    alice: User
    bob: User
    conversation: Conversation
    turn: Turn
    run: Run
    panel: Panel
    endpoint: ProviderEndpoint
    link: ShareLink
    token: ApiToken
    suite: EvalSuite
    evaluation: Evaluation


@pytest.fixture
def world(make_run: Callable[..., Run], alice: User, bob: User, run_services: Callable[..., None]) -> World:
    # Nothing in this file may start a real run.
    run_services(dispatch=lambda *args: None)
    run = make_run(alice)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED)
    run.refresh_from_db()
    endpoint = ProviderEndpoint(owner=alice, name="alices-llama", base_url="https://llama.example/v1")
    endpoint.set_api_key("sk-alice-endpoint")
    endpoint.save()
    key = UserProviderKey(user=alice, endpoint="openrouter")
    key.set_api_key("sk-alice-openrouter")
    key.save()
    SpendBudget.objects.create(user=alice, period="month", limit_usd=5)
    conversation = run.turn.conversation
    return World(
        alice=alice,
        bob=bob,
        conversation=conversation,
        turn=run.turn,
        run=run,
        panel=run.panel,
        endpoint=endpoint,
        link=sharing.create_link(conversation),
        token=ApiToken.objects.issue(alice, "alices-laptop")[0],
        **alices_evaluation(alice),
    )


def alices_evaluation(alice: User) -> dict[str, Any]:
    """A suite of alice's and a finished evaluation of it, with one graded answer."""
    suite = EvalSuite.of(alice, "Alice's suite", read_suite(STARTER.read_bytes(), STARTER.name), "s.jsonl")
    suite.save()
    task = suite.suite.tasks[0]
    evaluation = Evaluation.objects.create(
        owner=alice, suite=suite, systems=["model:a/b"], grader="a/b", status=Evaluation.Status.DONE
    )
    answer = EvalAnswer.objects.create(
        evaluation=evaluation, system="model:a/b", task_id=task.id, status=EvalAnswer.Status.DONE, text="Hi"
    )
    EvalGrade.objects.create(answer=answer, criterion=task.criteria[0].id, pass_index=0, verdict="MET")
    return {"suite": suite, "evaluation": evaluation}


def evaluation(world: World) -> dict[str, Any]:
    return {"pk": world.evaluation.pk}


Kwargs = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    methods: tuple[str, ...]
    kwargs: Kwargs = lambda world: {}  # noqa: E731
    # "owned": an object of alice's; "account": the signed-in user's own page or action;
    # "public": anyone may use it.
    kind: str = "owned"


def conversation(world: World) -> dict[str, Any]:
    return {"pk": world.conversation.pk}


# Every named URL of chat/urls.py, with how to reach alice's object through it.
TABLE: dict[str, Row] = {
    "home": Row(("GET",), kind="account"),
    "send_first_message": Row(("POST",), kind="account"),
    "conversation": Row(("GET",), conversation),
    "send_message": Row(("POST",), conversation),
    "run": Row(("GET",), lambda w: {"pk": w.run.pk}),
    "stop_run": Row(("POST",), lambda w: {"pk": w.run.pk}),
    "retry_run": Row(("POST",), lambda w: {"pk": w.run.pk}),
    "rejudge_run": Row(("GET", "POST"), lambda w: {"pk": w.run.pk}),
    "rerun_turn": Row(("POST",), lambda w: {"pk": w.turn.pk}),
    "edit_turn": Row(("POST",), lambda w: {"pk": w.turn.pk}),
    "composer_estimate_first": Row(("POST",), kind="account"),
    "composer_estimate": Row(("POST",), conversation),
    "panel_list": Row(("GET",), kind="account"),
    "panel_builder": Row(("GET",), kind="account"),
    "panel_edit": Row(("GET",), lambda w: {"pk": w.panel.pk}),
    "panel_rename": Row(("POST",), lambda w: {"pk": w.panel.pk}),
    "panel_delete": Row(("POST",), lambda w: {"pk": w.panel.pk}),
    "builder_update": Row(("POST",), kind="account"),
    "panel_save": Row(("POST",), kind="account"),
    "catalog": Row(("GET",), kind="account"),
    "signup": Row(("GET",), kind="public"),
    "login": Row(("GET",), kind="public"),
    "logout": Row(("POST",), kind="account"),
    "password_change": Row(("GET",), kind="account"),
    "password_change_done": Row(("GET",), kind="account"),
    "settings": Row(("GET",), kind="account"),
    "settings_budget": Row(("POST",), kind="account"),
    "settings_key": Row(("POST",), lambda w: {"endpoint": "openrouter"}, kind="account"),
    "settings_key_remove": Row(("POST",), lambda w: {"endpoint": "openrouter"}, kind="account"),
    "settings_endpoint_add": Row(("POST",), kind="account"),
    "settings_endpoint": Row(("GET", "POST"), lambda w: {"pk": w.endpoint.pk}),
    "settings_endpoint_delete": Row(("POST",), lambda w: {"pk": w.endpoint.pk}),
    "settings_endpoint_remove_key": Row(("POST",), lambda w: {"pk": w.endpoint.pk}),
    "conversation_list": Row(("GET",), kind="account"),
    "conversation_rename": Row(("POST",), conversation),
    "conversation_delete": Row(("GET", "POST"), conversation),
    "conversation_spend": Row(("GET",), conversation),
    "share_create": Row(("POST",), conversation),
    "share_revoke": Row(("POST",), lambda w: {"pk": w.conversation.pk, "link_pk": w.link.pk}),
    "export_markdown": Row(("GET",), conversation),
    "export_json": Row(("GET",), conversation),
    "import_conversation": Row(("GET", "POST"), kind="account"),
    "shared": Row(("GET",), lambda w: {"token": w.link.token}, kind="public"),
    "shared_fork": Row(("POST",), lambda w: {"token": w.link.token}, kind="public"),
    "turn": Row(("GET",), lambda w: {"pk": w.turn.pk}),
    "answer_source": Row(("GET",), lambda w: {"pk": w.run.pk, "column": "0"}),
    "shared_answer_source": Row(
        ("GET",), lambda w: {"token": w.link.token, "pk": w.run.pk, "column": "fused"}, kind="public"
    ),
    "api_token_create": Row(("POST",), kind="account"),
    "api_token_revoke": Row(("POST",), lambda w: {"pk": w.token.pk}),
    "evaluation_list": Row(("GET",), kind="account"),
    "evaluation_suite_upload": Row(("POST",), kind="account"),
    "evaluation_suite_starter": Row(("POST",), kind="account"),
    "evaluation_suite_delete": Row(("GET", "POST"), lambda w: {"pk": w.suite.pk}),
    "evaluation_new": Row(("GET", "POST"), kind="account"),
    "evaluation_new_for": Row(("GET",), lambda w: {"suite": w.suite.pk}),
    "evaluation": Row(("GET",), evaluation),
    "evaluation_stop": Row(("POST",), evaluation),
    "evaluation_resume": Row(("POST",), evaluation),
    "evaluation_task": Row(("GET",), lambda w: {"pk": w.evaluation.pk, "task_id": w.suite.suite.tasks[0].id}),
    "evaluation_csv": Row(("GET",), evaluation),
    "evaluation_json": Row(("GET",), evaluation),
    "evaluation_html": Row(("GET",), evaluation),
    "evaluation_plot_score_cost": Row(("GET",), evaluation),
    "evaluation_plot_domains": Row(("GET",), evaluation),
}

# What a neighbour might try to write with, for the POST rows.
PAYLOAD = {
    "message": "hijack",
    "panel": "",
    "name": "hijacked",
    "title": "hijacked",
    "api_key": "sk-bob",
    "base_url": "https://evil.example/v1",
    "show_owner": "on",
}


def every_chat_url_name() -> set[str]:
    patterns = [*chat_urls.urlpatterns, *accounts_urls.urlpatterns]
    return {pattern.name for pattern in patterns if isinstance(pattern, URLPattern) and pattern.name}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row that a request could change, in full."""
    models = (
        Conversation,
        Turn,
        Run,
        SeatAnswer,
        Panel,
        ShareLink,
        ProviderEndpoint,
        UserProviderKey,
        SpendBudget,
        ApiToken,
        EvalSuite,
        Evaluation,
        EvalAnswer,
        EvalGrade,
    )
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def test_the_table_names_every_url_of_the_app() -> None:
    assert every_chat_url_name() == set(TABLE)


OWNED = [(name, method) for name, row in TABLE.items() if row.kind == "owned" for method in row.methods]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), OWNED)
def test_bob_gets_404_for_everything_of_alices_and_changes_nothing(
    world: World, name: str, method: str
) -> None:
    panel = Panel.objects.create(owner=world.bob, name="Bob's", seats=["a/b", "c/d"], judge="a/b")
    PAYLOAD["panel"] = str(panel.pk)
    client = Client()
    client.force_login(world.bob)
    before = snapshot()
    url = reverse(name, kwargs=TABLE[name].kwargs(world))
    response = client.get(url) if method == "GET" else client.post(url, PAYLOAD)
    assert response.status_code == 404, f"{method} {url}"
    after = snapshot()
    after["Panel"] = [row for row in after["Panel"] if row["id"] != panel.pk]
    before["Panel"] = [row for row in before["Panel"] if row["id"] != panel.pk]
    assert after == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "method"),
    [(name, method) for name, row in TABLE.items() if row.kind != "public" for method in row.methods],
)
def test_an_anonymous_visitor_is_refused_everywhere_but_the_public_pages(
    world: World, name: str, method: str
) -> None:
    client = Client()
    before = snapshot()
    url = reverse(name, kwargs=TABLE[name].kwargs(world))
    response = client.get(url) if method == "GET" else client.post(url, PAYLOAD)
    signed_out = response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert signed_out or response.status_code == 404, f"{method} {url} gave {response.status_code}"
    assert snapshot() == before


@pytest.mark.django_db
def test_anyone_with_the_link_reads_the_shared_conversation_but_cannot_write_to_it(world: World) -> None:
    url = reverse("shared", kwargs={"token": world.link.token})
    assert Client().get(url).status_code == 200
    before = snapshot()
    assert Client().post(url, PAYLOAD).status_code == 405
    assert snapshot() == before


@pytest.mark.django_db
def test_state_changing_urls_refuse_get(world: World) -> None:
    client = Client()
    client.force_login(world.alice)
    for name, row in TABLE.items():
        if row.methods == ("POST",) and name not in ("logout",):
            before = snapshot()
            response = client.get(reverse(name, kwargs=row.kwargs(world)))
            assert response.status_code in (405, 302), f"GET {name} gave {response.status_code}"
            assert snapshot() == before, name
