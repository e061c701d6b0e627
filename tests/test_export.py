"""Export as Markdown and JSON, and import of the JSON: who may, what is in them, what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chat import export
from chat.fusion.options import RunOptions, SeatOptions
from chat.models import Conversation, Run, SeatAnswer, ShareLink, Turn
from tests.conftest import saved_rows
from tests.sharing_data import FOLLOW_UP, FUSED, PROMPT, SEATS, add_run, add_turn, build_conversation


@pytest.fixture
def conversation(alice: User) -> Conversation:
    return build_conversation(alice)


def upload(content: bytes | str, name: str = "conversation.json") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="application/json")


def exported(client: Client, conversation: Conversation) -> dict[str, Any]:
    response = client.get(f"/c/{conversation.pk}/export.json")
    assert response.status_code == 200
    return json.loads(response.content)


# -- Markdown ---------------------------------------------------------------------------------


def test_markdown_downloads_as_a_file_named_after_the_title(
    as_alice: Client, conversation: Conversation
) -> None:
    response = as_alice.get(f"/c/{conversation.pk}/export.md")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="plan-a-database-migration.md"'


def test_markdown_has_the_title_the_prompts_and_every_seats_answer(
    as_alice: Client, conversation: Conversation
) -> None:
    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert text.startswith("# Plan a database migration\n")
    assert f"> {PROMPT}" in text and f"> {FOLLOW_UP}" in text
    for number, model in enumerate(SEATS, start=1):
        assert f"### Seat {number}: {model}" in text
        assert f"Answer of {model}: rehearse, then migrate." in text
    assert "**Failed:** The model is overloaded (HTTP 529)." in text
    assert "### Run 2 of 2" in text  # the retry is there beside the run it re-ran


def test_markdown_has_the_analysis_by_section_with_seat_names(
    as_alice: Client, conversation: Conversation
) -> None:
    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    headings = ["Consensus", "Contradictions", "Partial coverage", "Unique insights", "Blind spots"]
    positions = [text.index(f"#### {heading}") for heading in headings]
    assert positions == sorted(positions)
    assert "- Rehearse the migration on a copy first. — Seat 1 (alpha/one), Seat 3 (gamma/three)" in text
    assert "  - Seat 1 (alpha/one): Accept a short window." in text
    assert "  - Judge: Seat 3 is right for a public service." in text
    assert "- Seat 3 (gamma/three): Use expand and contract. (No lock.)" in text
    assert "- Nobody mentioned testing the restore." in text
    assert "The analysis is missing: The judge's reply was not valid JSON." in text


def test_markdown_has_the_fused_answers_and_the_costs_per_run_and_in_total(
    as_alice: Client, conversation: Conversation
) -> None:
    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert "### Fused answer (written by writer/w)" in text
    assert FUSED in text
    assert text.count("*Run total: 1,000 tokens (600 in, 400 out) · $0.0125 · 9.1 s*") == 3
    assert "**Conversation total:** 3 runs · 3,000 tokens (1,800 in, 1,200 out) · $0.0375" in text


def test_markdown_keeps_text_as_written_and_quotes_every_line_of_a_prompt(
    as_alice: Client, alice: User
) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Tom & <Jerry>")
    turn = add_turn(conversation, 0, "Is <b>5 > 3</b> & 'true'?\n\n# Not a heading {{ x }}")
    add_run(turn, texts=['Yes: 5 > 3 & it\'s "true".', "b", "c"])

    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert text.startswith("# Tom & <Jerry>\n")
    assert "> Is <b>5 > 3</b> & 'true'?\n>\n> # Not a heading {{ x }}\n" in text
    assert 'Yes: 5 > 3 & it\'s "true".' in text
    assert "&amp;" not in text and "&#x27;" not in text


def test_a_models_headings_rank_below_the_exports_own_sections(as_alice: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Headings")
    turn = add_turn(conversation, 0, PROMPT)
    fused = "Intro\n\n### Fused answer\n\nFake."
    add_run(turn, texts=["# Big title\n\n## Part\n\nText.", "b", "c"], fused=fused)

    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert "\n##### Big title\n" in text and "\n###### Part\n" in text
    assert "\n##### Fused answer\n" in text
    assert "\n### Fused answer" in text  # the document's own section, once
    assert text.count("\n### Fused answer") == 1


JUDGING_TERMS = RunOptions(
    quorum=2,
    judge_instructions="Check every number and date.",
    writer_instructions="For a ten-year-old.\nThree sentences.",
    system_prompt="Answer as a database engineer.",
    seats=[
        SeatOptions(temperature=0.2),
        SeatOptions(),
        SeatOptions(temperature=1.1, reasoning_effort="high"),
    ],
)


def judged_early(conversation: Conversation) -> Run:
    """The conversation's first run, on the panel's judging terms, with its third seat late."""
    run = Run.objects.filter(turn__conversation=conversation).order_by("pk").first()
    assert run is not None
    Run.objects.filter(pk=run.pk).update(options=JUDGING_TERMS.stored(), judged_at_ms=2100.5)
    run.answers.filter(index=2).update(late=True)
    return run


def test_markdown_shows_the_judging_terms_the_instructions_and_each_seats_settings(
    as_alice: Client, conversation: Conversation
) -> None:
    judged_early(conversation)

    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert "Judging terms: Judge when 2 seats have answered; late seats go on." in text
    assert "System prompt for the seats:\n\n> Answer as a database engineer.\n" in text
    assert "Instructions for the judge:\n\n> Check every number and date.\n" in text
    assert "Instructions for the writer:\n\n> For a ten-year-old.\n> Three sentences.\n" in text
    assert "*Done · temp 0.2 · " in text
    assert "*Done · late, not judged · temp 1.1 · effort high · " in text
    # Only that run has terms: the others say none.
    assert text.count("Judging terms:") == 1 and text.count("late, not judged") == 1


def test_markdown_of_a_compare_only_run_has_the_answers_and_no_analysis_or_fused_answer(
    as_alice: Client, alice: User
) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Which is best?")
    run = add_run(add_turn(conversation, 0, PROMPT), analysis=False, fused="")
    Run.objects.filter(pk=run.pk).update(options=RunOptions(compare_only=True).stored())

    text = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert "### Seat 3: gamma/three" in text
    assert "### Analysis" not in text and "### Fused answer" not in text


# -- JSON -------------------------------------------------------------------------------------


def test_json_downloads_as_a_versioned_document(as_alice: Client, conversation: Conversation) -> None:
    response = as_alice.get(f"/c/{conversation.pk}/export.json")
    document = json.loads(response.content)

    assert response["Content-Disposition"] == 'attachment; filename="plan-a-database-migration.json"'
    assert (document["format"], document["version"], document["title"]) == (
        "fusionroom.conversation",
        1,
        "Plan a database migration",
    )
    assert [turn["prompt"] for turn in document["turns"]] == [PROMPT, FOLLOW_UP]
    first, retry = document["turns"][0]["runs"]
    assert (first["status"], first["retry_of"], retry["retry_of"]) == ("degraded", None, 0)
    assert (first["answers"][1]["status"], first["answers"][1]["error"]) == (
        "failed",
        "The model is overloaded (HTTP 529).",
    )
    assert first["analysis"]["blind_spots"] == ["Nobody mentioned testing the restore."]


# Rows' own keys and links, which a copy gets anew, a run's liveness, which belongs to the
# process executing it, and the estimate a running run holds against its owner's budget (a copy
# never runs); everything else must travel in the document.
# The kept HTML is left out on purpose: an import renders the text again, never trusting HTML.
NOT_EXPORTED = {
    # `listed` too: an import is the user's own copy, listed like any conversation they start.
    Conversation: {"id", "owner", "created_at", "updated_at", "importing", "listed"},
    Turn: {"id", "conversation"},
    # The API token a run was started with is its owner's credential: a copy belongs to someone else.
    Run: {"id", "turn", "panel", "heartbeat_at", "estimated_cost", "fused_html", "api_token"},
    SeatAnswer: {"id", "run", "html"},
}
DOCUMENTS = {
    Conversation: export.ConversationDocument,
    Turn: export.TurnDocument,
    Run: export.RunDocument,
    SeatAnswer: export.AnswerDocument,
}


@pytest.mark.parametrize("model", list(DOCUMENTS), ids=lambda model: model.__name__)
def test_every_field_of_a_saved_row_is_in_the_document_or_left_out_on_purpose(model: Any) -> None:
    fields = {field.name for field in model._meta.concrete_fields}
    documented = set(DOCUMENTS[model].model_fields) - {"format", "version", "turns", "runs", "answers"}

    assert fields - NOT_EXPORTED[model] == documented


def test_export_then_import_gives_the_same_document_back(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    before = exported(as_alice, conversation)

    response = as_bob.post("/import/", {"file": upload(json.dumps(before))})

    copy = Conversation.objects.get(owner=bob)
    assert response.status_code == 302 and response.url == copy.get_absolute_url()
    # Everything but the title, which says it is an import.
    assert exported(as_bob, copy) == {**before, "title": f"{before['title']} (imported)"}


def test_the_thread_an_api_call_sent_before_its_question_is_exported_and_imported(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    context = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    conversation.turns.filter(position=0).update(context=context)

    as_bob.post("/import/", {"file": upload(json.dumps(exported(as_alice, conversation)))})

    copy = Conversation.objects.get(owner=bob)
    assert copy.turns.get(position=0).context == context


def test_the_sampling_an_api_call_asked_for_is_exported_and_imported(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    Run.objects.filter(turn__conversation=conversation).update(
        sampling={"temperature": 0.3, "max_tokens": 99}
    )

    as_bob.post("/import/", {"file": upload(json.dumps(exported(as_alice, conversation)))})

    copies = Run.objects.filter(turn__conversation__owner=bob)
    assert {tuple(sorted(run.sampling.items())) for run in copies} == {
        (("max_tokens", 99), ("temperature", 0.3))
    }


def test_the_judging_terms_and_the_late_seats_are_exported_and_imported(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    judged_early(conversation)
    document = exported(as_alice, conversation)
    first = document["turns"][0]["runs"][0]
    assert first["options"]["judge_instructions"] == "Check every number and date."
    assert (first["judged_at_ms"], [a["late"] for a in first["answers"]]) == (2100.5, [False, False, True])

    as_bob.post("/import/", {"file": upload(json.dumps(document))})

    copy = Run.objects.filter(turn__conversation__owner=bob).order_by("pk").first()
    assert copy is not None
    assert copy.run_options == JUDGING_TERMS and copy.judged_at_ms == 2100.5
    assert [answer.late for answer in copy.answers.order_by("index")] == [False, False, True]


def test_judging_terms_out_of_bounds_are_refused_on_import(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    document = exported(as_alice, conversation)
    document["turns"][0]["runs"][0]["options"] = {"judge_instructions": "x" * 4_001}

    response = as_bob.post("/import/", {"file": upload(json.dumps(document))})

    assert response.status_code == 422 and "judge_instructions" in response.context["error"]
    assert not Conversation.objects.filter(owner=bob).exists()


def test_an_imported_conversation_is_the_importers_and_leaves_the_original_alone(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    as_bob.post("/import/", {"file": upload(export.export_json(conversation))})

    copy = Conversation.objects.get(owner=bob)
    assert copy.pk != conversation.pk
    assert Run.objects.filter(turn__conversation=copy, panel__isnull=False).count() == 0
    assert as_bob.get(copy.get_absolute_url()).status_code == 200
    assert Conversation.objects.filter(owner=conversation.owner).count() == 1


def test_an_imported_conversation_is_titled_as_an_import(
    as_alice: Client, alice: User, conversation: Conversation
) -> None:
    as_alice.post("/import/", {"file": upload(export.export_json(conversation))})

    titles = set(Conversation.objects.filter(owner=alice).values_list("title", flat=True))
    assert titles == {"Plan a database migration", "Plan a database migration (imported)"}


def test_a_second_import_of_the_same_conversation_gets_a_title_of_its_own(
    as_alice: Client, alice: User, conversation: Conversation
) -> None:
    for _ in range(3):
        as_alice.post("/import/", {"file": upload(export.export_json(conversation))})

    titles = sorted(Conversation.objects.filter(owner=alice).values_list("title", flat=True))
    assert titles == [
        "Plan a database migration",
        "Plan a database migration (imported 2)",
        "Plan a database migration (imported 3)",
        "Plan a database migration (imported)",
    ]


def test_an_imported_title_stays_within_the_title_limit(alice: User) -> None:
    title = export.imported_title("x" * 200, alice)

    assert len(title) == 200 and title.endswith(" (imported)")


def test_an_untitled_import_gets_a_title(alice: User) -> None:
    assert export.imported_title("  ", alice) == "Untitled conversation (imported)"


def test_an_imported_running_run_becomes_interrupted(alice: User, bob: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Live")
    add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)

    copy = export.import_file(export.export_json(conversation).encode(), bob)

    run = Run.objects.get(turn__conversation=copy)
    assert run.status == Run.Status.INTERRUPTED
    assert run.stage == Run.Stage.FINISHED
    assert export.INTERRUPTED_NOTE in run.note
    assert set(run.answers.values_list("status", flat=True)) == {SeatAnswer.Status.STOPPED}


def _document(conversation: Conversation) -> dict[str, Any]:
    return json.loads(export.export_json(conversation))


def _with(document: dict[str, Any], change: Any) -> bytes:
    change(document)
    return json.dumps(document).encode()


BAD_FILES: dict[str, Any] = {
    "not JSON": lambda doc: b"# Plan a database migration\n",
    "not text": lambda doc: b"\xff\xfe\x00\xd8garbage",
    "another format": lambda doc: _with(doc, lambda d: d.update(format="chatgpt.export")),
    "a later version": lambda doc: _with(doc, lambda d: d.update(version=2)),
    "an unknown field": lambda doc: _with(doc, lambda d: d["turns"][0]["runs"][0].update(secret="x")),
    "an unknown status": lambda doc: _with(doc, lambda d: d["turns"][1]["runs"][0].update(status="great")),
    "a missing prompt": lambda doc: _with(doc, lambda d: d["turns"][1].pop("prompt")),
    "two turns at one position": lambda doc: _with(doc, lambda d: d["turns"][1].update(position=0)),
    "a retry of a later run": lambda doc: _with(doc, lambda d: d["turns"][0]["runs"][0].update(retry_of=1)),
    "two seats with one index": lambda doc: _with(
        doc, lambda d: d["turns"][1]["runs"][0]["answers"][2].update(index=0)
    ),
    "a malformed analysis": lambda doc: _with(
        doc, lambda d: d["turns"][0]["runs"][0].update(analysis={"consensus": "all good"})
    ),
    "a negative cost": lambda doc: _with(doc, lambda d: d["turns"][0]["runs"][0].update(cost=-1)),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_gets_a_clear_message_and_creates_nothing(
    as_bob: Client, conversation: Conversation, kind: str
) -> None:
    before = saved_rows()

    response = as_bob.post("/import/", {"file": upload(BAD_FILES[kind](_document(conversation)))})

    assert response.status_code == 422
    message = response.context["error"]
    assert message.startswith("This file ")
    assert message in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert saved_rows() == before


def test_a_message_names_where_the_file_is_wrong(conversation: Conversation) -> None:
    data = BAD_FILES["an unknown status"](_document(conversation))

    with pytest.raises(export.ImportRefused, match=r"turns\.1\.runs\.0\.status"):
        export.parse_document(data)


def test_an_import_that_fails_half_way_leaves_nothing_behind(
    bob: User, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = export.export_json(conversation).encode()
    before = saved_rows()
    real_bulk_create = SeatAnswer.objects.bulk_create
    calls = []

    def fail_on_the_third_run(objs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(SeatAnswer.objects, "bulk_create", fail_on_the_third_run)

    with pytest.raises(RuntimeError):
        export.import_file(data, bob)
    assert saved_rows() == before


def test_importing_without_a_file_says_so(as_bob: Client, db: None) -> None:
    response = as_bob.post("/import/", {})

    assert response.status_code == 422
    assert response.context["error"] == "Choose a JSON file exported by FusionRoom."


def test_the_import_page_has_a_file_form_with_a_csrf_token(as_bob: Client) -> None:
    html = as_bob.get("/import/").content.decode()

    assert 'enctype="multipart/form-data"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'type="file" name="file"' in html


def test_the_chat_page_offers_export_and_import(as_alice: Client, conversation: Conversation) -> None:
    html = as_alice.get(conversation.get_absolute_url()).content.decode()

    assert f'href="/c/{conversation.pk}/export.md"' in html
    assert f'href="/c/{conversation.pk}/export.json"' in html
    assert 'action="/import/"' in html


def test_a_new_chat_offers_import_but_nothing_to_share(as_alice: Client, db: None) -> None:
    html = as_alice.get("/").content.decode()

    assert 'action="/import/"' in html
    assert "/share/" not in html and "export.json" not in html


def test_anonymous_visitors_are_sent_to_sign_in_to_import(client: Client, db: None) -> None:
    response = client.post("/import/", {"file": upload("{}")})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert Conversation.objects.count() == 0


# -- who may export ---------------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["md", "json"])
def test_bob_cannot_export_alices_conversation(
    as_bob: Client, conversation: Conversation, extension: str
) -> None:
    assert as_bob.get(f"/c/{conversation.pk}/export.{extension}").status_code == 404


@pytest.mark.parametrize("extension", ["md", "json"])
def test_anonymous_visitors_cannot_export(client: Client, conversation: Conversation, extension: str) -> None:
    assert client.get(f"/c/{conversation.pk}/export.{extension}").status_code == 404


def test_an_export_holds_no_share_links_or_owner(
    as_alice: Client, alice: User, conversation: Conversation
) -> None:
    link = ShareLink.objects.create(conversation=conversation, token="t" * 43, upto_position=1)

    text = as_alice.get(f"/c/{conversation.pk}/export.json").content.decode()

    assert link.token not in text
    assert alice.username not in text
