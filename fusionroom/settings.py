"""Django settings, read from the environment with defaults that need no set-up."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from chat.endpoint_config import load_configured_endpoints
from fusionroom.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=True)
# A fixed development key keeps sessions valid across restarts; production must set its own.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
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
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and one writer work at once; the busy timeout waits out a
    # concurrent writer instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: the browser tests' server process must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", str(BASE_DIR / "test-db.sqlite3"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The in-memory layer needs nothing and serves one process; REDIS_URL switches to Redis
# so several web processes and run workers share events.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                # A fast stream produces many small frames: room for bursts, and old ones expire.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000),
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # One line per HTTP request to a model API is noise at INFO; DEBUG still shows it.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
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
FUSIONROOM_MAX_CONCURRENT_RUNS = env_int("FUSIONROOM_MAX_CONCURRENT_RUNS", 3)
FUSIONROOM_MAX_RUNS_PER_MINUTE = env_int("FUSIONROOM_MAX_RUNS_PER_MINUTE", 10)
# Mark runs left "running" by a dead process as interrupted when this process starts serving.
FUSIONROOM_RECOVER_RUNS = env_bool("FUSIONROOM_RECOVER_RUNS", default=True)
FUSIONROOM_PUBLIC_URL = env_str("FUSIONROOM_PUBLIC_URL", "http://127.0.0.1:8000")
# Point demo mode at a simulator that is already running instead of starting one.
FUSIONROOM_SIMULATOR_URL = env_str("FUSIONROOM_SIMULATOR_URL")
# More OpenAI-compatible endpoints for everyone (Ollama, vLLM, Groq...): a JSON or TOML file
# and/or the same JSON inline; see README "Endpoints and keys". Parsed now: a bad file stops startup.
FUSIONROOM_EXTRA_ENDPOINTS = load_configured_endpoints(
    env_str("FUSIONROOM_ENDPOINTS_FILE"), env_str("FUSIONROOM_ENDPOINTS")
)

# --- Encryption of stored provider keys --------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put a new key first,
# run `manage.py rotate_encryption_keys`, then drop the old one).
FUSIONROOM_ENCRYPTION_KEYS = env_list("FUSIONROOM_ENCRYPTION_KEYS", [])
# Without the variable: keys from this file; development creates it on first use (mode 0600).
FUSIONROOM_ENCRYPTION_KEY_FILE = env_str(
    "FUSIONROOM_ENCRYPTION_KEY_FILE", str(BASE_DIR / "var" / "encryption.key")
)
if not DEBUG and not FUSIONROOM_ENCRYPTION_KEYS and not Path(FUSIONROOM_ENCRYPTION_KEY_FILE).is_file():
    raise ImproperlyConfigured(
        "FUSIONROOM_ENCRYPTION_KEYS is not set and there is no key file at "
        f"{FUSIONROOM_ENCRYPTION_KEY_FILE}: with DEBUG off, FusionRoom will not invent an encryption "
        "key for stored provider keys. Generate one with "
        '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
    )
