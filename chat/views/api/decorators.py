"""What every /v1 view shares: token auth (never a session), no CSRF, errors in OpenAI's shape."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from chat.models import ApiToken
from chat.views.api.auth import authenticate
from chat.views.api.errors import ApiError

P = ParamSpec("P")

Response = Coroutine[Any, Any, HttpResponseBase]
ApiView = Callable[Concatenate[HttpRequest, ApiToken, P], Response]
View = Callable[Concatenate[HttpRequest, P], Response]


def api_view(*methods: str) -> Callable[[ApiView[P]], View[P]]:
    """An async view of the API answering `methods`: it is given the caller's token after the
    request; an ApiError it raises (or authentication raises) becomes OpenAI's error response.
    CSRF does not apply: the API takes no cookies, only the Authorization header."""

    def decorate(view: ApiView[P]) -> View[P]:
        async def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise ApiError(
                        405, f"{request.path} answers {', '.join(methods)} only.", code="method_not_allowed"
                    )
                token = await authenticate(request)
                return await view(request, token, *args, **kwargs)
            except ApiError as error:
                response = error.response()
                if error.status == 405:
                    response["Allow"] = ", ".join(methods)
                return response

        wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
        return csrf_exempt(wrapper)

    return decorate
