"""The evaluation pages: suites, a new evaluation, its live progress, its report and exports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from chat.endpoints import resolve as endpoints
from chat.endpoints.catalog import Catalog, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.evaluation import plots, report, runner
from chat.evaluation.forms import WEB_CHOICES, EvaluationForm, SuiteUploadForm, systems_from
from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.suites import SuiteError, read_suite
from chat.evaluation.systems import parse_system
from chat.models import Panel
from chat.rendering import render_answer

STARTER = Path(__file__).resolve().parent / "examples" / "starter.jsonl"
# Suites a user may keep: each is up to suites.MAX_SUITE_BYTES of JSON in the database.
MAX_SUITES = 50


class Request(HttpRequest):
    """A request behind login_required, with django-htmx's details (as chat.views.requests has
    it: the evaluation app sits beside chat.views, and may not import it)."""

    user: User
    auser: Callable[[], Awaitable[User]]
    htmx: HtmxDetails


def _suites(user: User) -> Any:
    return EvalSuite.objects.filter(owner=user)


def _evaluation(request: Request, pk: int) -> Evaluation:
    return get_object_or_404(Evaluation.objects.filter(owner=request.user).select_related("suite"), pk=pk)


@login_required
@require_GET
def evaluation_list(request: Request) -> HttpResponse:
    suites = _suites(request.user).annotate(runs=Count("evaluations"))
    evaluations = list(Evaluation.objects.filter(owner=request.user).select_related("suite")[:100])
    rows = [{"evaluation": ev, "progress": runner.progress_of(ev)} for ev in evaluations]
    context = {"suites": suites, "rows": rows, "form": SuiteUploadForm()}
    return render(request, "evaluation/index.html", context)


@login_required
@require_POST
def suite_upload(request: Request) -> HttpResponse:
    form = SuiteUploadForm(request.POST, request.FILES)
    problems: list[str] = []
    if _suites(request.user).count() >= MAX_SUITES:
        problems = [f"You have {MAX_SUITES} suites, the most one may keep: delete one first."]
    elif form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            suite = read_suite(upload.read(), upload.name or "suite.jsonl")
        except SuiteError as error:
            problems = error.problems
        else:
            saved = EvalSuite.of(request.user, form.cleaned_data["name"], suite, upload.name or "")
            saved.save()
            messages.success(request, f"Added the suite “{saved.name}”: {saved.task_count} tasks.")
            return redirect("evaluation_new_for", suite=saved.pk)
    suites = _suites(request.user).annotate(runs=Count("evaluations"))
    evaluations = list(Evaluation.objects.filter(owner=request.user).select_related("suite")[:100])
    rows = [{"evaluation": ev, "progress": runner.progress_of(ev)} for ev in evaluations]
    context = {"suites": suites, "rows": rows, "form": form, "problems": problems}
    return render(request, "evaluation/index.html", context, status=422)


@login_required
@require_POST
def suite_starter(request: Request) -> HttpResponse:
    if _suites(request.user).count() >= MAX_SUITES:
        messages.error(request, f"You have {MAX_SUITES} suites, the most one may keep: delete one first.")
        return redirect("evaluation_list")
    suite = read_suite(STARTER.read_bytes(), STARTER.name)
    saved = EvalSuite.of(request.user, "Starter suite", suite, STARTER.name)
    saved.save()
    messages.success(
        request, f"Added the starter suite: {saved.task_count} tasks over {len(suite.domains)} domains."
    )
    return redirect("evaluation_new_for", suite=saved.pk)


@login_required
@require_http_methods(["GET", "POST"])
async def suite_delete(request: Request, pk: int) -> HttpResponse:
    """GET: the confirmation; POST: the suite goes, with its evaluations (stopped first)."""
    suite = await sync_to_async(get_object_or_404)(_suites(await request.auser()), pk=pk)
    evaluations = [evaluation async for evaluation in suite.evaluations.all()]
    if request.method == "GET":
        context = {"suite": suite, "evaluations": evaluations}
        return await sync_to_async(render)(request, "evaluation/suite_delete.html", context)
    for evaluation in evaluations:
        if evaluation.status in (Evaluation.Status.PENDING, Evaluation.Status.RUNNING):
            await runner.stop_evaluation(evaluation.pk)
    name = suite.name
    await suite.adelete()
    await sync_to_async(messages.success)(
        request, f"Deleted the suite “{name}” and its {len(evaluations)} evaluations."
    )
    return redirect("evaluation_list")


def _catalog(user: User) -> Catalog:
    try:
        available = endpoints.endpoints_for(user)
    except KeyUnavailable as error:
        return Catalog([], down={error.endpoint or "your endpoint": error.user_message})
    return async_to_sync(load_catalog)(available)


def estimate(
    user: User, suite: EvalSuite, systems: list[str], grader: str, passes: int, catalog: Catalog
) -> dict[str, Any]:
    """What the evaluation would ask and cost at typical lengths, as the runner will save it."""
    panels = {label: runner.panel_for(user, parse_system(label)) for label in systems}
    cost = runner.estimate_cost(suite, panels, grader, passes, catalog)
    asked = {model for panel in panels.values() for model in runner.panel_models(panel)} | {grader}
    unpriced = sorted(model for model in asked if not _priced(catalog, model))
    return {
        "cost": cost,
        "unpriced": unpriced,
        "answers": len(systems) * suite.task_count,
        "grades": len(systems) * suite.criteria_count * passes,
    }


def _priced(catalog: Catalog, model: str) -> bool:
    entry = catalog.get(model)
    return (
        entry is not None and entry.info.prompt_price is not None and entry.info.completion_price is not None
    )


def _new_context(request: Request, form: EvaluationForm, catalog: Catalog) -> dict[str, Any]:
    panels = list(Panel.objects.for_user(request.user))
    chosen = set(request.POST.getlist("system")) if request.method == "POST" else set()
    choices = [
        {
            "value": f"{'preset' if panel.is_preset else 'panel'}:{panel.name}",
            "panel": panel,
            "checked": f"{'preset' if panel.is_preset else 'panel'}:{panel.name}" in chosen,
        }
        for panel in panels
    ]
    return {
        "form": form,
        "choices": choices,
        "models": [entry.ref for entry in catalog.search("", sort="name")],
        "catalog": catalog,
        "web_choices": WEB_CHOICES,
        "has_suites": bool(form.fields["suite"].choices),  # type: ignore[attr-defined]
        "data": request.POST if request.method == "POST" else {},
    }


@login_required
@require_http_methods(["GET", "POST"])
async def evaluation_new(request: Request, suite: int | None = None) -> HttpResponse:
    """GET: the form; POST with `estimate`: the form again with the estimate; POST: start, and
    the evaluation runs as a task of this process (runner.launch wants the event loop)."""
    response = await sync_to_async(_new_evaluation)(request, suite)
    if isinstance(response, Evaluation):
        runner.launch(response.pk)
        return redirect("evaluation", pk=response.pk)
    return response


def _new_evaluation(request: Request, suite: int | None) -> HttpResponse | Evaluation:
    """The form's response, or the evaluation created (not launched yet)."""
    suites = [(s.pk, f"{s.name} ({s.task_count} tasks)") for s in _suites(request.user)]
    catalog = _catalog(request.user)
    if request.method == "GET":
        if suite is not None and not _suites(request.user).filter(pk=suite).exists():
            raise Http404("No such suite.")
        initial: dict[str, Any] = {"suite": suite} if suite else {}
        if catalog.entries:
            initial["grader"] = catalog.entries[0].ref
        form = EvaluationForm(initial=initial, suites=suites)
        return render(request, "evaluation/new.html", _new_context(request, form, catalog))
    form = EvaluationForm(request.POST, suites=suites)
    context = _new_context(request, form, catalog)
    systems, problems = systems_from(request.POST)
    wants_estimate = "estimate" in request.POST
    if not form.is_valid() or problems:
        context["problems"] = problems
        if request.htmx and wants_estimate:
            errors = [f"{name}: {' '.join(map(str, e))}" for name, e in form.errors.items()]
            context["estimate_problems"] = problems + errors
            return render(request, "evaluation/new.html#estimate", context)
        return render(request, "evaluation/new.html", context, status=422)
    data = form.cleaned_data
    chosen = get_object_or_404(_suites(request.user), pk=data["suite"])
    if wants_estimate:
        try:
            context["estimate"] = estimate(
                request.user, chosen, systems, data["grader"], data["passes"], catalog
            )
        except runner.EvaluationRefused as refused:
            context["estimate_problems"] = [str(refused)]
        template = "evaluation/new.html#estimate" if request.htmx else "evaluation/new.html"
        return render(request, template, context)
    try:
        return runner.create_evaluation(
            request.user,
            chosen,
            systems,
            data["grader"],
            passes=data["passes"],
            threshold=data["threshold"],
            max_cost=data["max_cost"],
            concurrency=data["concurrency"],
            blocked_domains=data["blocked_domains"],
            allow_self_grading=data["allow_self_grading"],
            name=data["name"],
            catalog=catalog,
        )
    except runner.EvaluationRefused as refused:
        context["refused"] = str(refused)
        return render(request, "evaluation/new.html", context, status=422)


def _report_context(evaluation: Evaluation) -> dict[str, Any]:
    """The report once there is an answer to report; its tables as rows the template can walk."""
    if (
        not EvalAnswer.objects.filter(evaluation=evaluation)
        .exclude(status=EvalAnswer.Status.PENDING)
        .exists()
    ):
        return {"report": None}
    built = report.build_report(evaluation)
    tasks: dict[str, dict[str, Any]] = {}
    for row in built.tasks:
        entry = tasks.setdefault(row.task_id, {"task_id": row.task_id, "domain": row.domain, "scores": []})
        entry["scores"].append(row)
    domain_rows = [
        (system.system, [system.domains.get(domain) for domain in built.domains]) for system in built.systems
    ]
    axes = sorted({axis for system in built.systems for axis in system.axes})
    axis_rows = [(system.system, [system.axes.get(axis) for axis in axes]) for system in built.systems]
    return {
        "report": built,
        "task_rows": list(tasks.values()),
        "domain_rows": domain_rows,
        "axes": axes,
        "axis_rows": axis_rows,
    }


@login_required
@require_GET
def evaluation_detail(request: Request, pk: int) -> HttpResponse:
    evaluation = _evaluation(request, pk)
    live = evaluation.status in (Evaluation.Status.PENDING, Evaluation.Status.RUNNING)
    context: dict[str, Any] = {
        "evaluation": evaluation,
        "progress": runner.progress_of(evaluation),
        "live": live,
    }
    if request.htmx and request.GET.get("part") == "progress":
        if not live:
            # The run ended since the page was drawn: the whole page again, now with its report.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "evaluation/detail.html#progress", context)
    context.update(_report_context(evaluation))
    return render(request, "evaluation/detail.html", context)


@login_required
@require_POST
async def evaluation_stop(request: Request, pk: int) -> HttpResponse:
    evaluation = await sync_to_async(_evaluation)(request, pk)
    if evaluation.status in (Evaluation.Status.PENDING, Evaluation.Status.RUNNING):
        await runner.stop_evaluation(evaluation.pk)
        await sync_to_async(messages.info)(
            request, "Stopped: the answers and grades made are kept; Resume goes on from there."
        )
    return redirect("evaluation", pk=evaluation.pk)


@login_required
@require_POST
async def evaluation_resume(request: Request, pk: int) -> HttpResponse:
    evaluation = await sync_to_async(_evaluation)(request, pk)
    if evaluation.resumable:
        try:
            runner.launch(evaluation.pk)
        except runner.EvaluationRefused as refused:
            await sync_to_async(messages.error)(request, str(refused))
    return redirect("evaluation", pk=evaluation.pk)


@login_required
@require_GET
def evaluation_task(request: Request, pk: int, task_id: str) -> HttpResponse:
    evaluation = _evaluation(request, pk)
    suite = evaluation.suite.suite
    task = next((task for task in suite.tasks if task.id == task_id), None)
    if task is None:
        raise Http404("No such task in this suite.")
    answers = list(
        EvalAnswer.objects.filter(evaluation=evaluation, task_id=task_id).select_related(
            "run__turn__conversation"
        )
    )
    grades: dict[int, dict[str, list[EvalGrade]]] = {}
    for grade in EvalGrade.objects.filter(answer__in=answers).order_by("pass_index"):
        grades.setdefault(grade.answer_id, {}).setdefault(grade.criterion, []).append(grade)
    columns = []
    for answer in answers:
        verdicts = [
            {"criterion": criterion, "grades": grades.get(answer.pk, {}).get(criterion.id, [])}
            for criterion in task.criteria
        ]
        # As the chat keeps a finished answer: chat.rendering escapes raw HTML and sanitises.
        html = mark_safe(render_answer(answer.text)) if answer.text else ""  # noqa: S308
        # The run itself (its seats, analysis and fused answer) is one click away: its conversation
        # is not listed in the sidebar.
        run_url = answer.run.turn.conversation.get_absolute_url() if answer.run is not None else ""
        columns.append({"answer": answer, "html": html, "verdicts": verdicts, "run_url": run_url})
    context = {"evaluation": evaluation, "task": task, "columns": columns}
    return render(request, "evaluation/task.html", context)


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def evaluation_csv(request: Request, pk: int) -> HttpResponse:
    built = report.build_report(_evaluation(request, pk))
    return _download(report.results_csv(built), "text/csv; charset=utf-8", f"evaluation-{pk}-results.csv")


@login_required
@require_GET
def evaluation_json(request: Request, pk: int) -> HttpResponse:
    built = report.build_report(_evaluation(request, pk))
    return _download(report.report_json(built), "application/json", f"evaluation-{pk}-report.json")


@login_required
@require_GET
def evaluation_html(request: Request, pk: int) -> HttpResponse:
    built = report.build_report(_evaluation(request, pk))
    return _download(report.report_html(built), "text/html; charset=utf-8", f"evaluation-{pk}-report.html")


def _svg(svg: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def plot_score_cost(request: Request, pk: int) -> HttpResponse:
    return _svg(plots.score_cost_svg(report.build_report(_evaluation(request, pk))))


@login_required
@require_GET
def plot_domains(request: Request, pk: int) -> HttpResponse:
    return _svg(plots.domains_svg(report.build_report(_evaluation(request, pk))))
