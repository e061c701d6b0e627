"""Evaluating in the browser: upload a suite, start an evaluation with the simulator as every
model and as the grader, watch its progress, read the report with its plots, open a task."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import sign_up

SUITE = [
    {
        "id": "sky",
        "domain": "science",
        "prompt": "Why is the sky blue?",
        "criteria": [
            {"id": "rayleigh", "axis": "accuracy", "weight": 10, "requirement": "Names Rayleigh scattering."},
            {"id": "ozone", "axis": "accuracy", "weight": -5, "requirement": "Blames the ozone layer."},
        ],
    },
    {
        "id": "tea",
        "domain": "cooking",
        "prompt": "How long should green tea steep?",
        "criteria": [{"id": "time", "weight": 10, "requirement": "Says two to three minutes."}],
    },
]
SYSTEMS = ("openai/gpt-5.5", "deepseek/deepseek-v4-pro")
GRADER = "google/gemini-3-flash-preview"
# What sticks out past a 390 px screen, for the message of a failing test.
TOO_WIDE = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391)
  .map(e => `${e.tagName}.${e.className}`).slice(0, 8)"""


def write_suite(tmp_path: Path) -> Path:
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in SUITE))
    return path


def start_evaluation(page: Page, app: str, tmp_path: Path) -> None:
    page.get_by_role("link", name="Evaluate").click()
    expect(page.get_by_role("heading", name="Evaluations", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("Mini")
    page.get_by_label("File").set_input_files(write_suite(tmp_path))
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", name="New evaluation")).to_be_visible()
    page.get_by_label("A single model").fill(SYSTEMS[0])
    page.locator("summary", has_text="More systems").click()
    page.locator("#eval-more").fill(f"model:{SYSTEMS[1]}")
    page.get_by_label("Grader model").fill(GRADER)
    page.get_by_label("Passes").fill("1")
    page.get_by_role("button", name="Estimate the cost").click()
    expect(page.locator("#estimate")).to_contain_text("4 answers and 6 grades")
    page.get_by_role("button", name="Start the evaluation").click()


def test_upload_start_watch_and_read_the_report(page: Page, app: str, tmp_path: Path) -> None:
    sign_up(page, app)
    start_evaluation(page, app, tmp_path)

    progress = page.locator("#eval-progress")
    expect(progress).to_contain_text("of 4 answers")
    # Live: the fragment polls until the evaluation ends, then the page reloads with its report.
    expect(progress).to_contain_text("4 of 4 answers", timeout=90_000)
    expect(progress).to_contain_text("Done", timeout=90_000)
    expect(page.get_by_role("heading", name="Report")).to_be_visible()
    results = page.locator("table.eval-results")
    for model in SYSTEMS:
        expect(results).to_contain_text(f"model:{model}")

    for plot in ("#plot-score-cost", "#plot-domains"):
        image = page.locator(plot)
        expect(image).to_be_visible()
        page.wait_for_function("id => document.querySelector(id).complete", arg=plot)
        assert image.evaluate("img => img.naturalWidth") > 0, plot

    page.get_by_role("link", name="sky").click()
    expect(page.get_by_role("heading", name="Task sky")).to_be_visible()
    first = page.get_by_role("region", name=f"model:{SYSTEMS[0]}")
    expect(first.locator(".eval-answer-text")).not_to_be_empty()
    expect(first.locator(".verdict")).to_have_count(2)
    expect(first.locator(".eval-verdicts")).to_contain_text("Names Rayleigh scattering.")


def test_a_bad_suite_is_refused_by_row_in_the_browser(page: Page, app: str, tmp_path: Path) -> None:
    sign_up(page, app)
    page.goto(f"{app}/evaluations/")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SUITE[0]) + "\n" + json.dumps({"id": "x", "prompt": "Hi?", "criteria": []}))
    page.get_by_label("Name").fill("Bad")
    page.get_by_label("File").set_input_files(bad)
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("alert")).to_contain_text("row 2")
    expect(page.get_by_text("No suites yet.")).to_be_visible()


def test_the_evaluation_pages_fit_a_phone(page: Page, app: str, tmp_path: Path) -> None:
    sign_up(page, app)
    start_evaluation(page, app, tmp_path)
    expect(page.locator("#eval-progress")).to_contain_text("Done", timeout=90_000)
    page.set_viewport_size({"width": 390, "height": 844})

    for path in ("/evaluations/", page.url, f"{page.url}tasks/sky/", "/evaluations/new/"):
        page.goto(path if path.startswith("http") else f"{app}{path}")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone: {page.evaluate(TOO_WIDE)}"
