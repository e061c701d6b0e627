"""API tokens in the admin: staff see them and revoke them, never a secret or a digest."""

from __future__ import annotations

import pytest

from chat.models import ApiToken

pytestmark = pytest.mark.django_db


def test_staff_see_a_token_but_neither_its_secret_nor_its_digest(admin_client, alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    for url in ("/admin/chat/apitoken/", f"/admin/chat/apitoken/{token.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "laptop" in page and token.prefix in page
        assert secret not in page and token.digest not in page


def test_staff_revoke_tokens_with_the_action(admin_client, alice):
    token, secret = ApiToken.objects.issue(alice, "laptop")
    admin_client.post("/admin/chat/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.find(secret) is None


def test_staff_cannot_make_or_edit_a_token_in_the_admin(admin_client, alice):
    token, _ = ApiToken.objects.issue(alice, "laptop")
    assert admin_client.get("/admin/chat/apitoken/add/").status_code == 403
    admin_client.post(f"/admin/chat/apitoken/{token.pk}/change/", {"name": "renamed"})
    token.refresh_from_db()
    assert token.name == "laptop"
