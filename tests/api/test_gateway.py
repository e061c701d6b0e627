"""/v1 is served by a handler of its own: none of the site's middleware, its security kept."""

from __future__ import annotations

import pytest
from channels.testing import HttpCommunicator

from chat.views.api.gateway import ApiOverHttp
from fusionroom.asgi import django_asgi_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def app() -> ApiOverHttp:
    return ApiOverHttp(django_asgi_app)


async def get(app: ApiOverHttp, path: str, *, host: bytes = b"testserver") -> dict:
    response = await HttpCommunicator(app, "GET", path, headers=[(b"host", host)]).get_response()
    response["headers"] = {name.lower(): value for name, value in response["headers"]}
    return response


async def test_an_api_response_carries_the_sites_security_headers(app):
    response = await get(app, "/v1/models")

    assert response["status"] == 401
    assert response["headers"][b"x-content-type-options"] == b"nosniff"
    assert response["headers"][b"referrer-policy"] == b"same-origin"


async def test_the_api_skips_the_page_middleware_every_page_passes(app):
    page = await get(app, "/accounts/login/")
    api = await get(app, "/v1/models")

    # XFrameOptionsMiddleware marks every response that passes it; the API's never do.
    assert page["headers"][b"x-frame-options"] == b"DENY"
    assert b"x-frame-options" not in api["headers"]


async def test_an_api_request_for_a_host_not_allowed_is_refused(app):
    response = await get(app, "/v1/models", host=b"attacker.example")

    assert response["status"] == 400
