"""Server-wide OpenAI-compatible endpoints from the environment: a JSON or TOML file, or inline JSON.

Read by fusionroom/settings.py at startup, so it imports no models: a bad file stops the server
with an ImproperlyConfigured that says what is wrong, never with a key in the message.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from chat.providers.types import Endpoint

# Lowercase letters, digits, "-" and "_", starting with a letter or digit: a name fits in
# "name::model" and in a URL without escaping.
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ENDPOINT_NAME_RULES = (
    "1 to 40 lowercase letters, digits, hyphens or underscores, starting with a letter or digit"
)
# The built-in endpoints' names, whether or not this server runs in demo mode.
RESERVED_ENDPOINT_NAMES = frozenset({"openrouter", "simulated"})


def check_endpoint_name(name: str) -> str:
    """The name if it is a valid endpoint name; ValueError saying why not otherwise."""
    if not ENDPOINT_NAME_PATTERN.fullmatch(name):
        raise ValueError(f"the name must be {ENDPOINT_NAME_RULES}")
    if name in RESERVED_ENDPOINT_NAMES:
        raise ValueError(f"{name!r} is the name of a built-in endpoint")
    return name


# FUSIONROOM_USER_ENDPOINTS: what users' own endpoints may reach (chat/endpoints/guard.py).
USER_ENDPOINT_MODES = ("off", "public", "any")


def check_base_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL without user-info; ValueError otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("the base URL must be an absolute http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("the base URL must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        # The key has its own field; a password in the URL would be shown, logged and sent
        # wherever the URL goes (and the HTTP client refuses it beside a bearer key).
        raise ValueError(
            "the base URL must not hold a user name or password (user:password@); "
            "put the key in the API key field"
        )
    return url


class EndpointSpec(BaseModel):
    """One entry of the endpoints file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base_url: str
    # The NAME of an environment variable that holds the key: the file itself holds no secret.
    api_key_env: str | None = None
    # Allowed, but it puts a secret in a file; prefer api_key_env.
    api_key: str | None = Field(default=None, repr=False)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_endpoint_name(value)

    @field_validator("base_url")
    @classmethod
    def _valid_base_url(cls, value: str) -> str:
        return check_base_url(value)

    def endpoint(self, environ: Mapping[str, str]) -> Endpoint:
        if self.api_key_env is not None and self.api_key is not None:
            raise ImproperlyConfigured(
                f"Endpoint {self.name!r} sets both api_key and api_key_env; keep one (api_key_env is better)."
            )
        key = self.api_key or ""
        if self.api_key_env is not None:
            if self.api_key_env not in environ:
                raise ImproperlyConfigured(
                    f"Endpoint {self.name!r} reads its key from ${self.api_key_env}, which is not set."
                )
            key = environ[self.api_key_env]
        return Endpoint(name=self.name, base_url=self.base_url, api_key=key)


_specs = TypeAdapter(list[EndpointSpec])


def load_configured_endpoints(
    file: str = "", inline: str = "", environ: Mapping[str, str] | None = None
) -> list[Endpoint]:
    """The endpoints of FUSIONROOM_ENDPOINTS_FILE (JSON, or TOML with [[endpoints]]), then of
    FUSIONROOM_ENDPOINTS (inline JSON); ImproperlyConfigured with the reason if either is bad."""
    environ = os.environ if environ is None else environ
    specs: list[EndpointSpec] = []
    if file:
        specs += _parse("FUSIONROOM_ENDPOINTS_FILE", _read_file(file), source=file)
    if inline.strip():
        specs += _parse("FUSIONROOM_ENDPOINTS", _decode_json("FUSIONROOM_ENDPOINTS", inline), source=None)
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ImproperlyConfigured(
                f"Two configured endpoints are called {spec.name!r}; names must be unique."
            )
        seen.add(spec.name)
    return [spec.endpoint(environ) for spec in specs]


def _read_file(file: str) -> Any:
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ImproperlyConfigured(
            f"FUSIONROOM_ENDPOINTS_FILE: cannot read {file}: {error.strerror}"
        ) from None
    if path.suffix.lower() == ".toml":
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ImproperlyConfigured(
                f"FUSIONROOM_ENDPOINTS_FILE: {file} is not valid TOML: {error}"
            ) from None
        # TOML has no top-level array: the entries are an array of tables, [[endpoints]].
        if set(document) != {"endpoints"}:
            raise ImproperlyConfigured(
                f"FUSIONROOM_ENDPOINTS_FILE: {file} must hold only [[endpoints]] tables."
            )
        return document["endpoints"]
    return _decode_json(f"FUSIONROOM_ENDPOINTS_FILE ({file})", text)


def _decode_json(variable: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # The position only: the text itself may hold a key.
        raise ImproperlyConfigured(
            f"{variable} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None


def _parse(variable: str, data: Any, *, source: str | None) -> list[EndpointSpec]:
    where = f"{variable} ({source})" if source else variable
    try:
        return _specs.validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'top level'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        raise ImproperlyConfigured(
            f"{where} must be a list of endpoints like "
            f'[{{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1"}}]; {problems}'
        ) from None
