"""The page's chrome without a browser: favicon, sign-up errors, the landing, the palette, the budget form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.test.html import Element

from tests.html import attr, tags, text

pytestmark = pytest.mark.django_db

STYLESHEETS = sorted((Path(settings.BASE_DIR) / "static" / "chat").glob("*.css"))
PASSWORD = "correct-horse-battery-9"


def sign_up(client: Client, password1: str, password2: str) -> str:
    data = {"username": "carol", "password1": password1, "password2": password2}
    return client.post("/accounts/signup/", data).content.decode()


def by_id(page: str, id_: str) -> Element | None:
    return next((tag for tag in tags(page) if attr(tag, "id") == id_), None)


def error_under(page: str, field: str) -> str:
    found = by_id(page, f"id_{field}-error")
    return text(found) if found is not None else ""


def with_class(page: str, name: str, class_: str) -> list[Element]:
    return [tag for tag in tags(page) if tag.name == name and class_ in (attr(tag, "class") or "").split()]


def test_favicon_ico_redirects_to_the_svg_icon(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("chat/favicon.svg")


def test_pages_link_the_svg_favicon(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()

    icons = [tag for tag in tags(page) if tag.name == "link" and attr(tag, "rel") == "icon"]
    assert [attr(icon, "href") for icon in icons] == ["/static/chat/favicon.svg"]


def test_a_rejected_password_is_explained_under_the_password_not_the_confirmation(client: Client) -> None:
    page = sign_up(client, "short", "short")

    assert "too short" in error_under(page, "password1")
    assert error_under(page, "password2") == ""
    assert not User.objects.filter(username="carol").exists()


def test_a_mismatch_is_explained_under_the_confirmation(client: Client) -> None:
    page = sign_up(client, PASSWORD, PASSWORD + "x")

    assert "didn’t match" in error_under(page, "password2")
    assert error_under(page, "password1") == ""


def test_a_refused_sign_up_keeps_the_username_and_both_passwords(client: Client) -> None:
    page = sign_up(client, PASSWORD, PASSWORD + "x")

    def value(name: str) -> str | None:
        inputs = (tag for tag in tags(page) if tag.name == "input")
        return next(attr(tag, "value") for tag in inputs if attr(tag, "name") == name)

    assert (value("username"), value("password1"), value("password2")) == ("carol", PASSWORD, PASSWORD + "x")


def test_the_sign_up_page_is_never_cached(client: Client) -> None:
    response = client.post("/accounts/signup/", {"username": "carol", "password1": "a", "password2": "b"})

    assert "no-store" in response["Cache-Control"]


def test_a_signed_out_visitor_is_told_what_fusionroom_is(client: Client) -> None:
    page = client.get("/", follow=True).content.decode()

    landing = by_id(page, "landing")
    assert landing is not None
    steps = [text(tag) for tag in tags(str(landing)) if tag.name == "strong"]
    assert steps == ["Panel", "Judge", "Fused answer"]
    assert any(attr(tag, "name") == "password" for tag in tags(page))  # and can sign in right there


def test_the_budget_form_uses_the_settings_pages_input_style(as_alice: Client) -> None:
    page = as_alice.get("/settings/").content.decode()

    (form,) = with_class(page, "form", "budget-form")
    fields = [tag for tag in tags(str(form)) if attr(tag, "name") in ("limit_usd", "period")]
    assert len(fields) == 2
    assert all("form-input" in (attr(field, "class") or "").split() for field in fields)


def test_the_chat_page_starts_with_a_skip_link_to_the_conversation(as_alice: Client) -> None:
    page = as_alice.get("/").content.decode()

    first_link = next(tag for tag in tags(page) if tag.name == "a")
    assert attr(first_link, "href") == "#conversation"
    assert any(tag.name == "main" and attr(tag, "id") == "conversation" for tag in tags(page))


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda path: path.name)
def test_every_colour_of_a_stylesheet_comes_from_the_palette(path: Path) -> None:
    # Colours are set once, in :root blocks (light, and dark under prefers-color-scheme);
    # a colour written in a rule would stay the same in dark mode.
    rules = re.sub(r":root\s*\{[^}]*\}", "", path.read_text())
    rules = re.sub(r"/\*.*?\*/", "", rules, flags=re.DOTALL)
    values = re.findall(r"[a-z-]+\s*:\s*([^;{}]+)", rules)
    literal = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?|oklch|lab|lch)\(|\b(?:white|black)\b")
    assert [value.strip() for value in values if literal.search(value)] == []


def test_a_rejected_new_password_is_explained_under_the_new_password(alice: User, as_alice: Client) -> None:
    alice.set_password(PASSWORD)
    alice.save()
    as_alice.force_login(alice)
    data = {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    page = as_alice.post("/accounts/password/", data).content.decode()

    assert "too short" in error_under(page, "new_password1")
    assert error_under(page, "new_password2") == ""
