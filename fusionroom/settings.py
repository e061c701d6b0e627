"""Django settings, read from the environment with defaults that need no set-up."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from chat.endpoints.config import USER_ENDPOINT_MODES, load_configured_endpoints
from fusionroom.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from fusionroom.security import (
    allowed_hosts_problem,
    development_secret_key,
    encryption_keys_problem,
    proxy_ssl_header,
    refuse_to_start_if,
    secret_key_problem,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# DJANGO_DEBUG=0 is production: HTTPS-only cookies and headers, and the checks at the end of
# this file refuse to start without a real secret key, encryption key and host names.
DEBUG = env_bool("DJANGO_DEBUG", default=True)
# Development keeps a generated key in var/secret.key (git-ignored): sessions survive restarts
# and no key is written down in the code; production must set its own (checked below).
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if DEBUG and not SECRET_KEY:
    SECRET_KEY = development_secret_key(BASE_DIR / "var" / "secret.key")
# Rotation: the new key in DJANGO_SECRET_KEY, the old one here until sessions signed with it expire.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "accounts",
    "chat",
    "chat.evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Serves our static files from the app server itself, in development and in production.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "fusionroom.urls"
ASGI_APPLICATION = "fusionroom.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # csp_nonce: our script tags and django-htmx's {% htmx_script %} carry it.
                "django.template.context_processors.csp",
                "chat.context_processors.fusionroom",
            ],
        },
    },
]

# SQLite by default; DATABASE_URL=postgres://... switches to PostgreSQL through psycopg 3.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        # A kept connection is checked before each request reuses it (a restarted PostgreSQL).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and one writer work at once; the busy timeout waits out a
    # concurrent writer instead of failing with "database is locked". IMMEDIATE: a transaction
    # takes the write lock at BEGIN, not at its first write, so two of them cannot both read and
    # then both write. The start gate relies on it (chat.runs.gate.hold_starts: SQLite has no
    # SELECT ... FOR UPDATE), so keep transactions short and free of network calls.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: the browser tests' server process must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", str(BASE_DIR / "test-db.sqlite3"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- One process or many (README "Scale out", docs/deploy.md) ---------------------------------
# The in-memory layer needs nothing and serves one process; REDIS_URL switches the channel
# layer and the cache to Redis, so several web processes and run workers share events, sign-in
# counters and stop requests.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis, made safe to cancel a receive in (chat/redis_layer.py).
            "BACKEND": "chat.redis_layer.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s timeout by default, as long as the layer's blocking
                # pop waits: receive() would fail every few seconds (django/channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
                # Per socket: a run frames each streaming column at most 25 times a second, so
                # 2,000 messages are over 10 s of a five-column burst the socket has not read
                # yet. A message is dropped only past that or unread for `expiry` seconds; each
                # frame is numbered, so the page notices and asks for a snapshot (chat.runs).
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 2000),
                "expiry": env_int("CHANNEL_LAYER_EXPIRY", 60),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "fusionroom",
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 2000}}
    }
# Runs execute in worker processes (`manage.py runworker fusion-runs`) instead of the web process
# that started them; needs Redis, the only layer that reaches another process.
FUSIONROOM_RUN_WORKERS = env_bool("FUSIONROOM_RUN_WORKERS", default=bool(REDIS_URL))
if FUSIONROOM_RUN_WORKERS and not REDIS_URL:
    raise ImproperlyConfigured(
        "FUSIONROOM_RUN_WORKERS is on but REDIS_URL is not set: runs can only reach a worker "
        "process through Redis. Set REDIS_URL, or FUSIONROOM_RUN_WORKERS=0."
    )
# The process executing a run touches it this often; a running run untouched for STALE seconds
# was left by a process that died and is marked interrupted by the sweep, run this often.
FUSIONROOM_HEARTBEAT_SECONDS = env_float("FUSIONROOM_HEARTBEAT_SECONDS", 10.0)
FUSIONROOM_HEARTBEAT_STALE_SECONDS = env_float("FUSIONROOM_HEARTBEAT_STALE_SECONDS", 60.0)
FUSIONROOM_SWEEP_SECONDS = env_float("FUSIONROOM_SWEEP_SECONDS", 30.0)
if FUSIONROOM_HEARTBEAT_STALE_SECONDS < 3 * FUSIONROOM_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "FUSIONROOM_HEARTBEAT_STALE_SECONDS must be at least three heartbeats "
        f"(3 x FUSIONROOM_HEARTBEAT_SECONDS = {3 * FUSIONROOM_HEARTBEAT_SECONDS:g} s), or live "
        "runs would be marked interrupted."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's ModelBackend with the sign-in limit in front: past it, no password is checked.
AUTHENTICATION_BACKENDS = ["accounts.signin_limit.SignInLimitBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Security headers, cookies and HTTPS (see SECURITY.md) -------------------------------------
# Model output is hostile: scripts only from this site (and the nonce of our own tags), no
# inline style, no image, frame, socket or form target elsewhere. 'self' covers ws:/wss: to
# this host in current browsers (CSP Level 3), which tests/e2e proves for the run socket.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    # Behind a proxy that terminates TLS, name the header it sets (X-Forwarded-Proto) so that
    # Django knows a request came over HTTPS; only if the proxy always sets or strips it.
    SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env_str("DJANGO_SECURE_PROXY_SSL_HEADER"))
    # Off when the proxy itself redirects http:// to https://.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Sign-in attempts (accounts/signin_limit.py): after this many failures for one username, or from
# one address, within the window, sign-in is refused until the window has passed.
FUSIONROOM_SIGNIN_MAX_FAILURES = env_int("FUSIONROOM_SIGNIN_MAX_FAILURES", 5)
FUSIONROOM_SIGNIN_MAX_FAILURES_PER_IP = env_int("FUSIONROOM_SIGNIN_MAX_FAILURES_PER_IP", 20)
FUSIONROOM_SIGNIN_WINDOW_SECONDS = env_int("FUSIONROOM_SIGNIN_WINDOW_SECONDS", 15 * 60)
# Sign-up: "open", anyone may make an account (development and demo mode); "closed", staff make
# them in the admin or with `manage.py adduser`. Production (DJANGO_DEBUG=0) is closed unless set.
FUSIONROOM_SIGNUP = env_str("FUSIONROOM_SIGNUP", "open" if DEBUG else "closed").strip().lower()
if FUSIONROOM_SIGNUP not in {"open", "closed"}:
    raise ImproperlyConfigured(f"FUSIONROOM_SIGNUP must be open or closed; got {FUSIONROOM_SIGNUP!r}")
# The OpenAI-compatible API under /v1 (chat/views/api), reached with per-user API tokens.
FUSIONROOM_API = env_bool("FUSIONROOM_API", True)
# While a streamed fusion run has nothing to say (the panel and the judge at work), an SSE
# comment this often keeps proxies and clients from timing the connection out.
FUSIONROOM_API_KEEPALIVE_SECONDS = env_float("FUSIONROOM_API_KEEPALIVE_SECONDS", 10.0)
# Sign-up attempts from one address within the window (accounts/signup_limit.py): each says
# whether a username is taken, so they are counted like failed sign-ins.
FUSIONROOM_SIGNUP_MAX_PER_IP = env_int("FUSIONROOM_SIGNUP_MAX_PER_IP", 10)
FUSIONROOM_SIGNUP_WINDOW_SECONDS = env_int("FUSIONROOM_SIGNUP_WINDOW_SECONDS", 60 * 60)
# Behind a proxy, the header it puts the client's address in (e.g. X-Forwarded-For: its last
# entry is used, the one the proxy added); unset, the address of the connection.
FUSIONROOM_CLIENT_IP_HEADER = env_str("FUSIONROOM_CLIENT_IP_HEADER")

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without collectstatic (make run, tests), serve straight from the apps' and project's folders.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A share link's token is its key: no log line holds one (fusionroom/logs.py; Daphne's own
    # access log is redacted by `python -m fusionroom.serve`).
    "filters": {"share_tokens": {"()": "fusionroom.logs.RedactShareTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["share_tokens"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # One line per HTTP request to a model API is noise at INFO; DEBUG still shows it.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # runserver's request lines, "Not Found: /s/<token>/", and Daphne's own: redacted at the
        # logger too, so a handler added elsewhere gets the redacted line.
        **{
            name: {"filters": ["share_tokens"]}
            for name in ("django.channels.server", "django.request", "django.server", "daphne")
        },
    },
}

# --- Models and endpoints -------------------------------------------------------------
OPENROUTER_API_KEY = env_str("OPENROUTER_API_KEY")
OPENROUTER_BASE_URL = env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
# With no key there is nothing real to call: run on the loopback simulator, and say so.
FUSIONROOM_DEMO = env_bool("FUSIONROOM_DEMO", default=not OPENROUTER_API_KEY)
# Where the demo's simulator listens; 0 picks a free port.
FUSIONROOM_SIMULATOR_PORT = env_int("FUSIONROOM_SIMULATOR_PORT", 0)
FUSIONROOM_MAX_TOKENS = env_int("FUSIONROOM_MAX_TOKENS", 4096)
# Each its own failure state: connecting, the first token, a stall between tokens, the whole call.
FUSIONROOM_TIMEOUT_CONNECT = env_float("FUSIONROOM_TIMEOUT_CONNECT", 10.0)
FUSIONROOM_TIMEOUT_FIRST_TOKEN = env_float("FUSIONROOM_TIMEOUT_FIRST_TOKEN", 90.0)
FUSIONROOM_TIMEOUT_STALL = env_float("FUSIONROOM_TIMEOUT_STALL", 45.0)
FUSIONROOM_TIMEOUT_TOTAL = env_float("FUSIONROOM_TIMEOUT_TOTAL", 600.0)
# Attempts per call, counting the first, for faults that may pass (429, 5xx, connection errors).
FUSIONROOM_RETRY_ATTEMPTS = env_int("FUSIONROOM_RETRY_ATTEMPTS", 3)
# Web search for panel seats: searxng (self-hosted, recommended), brave or tavily. In demo mode
# without one, the simulator's own little web stands in.
FUSIONROOM_SEARCH_BACKEND = env_str("FUSIONROOM_SEARCH_BACKEND")
FUSIONROOM_SEARXNG_URL = env_str("FUSIONROOM_SEARXNG_URL")
FUSIONROOM_BRAVE_API_KEY = env_str("FUSIONROOM_BRAVE_API_KEY")
FUSIONROOM_TAVILY_API_KEY = env_str("FUSIONROOM_TAVILY_API_KEY")
# Server-wide: domains dropped from search results, and domains never fetched (subdomains too).
FUSIONROOM_EXCLUDED_DOMAINS = env_list("FUSIONROOM_EXCLUDED_DOMAINS", [])
FUSIONROOM_BLOCKED_DOMAINS = env_list("FUSIONROOM_BLOCKED_DOMAINS", [])
# A fusion run multiplies cost: limits per user, checked before any provider is called.
FUSIONROOM_MAX_PROMPT_CHARS = env_int("FUSIONROOM_MAX_PROMPT_CHARS", 100_000)
FUSIONROOM_MAX_THREAD_CHARS = env_int("FUSIONROOM_MAX_THREAD_CHARS", 400_000)
# What is read of an upstream, and what one model call may stream (README "Limits").
FUSIONROOM_MAX_ANSWER_CHARS = env_int("FUSIONROOM_MAX_ANSWER_CHARS", 200_000)
FUSIONROOM_MAX_REASONING_CHARS = env_int("FUSIONROOM_MAX_REASONING_CHARS", 200_000)
FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS = env_int("FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS", 20_000)
FUSIONROOM_MAX_ERROR_BODY_BYTES = env_int("FUSIONROOM_MAX_ERROR_BODY_BYTES", 64 * 1024)
FUSIONROOM_MAX_CATALOG_BYTES = env_int("FUSIONROOM_MAX_CATALOG_BYTES", 16 * 1024 * 1024)
for _limit in (
    "FUSIONROOM_MAX_ANSWER_CHARS",
    "FUSIONROOM_MAX_REASONING_CHARS",
    "FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS",
    "FUSIONROOM_MAX_ERROR_BODY_BYTES",
    "FUSIONROOM_MAX_CATALOG_BYTES",
):
    if globals()[_limit] < 1:
        raise ImproperlyConfigured(f"{_limit} must be at least 1.")
FUSIONROOM_MAX_CONCURRENT_RUNS = env_int("FUSIONROOM_MAX_CONCURRENT_RUNS", 3)
FUSIONROOM_MAX_RUNS_PER_MINUTE = env_int("FUSIONROOM_MAX_RUNS_PER_MINUTE", 10)
# Plain models' completions passed through the API (/v1): each is one model call, not a run of
# several, so they have limits of their own; the spend budgets hold for them all the same.
FUSIONROOM_MAX_CONCURRENT_CALLS = env_int("FUSIONROOM_MAX_CONCURRENT_CALLS", 16)
FUSIONROOM_MAX_CALLS_PER_MINUTE = env_int("FUSIONROOM_MAX_CALLS_PER_MINUTE", 120)
# Imports (chat/export.py), checked before anything is written: the defaults hold a long real
# conversation (a thousand turns of re-runs) and refuse files made to fill the database.
FUSIONROOM_MAX_IMPORT_BYTES = env_int("FUSIONROOM_MAX_IMPORT_BYTES", 20 * 1024 * 1024)
# An export nests about ten deep; deeper is a file built to exhaust the parser.
FUSIONROOM_MAX_IMPORT_DEPTH = env_int("FUSIONROOM_MAX_IMPORT_DEPTH", 32)
FUSIONROOM_MAX_IMPORT_TURNS = env_int("FUSIONROOM_MAX_IMPORT_TURNS", 1000)
FUSIONROOM_MAX_IMPORT_RUNS_PER_TURN = env_int("FUSIONROOM_MAX_IMPORT_RUNS_PER_TURN", 50)
# Turns, runs and seat answers together: the rows one import may write.
FUSIONROOM_MAX_IMPORT_ROWS = env_int("FUSIONROOM_MAX_IMPORT_ROWS", 20_000)
# Any one text of the file (an answer, its reasoning, a note, a source's title...).
FUSIONROOM_MAX_IMPORT_TEXT_CHARS = env_int("FUSIONROOM_MAX_IMPORT_TEXT_CHARS", 200_000)
# Any other list of the file (tool steps, sources, domains, an analysis's points).
FUSIONROOM_MAX_IMPORT_LIST_ITEMS = env_int("FUSIONROOM_MAX_IMPORT_LIST_ITEMS", 500)
# Imports and forks a user may make within the window (chat/import_limit.py).
FUSIONROOM_MAX_IMPORTS = env_int("FUSIONROOM_MAX_IMPORTS", 20)
FUSIONROOM_IMPORT_WINDOW_SECONDS = env_int("FUSIONROOM_IMPORT_WINDOW_SECONDS", 60 * 60)
# Imports and forks writing at once, server-wide; more wait their turn (chat/import_limit.py).
FUSIONROOM_CONCURRENT_IMPORTS = env_int("FUSIONROOM_CONCURRENT_IMPORTS", 1)
# Mark runs left "running" by a dead process as interrupted when this process starts serving.
FUSIONROOM_RECOVER_RUNS = env_bool("FUSIONROOM_RECOVER_RUNS", default=True)
FUSIONROOM_PUBLIC_URL = env_str("FUSIONROOM_PUBLIC_URL", "http://127.0.0.1:8000")
# Origins a run socket is accepted from besides its own request's scheme, host and port and
# CSRF_TRUSTED_ORIGINS (fusionroom/origins.py): by default the public URL, when it is set.
FUSIONROOM_SOCKET_ORIGINS = env_list(
    "FUSIONROOM_SOCKET_ORIGINS", [FUSIONROOM_PUBLIC_URL] if env_str("FUSIONROOM_PUBLIC_URL") else []
)
# Point demo mode at a simulator that is already running instead of starting one.
FUSIONROOM_SIMULATOR_URL = env_str("FUSIONROOM_SIMULATOR_URL")
# More OpenAI-compatible endpoints for everyone (Ollama, vLLM, Groq...): a JSON or TOML file
# and/or the same JSON inline; see README "Endpoints and keys". Parsed now: a bad file stops startup.
FUSIONROOM_EXTRA_ENDPOINTS = load_configured_endpoints(
    env_str("FUSIONROOM_ENDPOINTS_FILE"), env_str("FUSIONROOM_ENDPOINTS")
)
# Users' own endpoints (Settings): "off" (none, and stored ones are not used), "public" (only
# globally routable addresses, vetted on every connection, like web fetch), or "any" (loopback
# and private addresses too: a single-user install with its own Ollama). See SECURITY.md.
FUSIONROOM_USER_ENDPOINTS = env_choice("FUSIONROOM_USER_ENDPOINTS", USER_ENDPOINT_MODES, "public")

# --- Encryption of stored provider keys --------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put a new key first,
# run `manage.py rotate_encryption_keys`, then drop the old one).
FUSIONROOM_ENCRYPTION_KEYS = env_list("FUSIONROOM_ENCRYPTION_KEYS", [])
# Without the variable: keys from this file; development creates it on first use (mode 0600).
FUSIONROOM_ENCRYPTION_KEY_FILE = env_str(
    "FUSIONROOM_ENCRYPTION_KEY_FILE", str(BASE_DIR / "var" / "encryption.key")
)

# --- What production refuses to start without ------------------------------------------------
if not DEBUG:
    refuse_to_start_if(
        [
            secret_key_problem(SECRET_KEY),
            allowed_hosts_problem(ALLOWED_HOSTS),
            encryption_keys_problem(FUSIONROOM_ENCRYPTION_KEYS, Path(FUSIONROOM_ENCRYPTION_KEY_FILE)),
        ]
    )
