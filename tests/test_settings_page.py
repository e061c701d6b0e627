"""The Settings page as a person meets it: their endpoints, their keys, written and never read back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

from chat.models import ProviderEndpoint, UserProviderKey
from chat.providers.types import Endpoint
from tests.conftest import SENTINEL

pytestmark = pytest.mark.django_db

OTHER_KEY = "sk-another-key-9a8b7c"
SETTINGS_URL = "/settings/"


@pytest.fixture(autouse=True)
def server(settings: Any) -> None:
    """OpenRouter with the server's key (at an address nothing answers) and an Ollama without one."""
    settings.FUSIONROOM_DEMO = False
    settings.OPENROUTER_API_KEY = "sk-server-openrouter"
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [Endpoint(name="ollama", base_url="http://127.0.0.1:11434/v1")]


@pytest.fixture
def as_staff(django_user_model: type[User]) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    return client


def body(response: Any) -> str:
    return str(response.content.decode())


def set_key(client: Client, endpoint: str, key: str) -> Any:
    return client.post(f"/settings/keys/{endpoint}/", {f"key-{endpoint}-api_key": key})


def stored_key(user: User, endpoint: str) -> str:
    return UserProviderKey.objects.get(user=user, endpoint=endpoint).api_key()


# -- who may see it ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", SETTINGS_URL),
        ("post", "/settings/keys/openrouter/"),
        ("post", "/settings/keys/openrouter/remove/"),
        ("post", "/settings/endpoints/new/"),
        ("get", "/settings/endpoints/1/"),
        ("post", "/settings/endpoints/1/delete/"),
        ("post", "/settings/endpoints/1/remove-key/"),
    ],
)
def test_it_sends_anonymous_visitors_to_sign_in(client: Client, method: str, url: str) -> None:
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_account_menu_links_to_settings(as_alice: Client) -> None:
    assert f'href="{SETTINGS_URL}"' in body(as_alice.get("/"))


# -- server endpoints and the user's keys ------------------------------------------------------------


def test_it_lists_the_server_endpoints_and_whose_key_each_uses(
    as_alice: Client, alice: User, alices_key: UserProviderKey
) -> None:
    # Staff see where the server's endpoints are; other users see their names only
    # (tests/security/test_user_endpoints_ssrf.py).
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    page = body(as_alice.get(SETTINGS_URL))
    assert 'aria-label="Endpoint openrouter"' in page and "http://127.0.0.1:9/v1" in page
    assert 'aria-label="Endpoint ollama"' in page and "http://127.0.0.1:11434/v1" in page
    assert "Your key is set" in page  # openrouter: alice's own
    assert "No key" in page  # ollama


def test_a_server_key_is_reported_but_never_shown(as_bob: Client) -> None:
    page = body(as_bob.get(SETTINGS_URL))
    assert "Key set by the server" in page
    assert "sk-server-openrouter" not in page


def test_saving_a_key_stores_it_encrypted_and_never_shows_it_again(as_alice: Client, alice: User) -> None:
    response = set_key(as_alice, "openrouter", SENTINEL)

    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    assert stored_key(alice, "openrouter") == SENTINEL
    page = body(as_alice.get(SETTINGS_URL))
    assert "Your key for openrouter is saved" in page
    assert "Your key is set" in page
    assert SENTINEL not in page
    assert 'type="password"' in page


def test_a_blank_submit_keeps_the_stored_key(
    as_alice: Client, alice: User, alices_key: UserProviderKey
) -> None:
    response = set_key(as_alice, "openrouter", "")

    assert response.status_code == 302
    assert stored_key(alice, "openrouter") == SENTINEL
    assert "unchanged" in body(as_alice.get(SETTINGS_URL))


def test_a_new_key_replaces_the_stored_one(
    as_alice: Client, alice: User, alices_key: UserProviderKey
) -> None:
    set_key(as_alice, "openrouter", OTHER_KEY)
    assert stored_key(alice, "openrouter") == OTHER_KEY
    assert UserProviderKey.objects.filter(user=alice).count() == 1


def test_a_blank_submit_without_a_stored_key_asks_for_one(as_alice: Client) -> None:
    response = set_key(as_alice, "ollama", "")
    assert response.status_code == 422
    assert "Paste a key to save it." in body(response)
    assert not UserProviderKey.objects.exists()


def test_a_key_with_spaces_is_refused_without_being_echoed(as_alice: Client) -> None:
    response = set_key(as_alice, "ollama", f"{SENTINEL} oops")
    assert response.status_code == 422
    assert SENTINEL not in body(response)
    assert not UserProviderKey.objects.exists()


def test_removing_a_key_is_its_own_action(as_alice: Client, alice: User, alices_key: UserProviderKey) -> None:
    response = as_alice.post("/settings/keys/openrouter/remove/")
    assert response.status_code == 302
    assert not UserProviderKey.objects.filter(user=alice).exists()
    assert "Key set by the server" in body(as_alice.get(SETTINGS_URL))


@pytest.mark.parametrize("endpoint", ["nowhere", "alices-vllm"])
def test_there_is_no_key_to_set_for_an_endpoint_the_server_does_not_have(
    as_alice: Client, endpoint: str, alices_endpoint: ProviderEndpoint
) -> None:
    assert set_key(as_alice, endpoint, SENTINEL).status_code == 404
    assert not UserProviderKey.objects.exists()


def test_the_simulator_takes_no_key(as_alice: Client, settings: Any) -> None:
    settings.FUSIONROOM_DEMO = True
    settings.FUSIONROOM_SIMULATOR_URL = "http://127.0.0.1:9/v1"
    page = body(as_alice.get(SETTINGS_URL))
    assert "Simulated on this server: no key needed" in page
    assert set_key(as_alice, "simulated", SENTINEL).status_code == 404


def test_a_key_that_can_no_longer_be_read_asks_to_be_entered_again(
    as_alice: Client, alices_key: UserProviderKey, settings: Any
) -> None:
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]
    page = body(as_alice.get(SETTINGS_URL))
    assert "Your stored key can no longer be read; please enter it again." in page


# -- the user's own endpoints -------------------------------------------------------------------------


def add(client: Client, **fields: str) -> Any:
    return client.post("/settings/endpoints/new/", {"enabled": "on", **fields})


def test_a_user_adds_an_endpoint_of_their_own(as_alice: Client, alice: User) -> None:
    response = add(as_alice, name="my-groq", base_url="https://api.groq.com/openai/v1", api_key=SENTINEL)

    assert response.status_code == 302
    endpoint = ProviderEndpoint.objects.get(owner=alice, name="my-groq")
    assert endpoint.api_key() == SENTINEL and endpoint.enabled
    page = body(as_alice.get(SETTINGS_URL))
    assert 'aria-label="Your endpoint my-groq"' in page
    assert SENTINEL not in page


def test_an_endpoint_needs_no_key(settings: Any, as_alice: Client, alice: User) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"  # a loopback endpoint
    assert add(as_alice, name="local", base_url="http://127.0.0.1:11434/v1").status_code == 302
    assert not ProviderEndpoint.objects.get(owner=alice, name="local").has_api_key


@pytest.mark.parametrize(
    "name, base_url, error",
    [
        ("ollama", "http://x/v1", "The server already has an endpoint called"),
        ("openrouter", "http://x/v1", "built-in endpoint"),
        ("alices-vllm", "http://x/v1", "You already have an endpoint called"),
        ("My Endpoint", "http://x/v1", "lowercase"),
        ("fine", "ftp://x/v1", "http:// or https://"),
    ],
)
def test_a_bad_endpoint_is_refused_and_the_key_is_not_echoed(
    as_alice: Client, alices_endpoint: ProviderEndpoint, name: str, base_url: str, error: str
) -> None:
    response = add(as_alice, name=name, base_url=base_url, api_key=OTHER_KEY)

    assert response.status_code == 422
    assert error in body(response)
    assert OTHER_KEY not in body(response)
    assert ProviderEndpoint.objects.count() == 1


def test_another_users_endpoint_name_is_free(
    settings: Any, as_bob: Client, bob: User, alices_endpoint: ProviderEndpoint
) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"  # a loopback endpoint
    assert add(as_bob, name="alices-vllm", base_url="http://127.0.0.1:8000/v1").status_code == 302
    assert ProviderEndpoint.objects.filter(owner=bob, name="alices-vllm").exists()


def test_editing_an_endpoint_never_shows_its_key_and_blank_keeps_it(
    settings: Any, as_alice: Client, alices_endpoint: ProviderEndpoint
) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"  # a private address
    url = f"/settings/endpoints/{alices_endpoint.pk}/"
    page = body(as_alice.get(url))
    assert 'value="http://10.0.0.5:8000/v1"' in page
    assert SENTINEL not in page

    response = as_alice.post(url, {"name": "renamed", "base_url": "http://10.0.0.6:8000/v1", "api_key": ""})

    assert response.status_code == 302
    alices_endpoint.refresh_from_db()
    assert (alices_endpoint.name, alices_endpoint.base_url, alices_endpoint.enabled) == (
        "renamed",
        "http://10.0.0.6:8000/v1",
        False,
    )
    assert alices_endpoint.api_key() == SENTINEL


def test_editing_with_a_new_key_replaces_it(
    settings: Any, as_alice: Client, alices_endpoint: ProviderEndpoint
) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"  # a private address
    url = f"/settings/endpoints/{alices_endpoint.pk}/"
    as_alice.post(url, {"name": "alices-vllm", "base_url": "http://10.0.0.5:8000/v1", "api_key": OTHER_KEY})
    alices_endpoint.refresh_from_db()
    assert alices_endpoint.api_key() == OTHER_KEY


def test_removing_an_endpoints_key_and_deleting_it(
    as_alice: Client, alices_endpoint: ProviderEndpoint
) -> None:
    assert as_alice.post(f"/settings/endpoints/{alices_endpoint.pk}/remove-key/").status_code == 302
    alices_endpoint.refresh_from_db()
    assert not alices_endpoint.has_api_key

    assert as_alice.post(f"/settings/endpoints/{alices_endpoint.pk}/delete/").status_code == 302
    assert not ProviderEndpoint.objects.exists()


def test_an_own_endpoint_hidden_by_a_later_server_endpoint_says_so(
    as_alice: Client, alices_endpoint: ProviderEndpoint
) -> None:
    ProviderEndpoint.objects.create(name="alices-vllm", base_url="https://vllm.example/v1")
    assert "A server endpoint is now called alices-vllm too" in body(as_alice.get(SETTINGS_URL))


# -- bob and alice's things ------------------------------------------------------------------------


def test_bob_does_not_see_alices_endpoint_or_key(
    as_bob: Client, alices_endpoint: ProviderEndpoint, alices_key: UserProviderKey
) -> None:
    page = body(as_bob.get(SETTINGS_URL))
    assert "alices-vllm" not in page
    assert "Your key is set" not in page


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("get", "/settings/endpoints/{pk}/", {}),
        (
            "post",
            "/settings/endpoints/{pk}/",
            {"name": "bobs-now", "base_url": "http://evil/v1", "api_key": "x"},
        ),
        ("post", "/settings/endpoints/{pk}/delete/", {}),
        ("post", "/settings/endpoints/{pk}/remove-key/", {}),
    ],
)
def test_bob_cannot_see_change_or_delete_alices_endpoint(
    as_bob: Client, alices_endpoint: ProviderEndpoint, method: str, path: str, data: dict[str, str]
) -> None:
    response = getattr(as_bob, method)(path.format(pk=alices_endpoint.pk), data)

    assert response.status_code == 404
    row = ProviderEndpoint.objects.get(pk=alices_endpoint.pk)
    assert (row.name, row.base_url, row.owner_id) == (
        "alices-vllm",
        "http://10.0.0.5:8000/v1",
        alices_endpoint.owner_id,
    )
    assert row.api_key() == SENTINEL


def test_bob_cannot_remove_or_change_alices_key(
    as_bob: Client, alice: User, bob: User, alices_key: UserProviderKey
) -> None:
    assert as_bob.post("/settings/keys/openrouter/remove/").status_code == 404
    set_key(as_bob, "openrouter", OTHER_KEY)

    assert stored_key(alice, "openrouter") == SENTINEL
    assert stored_key(bob, "openrouter") == OTHER_KEY


# -- the key appears on no page --------------------------------------------------------------------


def test_the_key_appears_on_no_page_of_the_user(
    as_alice: Client, alices_key: UserProviderKey, alices_endpoint: ProviderEndpoint
) -> None:
    for url in ["/", SETTINGS_URL, f"/settings/endpoints/{alices_endpoint.pk}/"]:
        response = as_alice.get(url)
        assert response.status_code == 200, url
        assert SENTINEL not in body(response), url


def test_the_admin_says_whether_a_key_is_set_and_never_shows_it(
    as_staff: Client, alices_key: UserProviderKey, alices_endpoint: ProviderEndpoint
) -> None:
    pages = [
        "/admin/chat/providerendpoint/",
        f"/admin/chat/providerendpoint/{alices_endpoint.pk}/change/",
        "/admin/chat/providerendpoint/add/",
        "/admin/chat/userproviderkey/",
        f"/admin/chat/userproviderkey/{alices_key.pk}/change/",
    ]
    for url in pages:
        response = as_staff.get(url)
        assert response.status_code == 200, url
        assert SENTINEL not in body(response), url
        assert alices_key.encrypted_api_key not in body(response), url
        assert alices_endpoint.encrypted_api_key not in body(response), url
    assert ">set<" in body(as_staff.get("/admin/chat/userproviderkey/"))


def test_staff_add_a_server_endpoint_with_a_write_only_key(as_staff: Client) -> None:
    response = as_staff.post(
        "/admin/chat/providerendpoint/add/",
        {"name": "together", "base_url": "https://api.together.xyz/v1", "enabled": "on", "api_key": SENTINEL},
    )

    assert response.status_code == 302
    row = ProviderEndpoint.objects.get(name="together")
    assert row.owner is None and row.api_key() == SENTINEL
    change = f"/admin/chat/providerendpoint/{row.pk}/change/"
    as_staff.post(change, {"name": "together", "base_url": "https://api.together.xyz/v1", "enabled": "on"})
    assert ProviderEndpoint.objects.get(pk=row.pk).api_key() == SENTINEL  # blank kept it
    as_staff.post(
        change, {"name": "together", "base_url": "https://api.together.xyz/v1", "remove_api_key": "on"}
    )
    assert not ProviderEndpoint.objects.get(pk=row.pk).has_api_key


def test_a_crash_while_saving_a_key_shows_it_neither_on_the_page_nor_in_the_error_report(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(UserProviderKey, "save", broken_save)
    client = Client(raise_request_exception=False)
    client.force_login(alice)

    response = set_key(client, "openrouter", SENTINEL)

    assert response.status_code == 500
    assert SENTINEL not in body(response)
    # What ADMINS would be mailed: the traceback with its POST data and local variables.
    (record,) = [record for record in caplog.records if record.name == "django.request"]
    assert record.exc_info is not None
    report = ExceptionReporter(record.request, *record.exc_info, is_email=True)  # type: ignore[attr-defined]
    text, html = report.get_traceback_text(), report.get_traceback_html()
    assert "the database went away" in text and "key-openrouter-api_key" in text
    assert SENTINEL not in text and SENTINEL not in html
