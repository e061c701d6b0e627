"""The evaluation pages: uploading suites, starting (and refusing) an evaluation, its progress,
its report's exports and a task's verdicts, each for its owner only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from chat.endpoints.catalog import Catalog, CatalogEntry
from chat.evaluation import runner
from chat.evaluation import views as eval_views
from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.suites import read_suite
from chat.providers.types import ModelInfo
from tests.html import attr, tags, text

pytestmark = pytest.mark.django_db

MODELS = ["sim/alpha", "sim/beta"]
CATALOG = Catalog(
    [
        CatalogEntry(
            ref, ModelInfo(id=ref, name=ref, endpoint="sim", prompt_price=1e-6, completion_price=2e-6)
        )
        for ref in MODELS
    ]
)

GOOD = "\n".join(
    json.dumps(row)
    for row in [
        {
            "id": "t1",
            "domain": "maths",
            "prompt": "What is 2 + 2?",
            "criteria": [
                {"id": "right", "weight": 10, "requirement": "Says 4."},
                {"id": "wrong", "weight": -5, "requirement": "Says 5."},
            ],
        },
        {
            "id": "t2",
            "domain": "maths",
            "prompt": "What is 3 + 3?",
            "criteria": [{"id": "right", "weight": 10, "requirement": "Says 6."}],
        },
    ]
)


@pytest.fixture(autouse=True)
def catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    async def load(*args: Any, **kwargs: Any) -> Catalog:
        return CATALOG

    monkeypatch.setattr(eval_views, "load_catalog", load)
    monkeypatch.setattr("chat.evaluation.runner.load_catalog", load, raising=False)
    return CATALOG


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The evaluations the views launched; none really runs here."""
    started: list[int] = []
    monkeypatch.setattr(runner, "launch", started.append)
    return started


@pytest.fixture
def suite(alice: User) -> EvalSuite:
    saved = EvalSuite.of(alice, "Sums", read_suite(GOOD), "sums.jsonl")
    saved.save()
    return saved


@pytest.fixture
def finished(alice: User, suite: EvalSuite) -> Evaluation:
    """A done evaluation of one system: t1 answered with markup in it, graded twice."""
    evaluation = Evaluation.objects.create(
        owner=alice, suite=suite, systems=["model:sim/alpha"], grader="sim/beta", passes=2, status="done"
    )
    for task_id in ("t1", "t2"):
        answer = EvalAnswer.objects.create(
            evaluation=evaluation,
            system="model:sim/alpha",
            task_id=task_id,
            status=EvalAnswer.Status.DONE,
            text="It is **4**. <script>alert('x')</script><img src=x onerror=alert(1)>",
            cost=0.001,
            latency_s=1.5,
        )
        for pass_index in (0, 1):
            EvalGrade.objects.create(
                answer=answer, criterion="right", pass_index=pass_index, verdict="MET", reason="It says it."
            )
        if task_id == "t1":
            for pass_index in (0, 1):
                EvalGrade.objects.create(
                    answer=answer, criterion="wrong", pass_index=pass_index, verdict="UNMET"
                )
    return evaluation


def upload(client: Client, text: str, name: str = "suite.jsonl") -> Any:
    file = SimpleUploadedFile(name, text.encode(), content_type="application/octet-stream")
    return client.post(reverse("evaluation_suite_upload"), {"name": "Mine", "file": file})


def test_an_uploaded_suite_is_saved_and_leads_to_a_new_evaluation(alice: User, as_alice: Client) -> None:
    response = upload(as_alice, GOOD)

    saved = EvalSuite.objects.get(owner=alice)
    assert (saved.name, saved.task_count, saved.criteria_count) == ("Mine", 2, 3)
    assert response["Location"] == reverse("evaluation_new_for", kwargs={"suite": saved.pk})


def test_a_yaml_suite_is_read_as_yaml(alice: User, as_alice: Client) -> None:
    text = "- id: y1\n  prompt: Hello?\n  criteria:\n    - {id: c, weight: 3, requirement: Greets.}\n"
    upload(as_alice, text, "suite.yaml")

    assert EvalSuite.objects.get(owner=alice).suite.tasks[0].id == "y1"


def test_a_bad_suite_is_refused_with_its_problems_by_row_and_field_and_nothing_is_saved(
    as_alice: Client,
) -> None:
    rows = GOOD.splitlines()
    bad = json.loads(rows[1])
    bad["criteria"][0]["weight"] = "heavy"
    response = upload(as_alice, "\n".join([rows[0], json.dumps(bad), "{not json"]))

    assert response.status_code == 422
    problems = [text(tag) for tag in tags(response.content.decode()) if tag.name == "li"]
    assert any("row 2" in problem and "weight" in problem for problem in problems), problems
    assert any("row 3" in problem for problem in problems), problems
    assert not EvalSuite.objects.exists()


def test_a_user_keeps_a_bounded_number_of_suites(
    alice: User, as_alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eval_views, "MAX_SUITES", 2)
    assert upload(as_alice, GOOD).status_code == 302
    as_alice.post(reverse("evaluation_suite_starter"))

    refused = upload(as_alice, GOOD)

    assert refused.status_code == 422
    assert "delete one first" in refused.content.decode()
    assert EvalSuite.objects.filter(owner=alice).count() == 2


def test_the_starter_suite_is_copied_for_the_user(alice: User, bob: User, as_alice: Client) -> None:
    as_alice.post(reverse("evaluation_suite_starter"))

    saved = EvalSuite.objects.get()
    assert saved.owner == alice
    assert saved.task_count == 12
    assert len(saved.suite.domains) == 4


def test_suites_and_evaluations_are_private(as_bob: Client, finished: Evaluation) -> None:
    page = as_bob.get(reverse("evaluation_list")).content.decode()
    assert "Sums" not in page

    new = as_bob.get(reverse("evaluation_new")).content.decode()
    assert "Sums" not in new
    for name, kwargs in [
        ("evaluation", {"pk": finished.pk}),
        ("evaluation_task", {"pk": finished.pk, "task_id": "t1"}),
        ("evaluation_csv", {"pk": finished.pk}),
        ("evaluation_plot_domains", {"pk": finished.pk}),
        ("evaluation_new_for", {"suite": finished.suite.pk}),
    ]:
        assert as_bob.get(reverse(name, kwargs=kwargs)).status_code == 404, name


def test_bob_cannot_start_an_evaluation_of_alices_suite(
    as_bob: Client, suite: EvalSuite, launched: list[int]
) -> None:
    data = {"suite": suite.pk, "system": "", "model": "sim/alpha", "grader": "sim/beta", "passes": 1}
    data |= {"threshold": 70, "concurrency": 1}
    response = as_bob.post(reverse("evaluation_new"), data)

    assert response.status_code == 422
    assert not Evaluation.objects.exists()
    assert launched == []


def start_data(suite: EvalSuite, **changes: Any) -> dict[str, Any]:
    data = {
        "suite": suite.pk,
        "model": "sim/alpha",
        "model_web": "",
        "self_model": "sim/alpha",
        "self_copies": "2",
        "grader": "sim/beta",
        "passes": 2,
        "threshold": 60,
        "max_cost": "0.5",
        "concurrency": 2,
        "blocked_domains": "rubric.example, answers.example",
    }
    return data | changes


def test_start_creates_the_evaluation_with_the_forms_terms_and_launches_it(
    alice: User, as_alice: Client, suite: EvalSuite, launched: list[int]
) -> None:
    response = as_alice.post(reverse("evaluation_new"), start_data(suite))

    evaluation = Evaluation.objects.get()
    assert response["Location"] == reverse("evaluation", kwargs={"pk": evaluation.pk})
    assert launched == [evaluation.pk]
    assert evaluation.owner == alice
    assert evaluation.systems == ["model:sim/alpha", "self:sim/alphax2"]
    assert (evaluation.grader, evaluation.passes, evaluation.threshold) == ("sim/beta", 2, 60)
    assert (evaluation.max_cost, evaluation.concurrency) == (0.5, 2)
    assert evaluation.blocked_domains == ["rubric.example", "answers.example"]


def test_a_self_grading_judge_is_refused_with_the_message_beside_the_form(
    as_alice: Client, suite: EvalSuite, launched: list[int]
) -> None:
    response = as_alice.post(reverse("evaluation_new"), start_data(suite, grader="sim/alpha"))

    assert response.status_code == 422
    refused = next(tag for tag in tags(response.content.decode()) if attr(tag, "id") == "refused")
    assert "grades its own team" in text(refused)
    assert not Evaluation.objects.exists()
    assert launched == []


def test_the_estimate_is_shown_before_anything_starts(
    as_alice: Client, suite: EvalSuite, launched: list[int]
) -> None:
    response = as_alice.post(
        reverse("evaluation_new"), start_data(suite, estimate="1"), HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert 'id="estimate"' in page
    assert "Estimate: $" in page
    assert "4 answers and 12 grades" in page  # 2 systems × 2 tasks; × 3 criteria × 2 passes
    # Every model here has a catalog price: none is said to have none.
    assert "No price known" not in page
    assert not Evaluation.objects.exists()
    assert launched == []


def test_the_estimate_names_a_panel_that_does_not_exist(as_alice: Client, suite: EvalSuite) -> None:
    data = start_data(suite, estimate="1", more="panel:Nope")
    page = as_alice.post(reverse("evaluation_new"), data, HTTP_HX_REQUEST="true").content.decode()

    assert "no panel called &#x27;Nope&#x27;" in page
    assert not Evaluation.objects.exists()


def test_the_progress_fragment_polls_while_running_and_reloads_the_page_once_finished(
    as_alice: Client, finished: Evaluation
) -> None:
    url = reverse("evaluation", kwargs={"pk": finished.pk}) + "?part=progress"
    Evaluation.objects.filter(pk=finished.pk).update(status="running")

    running = as_alice.get(url, HTTP_HX_REQUEST="true")
    section = next(tag for tag in tags(running.content.decode()) if attr(tag, "id") == "eval-progress")
    assert attr(section, "hx-trigger") == "every 1s"
    assert "2 of 2 answers" in running.content.decode()

    Evaluation.objects.filter(pk=finished.pk).update(status="done")
    done = as_alice.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 204
    assert done["HX-Refresh"] == "true"


def test_the_report_shows_its_plots_exports_and_task_links(as_alice: Client, finished: Evaluation) -> None:
    page = as_alice.get(reverse("evaluation", kwargs={"pk": finished.pk})).content.decode()

    sources = {attr(tag, "src") for tag in tags(page) if tag.name == "img"}
    assert sources == {
        reverse("evaluation_plot_score_cost", kwargs={"pk": finished.pk}),
        reverse("evaluation_plot_domains", kwargs={"pk": finished.pk}),
    }
    captions = [text(tag) for tag in tags(page) if tag.name == "caption"]
    assert captions == ["Mean score per domain", "Mean score per axis"]
    links = {attr(tag, "href") for tag in tags(page) if tag.name == "a"}
    assert reverse("evaluation_csv", kwargs={"pk": finished.pk}) in links
    assert reverse("evaluation_task", kwargs={"pk": finished.pk, "task_id": "t1"}) in links


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("evaluation_csv", "text/csv"),
        ("evaluation_json", "application/json"),
        ("evaluation_html", "text/html"),
        ("evaluation_plot_score_cost", "image/svg+xml"),
        ("evaluation_plot_domains", "image/svg+xml"),
    ],
)
def test_exports_and_plots_have_their_content_types(
    as_alice: Client, finished: Evaluation, name: str, content_type: str
) -> None:
    response = as_alice.get(reverse(name, kwargs={"pk": finished.pk}))

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type


def test_the_csv_export_has_a_row_per_system_and_task(as_alice: Client, finished: Evaluation) -> None:
    body = as_alice.get(reverse("evaluation_csv", kwargs={"pk": finished.pk})).content.decode()

    header, *rows = body.strip().splitlines()
    assert header.split(",")[:6] == ["system", "task_id", "domain", "score", "cost_usd", "latency_s"]
    assert len(rows) == 2
    assert (
        "attachment"
        in as_alice.get(reverse("evaluation_csv", kwargs={"pk": finished.pk}))["Content-Disposition"]
    )


def test_a_tasks_page_shows_the_answer_rendered_safely_with_its_verdicts(
    as_alice: Client, finished: Evaluation
) -> None:
    page = as_alice.get(
        reverse("evaluation_task", kwargs={"pk": finished.pk, "task_id": "t1"})
    ).content.decode()

    assert "<strong>4</strong>" in page
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # shown as the text it is
    verdicts = [text(tag) for tag in tags(page) if "verdict" in (attr(tag, "class") or "").split()]
    assert verdicts == ["MET", "MET", "UNMET", "UNMET"]


def test_an_unknown_task_is_404(as_alice: Client, finished: Evaluation) -> None:
    url = reverse("evaluation_task", kwargs={"pk": finished.pk, "task_id": "nope"})
    assert as_alice.get(url).status_code == 404


def test_deleting_a_suite_deletes_its_evaluations(as_alice: Client, finished: Evaluation) -> None:
    confirm = as_alice.get(reverse("evaluation_suite_delete", kwargs={"pk": finished.suite.pk}))
    assert "1 evaluation" in confirm.content.decode()
    assert EvalSuite.objects.exists()

    as_alice.post(reverse("evaluation_suite_delete", kwargs={"pk": finished.suite.pk}))

    assert not EvalSuite.objects.exists()
    assert not Evaluation.objects.exists()
    assert not EvalAnswer.objects.exists()


def test_the_top_bar_links_to_evaluations(as_alice: Client) -> None:
    page = as_alice.get(reverse("home")).content.decode()
    assert reverse("evaluation_list") in {attr(tag, "href") for tag in tags(page) if tag.name == "a"}


def test_stop_stops_a_running_evaluation_and_keeps_its_work(as_alice: Client, finished: Evaluation) -> None:
    Evaluation.objects.filter(pk=finished.pk).update(status="running")

    response = as_alice.post(reverse("evaluation_stop", kwargs={"pk": finished.pk}))

    assert response["Location"] == reverse("evaluation", kwargs={"pk": finished.pk})
    assert Evaluation.objects.get(pk=finished.pk).status == "stopped"
    assert EvalAnswer.objects.filter(evaluation=finished).count() == 2


def test_resume_launches_a_stopped_evaluation_only(
    as_alice: Client, finished: Evaluation, launched: list[int]
) -> None:
    url = reverse("evaluation_resume", kwargs={"pk": finished.pk})
    as_alice.post(url)  # done: nothing to resume
    assert launched == []

    Evaluation.objects.filter(pk=finished.pk).update(status="stopped")
    page = as_alice.get(reverse("evaluation", kwargs={"pk": finished.pk})).content.decode()
    assert any(tag.name == "button" and text(tag) == "Resume" for tag in tags(page))
    as_alice.post(url)

    assert launched == [finished.pk]
