"""Imports as an attacker makes them: deep, huge, oversize, many at once, and too often."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from django.test import Client

from chat import export
from chat.models import Conversation, Panel, Run, SeatAnswer
from tests.conftest import saved_rows
from tests.sharing_data import build_conversation


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("conversation.json", data, content_type="application/json")


@pytest.fixture
def document(alice: User) -> dict[str, Any]:
    return json.loads(export.export_json(build_conversation(alice)))


def refusal(response: Any) -> str:
    assert response.status_code in {422, 429}, response.status_code
    message: str = response.context["error"]
    assert message in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    return message


# -- nesting ----------------------------------------------------------------------------------


def test_a_nested_json_bomb_gets_a_4xx_that_says_so(as_bob: Client, db: None) -> None:
    bomb = (
        b'{"format": "fusionroom.conversation", "version": 1, "title": '
        + b"[" * 200_000
        + b"]" * 200_000
        + b"}"
    )
    before = saved_rows()

    response = as_bob.post("/import/", {"file": upload(bomb)})

    assert response.status_code == 422
    assert "nests 200001 levels deep" in refusal(response)
    assert saved_rows() == before


def test_brackets_inside_strings_are_not_nesting(document: dict[str, Any]) -> None:
    document["turns"][0]["runs"][0]["answers"][0]["text"] = "[[[[{{{{" * 1000 + '\\"[[['
    data = json.dumps(document).encode()

    assert export.nesting_depth(data.decode()) < 16
    export.parse_document(data)


def test_a_bomb_past_the_depth_check_is_still_refused_not_a_500(settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_DEPTH = 10**9

    with pytest.raises(export.ImportRefused, match="nests too deeply"):
        export.parse_document(b"[" * 200_000 + b"]" * 200_000)


def test_a_real_export_is_far_inside_the_default_depth(document: dict[str, Any], settings: Any) -> None:
    assert export.nesting_depth(json.dumps(document)) <= settings.FUSIONROOM_MAX_IMPORT_DEPTH // 2


# -- sizes, each refused naming the field --------------------------------------------------------


def test_an_oversize_text_field_is_refused_naming_it(
    as_bob: Client, document: dict[str, Any], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_IMPORT_TEXT_CHARS = 1000
    document["turns"][1]["runs"][0]["answers"][2]["reasoning"] = "x" * 1001
    before = saved_rows()

    response = as_bob.post("/import/", {"file": upload(json.dumps(document).encode())})

    message = refusal(response)
    assert "turns.1.runs.0.answers.2.reasoning: 1,001 characters; at most 1,000" in message
    assert saved_rows() == before


def test_an_oversize_text_deep_in_the_analysis_is_named_too(document: dict[str, Any], settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_TEXT_CHARS = 1000
    document["turns"][0]["runs"][0]["analysis"]["blind_spots"][0] = "y" * 1001

    with pytest.raises(export.ImportRefused, match=r"turns\.0\.runs\.0\.analysis\.blind_spots\.0: 1,001"):
        export.parse_document(json.dumps(document).encode())


def test_too_many_turns_are_refused(document: dict[str, Any], settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_TURNS = 1

    with pytest.raises(export.ImportRefused, match=r"turns: 2 turns; at most 1"):
        export.parse_document(json.dumps(document).encode())


def test_too_many_runs_in_a_turn_are_refused(document: dict[str, Any], settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_RUNS_PER_TURN = 1

    with pytest.raises(export.ImportRefused, match=r"turns\.0\.runs: 2 runs; at most 1 a turn"):
        export.parse_document(json.dumps(document).encode())


def test_too_many_answers_in_a_run_are_refused(document: dict[str, Any]) -> None:
    answers = document["turns"][0]["runs"][0]["answers"]
    answers.extend(dict(answers[0], index=index) for index in range(len(answers), 9))

    with pytest.raises(export.ImportRefused, match=r"turns\.0\.runs\.0\.answers"):
        export.parse_document(json.dumps(document).encode())


def test_too_many_rows_in_all_are_refused(document: dict[str, Any], settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_ROWS = 10

    with pytest.raises(export.ImportRefused, match=r"turns: \d+ turns, runs and answers in all; at most 10"):
        export.parse_document(json.dumps(document).encode())


def test_a_long_list_is_refused_naming_it(document: dict[str, Any], settings: Any) -> None:
    settings.FUSIONROOM_MAX_IMPORT_LIST_ITEMS = 3
    document["turns"][0]["runs"][0]["blocked_domains"] = ["a.example", "b.example", "c.example", "d.example"]

    with pytest.raises(export.ImportRefused, match=r"turns\.0\.runs\.0\.blocked_domains: 4 items; at most 3"):
        export.parse_document(json.dumps(document).encode())


def test_a_file_over_the_upload_size_is_refused_before_it_is_read(
    as_bob: Client, document: dict[str, Any], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_IMPORT_BYTES = 1024 * 1024
    data = json.dumps(document).encode() + b" " * (1024 * 1024)

    response = as_bob.post("/import/", {"file": upload(data)})

    assert refusal(response) == "This file is too large: at most 1 MB."
    assert not Conversation.objects.filter(owner__username="bob").exists()


# -- written a turn at a time, hidden until the end -------------------------------------------


def test_an_import_is_hidden_until_its_last_turn_is_in(
    as_bob: Client, bob: User, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    real_create_turn = export._create_turn

    def look_after_each_turn(conversation: Conversation, turn: Any) -> None:
        real_create_turn(conversation, turn)
        listed = Conversation.objects.for_user(bob).count()
        page = as_bob.get(conversation.get_absolute_url()).status_code
        seen.append((listed, page))

    monkeypatch.setattr(export, "_create_turn", look_after_each_turn)

    copy = export.import_file(json.dumps(document).encode(), bob)

    assert seen == [(0, 404), (0, 404)]
    assert list(Conversation.objects.for_user(bob)) == [copy]
    assert as_bob.get(copy.get_absolute_url()).status_code == 200


def test_a_conversation_left_hidden_by_a_dead_import_is_cleared_by_the_next(
    bob: User, document: dict[str, Any]
) -> None:
    left = Conversation.objects.create(owner=bob, title="half", importing=True)
    Conversation.objects.filter(pk=left.pk).update(created_at=left.created_at - export.ABANDONED_AFTER * 2)

    export.import_file(json.dumps(document).encode(), bob)

    assert not Conversation.objects.filter(pk=left.pk).exists()
    assert Conversation.objects.filter(owner=bob).count() == 1


START = "2026-11-20T09:30:15Z"


def _big_document(turns: int) -> bytes:
    run = {
        "panel_name": "Panel",
        "judge": "judge/j",
        "writer": "writer/w",
        "simulated": True,
        "status": "done",
        "stage": "finished",
        "note": "",
        "thread_note": "",
        "retry_of": None,
        "analysis": None,
        "analysis_error": "",
        "analysis_stats": None,
        "fused_text": "fused " * 20,
        "fused_error": "",
        "fused_stats": None,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cost": None,
        "duration_ms": None,
        "started_at": "2026-11-20T09:30:15Z",
        "finished_at": "2026-11-20T09:31:15Z",
        "answers": [
            {
                "index": seat,
                "model": f"model/{seat}",
                "status": "done",
                "text": "an answer " * 20,
                "reasoning": "",
                "error": "",
                "prompt_tokens": 1,
                "completion_tokens": 1,
                "cost": None,
                "ttft_ms": None,
                "duration_ms": None,
                "reused": False,
            }
            for seat in range(8)
        ],
    }
    document = {
        "format": export.FORMAT,
        "version": export.VERSION,
        "title": "Big",
        "turns": [
            {
                "position": number,
                "prompt": f"q{number}",
                "created_at": "2026-11-20T09:30:15Z",
                "runs": [run, run],
            }
            for number in range(turns)
        ],
    }
    return json.dumps(document).encode()


# Another user's save gives up after this long; the old single-transaction import held the lock
# for seconds, each turn's transaction holds it for milliseconds.
SAVER_PATIENCE_MS = 500


@pytest.mark.django_db(transaction=True)
def test_imports_at_once_never_lock_out_another_users_save(django_user_model: type[User]) -> None:
    importers = [django_user_model.objects.create_user(f"importer{number}") for number in range(3)]
    carol = django_user_model.objects.create_user("carol")
    panel = Panel.objects.create(owner=carol, name="Mine", seats=["a/b"], judge="a/b")
    data = _big_document(turns=100)
    failures: list[BaseException] = []
    saves: list[float] = []
    done = threading.Event()

    def import_as(user: User) -> None:
        try:
            export.import_file(data, user)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)
        finally:
            connection.close()

    def carol_saves() -> None:
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {SAVER_PATIENCE_MS}")
        try:
            number = 0
            while not done.is_set():
                number += 1
                began = time.monotonic()
                with transaction.atomic():
                    Panel.objects.filter(pk=panel.pk).update(name=f"Mine {number}")
                saves.append(time.monotonic() - began)
                time.sleep(0.01)
        except OperationalError as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=import_as, args=(user,)) for user in importers]
    saver = threading.Thread(target=carol_saves)
    saver.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    saver.join(timeout=10)

    assert failures == []
    assert len(saves) > 10
    assert Conversation.objects.filter(owner__in=importers, importing=False).count() == 3
    assert Run.objects.filter(turn__conversation__owner__in=importers).count() == 3 * 100 * 2
    assert SeatAnswer.objects.filter(run__turn__conversation__owner__in=importers).count() == 3 * 100 * 2 * 8


# -- how often -------------------------------------------------------------------------------


def test_imports_past_the_limit_are_refused_with_429_and_create_nothing(
    as_bob: Client, bob: User, document: dict[str, Any], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_IMPORTS = 2
    data = json.dumps(document).encode()
    for _ in range(2):
        assert as_bob.post("/import/", {"file": upload(data)}).status_code == 302

    response = as_bob.post("/import/", {"file": upload(data)})

    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.FUSIONROOM_IMPORT_WINDOW_SECONDS)
    assert "try again in up to 60 minutes" in refusal(response)
    assert Conversation.objects.filter(owner=bob).count() == 2


def test_the_import_limit_is_per_user(
    as_alice: Client, as_bob: Client, document: dict[str, Any], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_IMPORTS = 1
    data = json.dumps(document).encode()
    assert as_bob.post("/import/", {"file": upload(data)}).status_code == 302

    assert as_alice.post("/import/", {"file": upload(data)}).status_code == 302
    assert as_bob.post("/import/", {"file": upload(data)}).status_code == 429


def test_forks_count_against_the_same_limit(as_bob: Client, bob: User, alice: User, settings: Any) -> None:
    from chat import sharing

    settings.FUSIONROOM_MAX_IMPORTS = 1
    link = sharing.create_link(build_conversation(alice))
    assert as_bob.post(f"/s/{link.token}/fork/").status_code == 302

    response = as_bob.post(f"/s/{link.token}/fork/")

    assert response.status_code == 429
    assert Conversation.objects.filter(owner=bob).count() == 1
    assert "imported or forked 1 conversations recently" in response.content.decode()
