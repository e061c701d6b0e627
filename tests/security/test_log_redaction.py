"""Share tokens reach no log line: Django's, runserver's (Daphne's) and the daphne command's access log."""

from __future__ import annotations

import io
import logging
from typing import Any

import daphne.cli
import pytest
from daphne.management.commands.runserver import Command as RunServer
from django.test import Client

from chat.models import ShareLink
from fusionroom import serve
from fusionroom.logs import RedactingAccessLog, redact

TOKEN = "Q2hhdC1zaGFyZS10b2tlbi1mb3ItdGVzdHMtb25seS0xMjM"


def test_a_token_in_a_path_or_an_encoded_next_is_redacted() -> None:
    line = f"GET /s/{TOKEN}/fork/ then /accounts/login/?next=%2Fs%2F{TOKEN}%2F and /c/12/"

    assert redact(line) == "GET /s/[token]/fork/ then /accounts/login/?next=%2Fs%2F[token]%2F and /c/12/"


def test_a_not_found_share_link_is_logged_without_its_token(
    client: Client, db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(f"/s/{TOKEN}/").status_code == 404

    assert "Not Found: /s/[token]/" in caplog.text
    assert TOKEN not in caplog.text


def test_runservers_request_lines_carry_no_token(caplog: pytest.LogCaptureFixture, link: ShareLink) -> None:
    details = {
        "method": "GET",
        "path": f"/s/{link.token}/",
        "status": 200,
        "client": "127.0.0.1:5",
        "size": 9,
        "time_taken": 0.01,
    }
    with caplog.at_level(logging.INFO, logger="django.channels.server"):
        RunServer().log_action("http", "complete", details)

    assert "/s/[token]/" in caplog.text
    assert link.token not in caplog.text


def test_the_daphne_commands_access_log_carries_no_token() -> None:
    stream = io.StringIO()
    log = RedactingAccessLog(stream)

    log(
        "http",
        "complete",
        {"method": "GET", "path": f"/s/{TOKEN}/", "status": 200, "client": "1.2.3.4:5", "size": 9},
    )
    log("websocket", "connecting", {"path": "/ws/runs/1/", "client": "1.2.3.4:5"})

    assert '"GET /s/[token]/" 200 9' in stream.getvalue()
    assert TOKEN not in stream.getvalue()
    assert "WSCONNECTING /ws/runs/1/" in stream.getvalue()


def test_fusionroom_serve_is_daphne_with_the_redacting_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[Any] = []
    monkeypatch.setattr(daphne.cli, "AccessLogGenerator", daphne.cli.AccessLogGenerator)
    monkeypatch.setattr(
        daphne.cli.CommandLineInterface, "entrypoint", lambda: used.append(daphne.cli.AccessLogGenerator)
    )

    serve.main()

    assert used == [RedactingAccessLog]


@pytest.fixture
def link(db: None) -> ShareLink:
    from django.contrib.auth.models import User

    from chat import sharing
    from tests.sharing_data import build_conversation

    return sharing.create_link(build_conversation(User.objects.create_user("owner")))
