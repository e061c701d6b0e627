"""The app serves its page, and says plainly when the models are simulated."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_demo_mode_says_the_models_are_simulated(client: Client, settings: Any) -> None:
    settings.FUSIONROOM_DEMO = True
    assert "simulated" in client.get("/").content.decode()


def test_with_a_key_there_is_no_demo_notice(client: Client, settings: Any) -> None:
    settings.FUSIONROOM_DEMO = False
    assert "simulated" not in client.get("/").content.decode()
