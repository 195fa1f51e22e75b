"""Settings for ECR Portal, read from the environment (see `.env.example`).

Defaults run on a laptop: SQLite, the embedded simulator as provider, DEBUG on. Production sets
DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, ECR_ENCRYPTION_KEYS and (for several hosts)
REDIS_URL.
"""

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ecrportal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules or env_bool("ECR_TESTING", False)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "auditlog",
    "import_export",
    "stores",
    "transactions",
    "simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who changed a setting (issue 14 item 7): the signed-in person is the audit log's actor.
    "auditlog.middleware.AuditlogMiddleware",
    # After auth: an htmx request of an ended session leaves the page for the login page.
    "ecrportal.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ecrportal.middleware.ContentSecurityPolicyMiddleware",
    "ecrportal.middleware.PrivateNoStoreMiddleware",
]

ROOT_URLCONF = "ecrportal.urls"
WSGI_APPLICATION = "ecrportal.wsgi.application"
ASGI_APPLICATION = "ecrportal.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite so a fresh checkout runs with no server; DATABASE_URL (postgres://...) in production.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    # Tests run live-server threads whose kept-alive connections would block dropping the test
    # database; production keeps connections for a minute, checked before reuse (a restarted
    # server costs one failed request per thread at most). Each thread holds at most one: see
    # README "Scaling out" for the connections per process and host.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=0 if TESTING else 60, conn_health_checks=not TESTING
        )
    }
    # Behind pgbouncer in transaction mode a server-side cursor cannot outlive its transaction.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_PGBOUNCER", False)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Web, worker and the embedded simulator write concurrently: wait for the lock
            # instead of failing at once, and use WAL so readers never block the writer.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use a file too: the live server's threads (portal, simulator, htmx polls)
            # then wait for the lock like production does, where an in-memory database shared
            # between threads fails at once with "database table is locked".
            "TEST": {
                "NAME": str(Path(tempfile.gettempdir()) / f"ecrportal-test-{os.getpid()}.sqlite3")
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Deliberately no ATOMIC_REQUESTS: a provider call must never run inside a transaction.

# --- Cache ---------------------------------------------------------------------------------
# Two aliases. "default": locks, leases and login rate limits, keys that come and go. "pinned":
# the POS API's throttle windows and the provider tokens, a set bounded by the number of POS keys
# and credentials that must never be culled (a culled window lets a key past its rate, a culled
# token costs a token request). With REDIS_URL both live in Redis and every process shares them;
# without it, each alias has its own table (`manage.py createcachetable` creates both), so
# culling the default table never touches the pinned one, and both cull only past
# ECR_CACHE_MAX_ENTRIES (Django's default, 300, culled the throttle windows and the token once
# ~300 POS keys were active). ECR_CACHE_KEY_PREFIX separates deployments sharing one Redis.
# Tests never use a shell's REDIS_URL: they clear their cache, and a clear() on a shared Redis
# would wipe a database they did not create (Redis tests use REDIS_URL_FOR_TESTS and a prefix).
REDIS_URL = "" if TESTING else env_str("REDIS_URL", "")
CACHE_KEY_PREFIX = env_str("ECR_CACHE_KEY_PREFIX", "")
CACHE_MAX_ENTRIES = env_int("ECR_CACHE_MAX_ENTRIES", 100_000, minimum=300)
PINNED_CACHE = "pinned"
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    _redis: dict[str, Any] = {
        "BACKEND": "ecrportal.redis_cache.RedisCacheReusingClients",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
    }
    CACHES = {"default": _redis, PINNED_CACHE: dict(_redis)}
elif TESTING:
    # One in-memory store behind both aliases: a test that clears `cache` clears them all.
    _memory: dict[str, Any] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "ecr",
    }
    CACHES = {"default": _memory, PINNED_CACHE: dict(_memory)}
else:
    CACHES = {
        alias: {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": table,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES},
        }
        for alias, table in (("default", "ecr_cache"), (PINNED_CACHE, "ecr_cache_pinned"))
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# One login limit for every path that checks a password (dashboard and admin).
AUTHENTICATION_BACKENDS = ["transactions.dashboard.auth.RateLimitedModelBackend"]
LOGIN_URL = "login"
# Django's page for a whole request; for htmx, a fragment the page's problem bar shows.
CSRF_FAILURE_VIEW = "ecrportal.error_views.csrf_failure"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
if TESTING:
    # Hashing speed is irrelevant to what tests check; MD5 keeps the suite fast.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Locale ---------------------------------------------------------------------------------
# Spanish only: a browser asking for English still gets es-AR dates, numbers and texts.
LANGUAGE_CODE = "es-ar"
LANGUAGES = [("es-ar", "Español (Argentina)")]
TIME_ZONE = "America/Argentina/Buenos_Aires"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app folders directly in development and tests (no collectstatic needed).
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production) ------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "transactions.api.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"pos": env_str("ECR_API_THROTTLE_RATE", "600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ECR Portal POS API",
    "DESCRIPTION": "Create card payment intentions on Prisma/Payway ECR terminals, wait for "
    "their outcome, cancel, reverse, refund and close batches.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- django-q2 ------------------------------------------------------------------------------
# ORM broker by default (no extra server); Redis when REDIS_URL is set. Tasks are idempotent;
# timeout < retry so a task is never handed out twice while still running; attempts are finite.
Q_CLUSTER: dict[str, Any] = {
    "name": "ecrportal",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    # The sweeper task loops for 40 s; a last sweep whose reads all time out may add ~3 minutes.
    "timeout": 300,
    "retry": 330,
    "max_attempts": 5,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tareas",
    "sync": TESTING,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Portal ---------------------------------------------------------------------------------
ECR_ENCRYPTION_KEYS = env_list("ECR_ENCRYPTION_KEYS", "")
if not ECR_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("ECR_ENCRYPTION_KEYS must be set when DEBUG=0")
    # A fixed development key so demo data survives restarts; never used with DEBUG=0.
    ECR_ENCRYPTION_KEYS = ["ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE="]

ECR_SIMULATOR = env_bool("ECR_SIMULATOR", DEBUG)
if ECR_SIMULATOR and not DEBUG and not TESTING:
    raise ImproperlyConfigured("ECR_SIMULATOR=1 is refused when DEBUG=0: it is a test double")
# Where seed_demo points the demo credential (the simulator on this same server by default).
ECR_SIMULATOR_BASE_URL = env_str("ECR_SIMULATOR_BASE_URL", "http://127.0.0.1:8000/simulator")

# Hosts a credential may point at besides the provider's own (stores.validators.PROVIDER_HOSTS),
# which are the only ones accepted when DEBUG=0. A host listed here may also be loopback (the
# simulator run as its own process under DEBUG=0); private and link-local addresses never are.
ECR_PROVIDER_HOSTS = [host.lower().rstrip(".") for host in env_list("ECR_PROVIDER_HOSTS", "")]

ECR_GATEWAY_CONNECT_TIMEOUT_MS = env_int("ECR_GATEWAY_CONNECT_TIMEOUT_MS", 5000, minimum=1)
ECR_GATEWAY_READ_TIMEOUT_MS = env_int("ECR_GATEWAY_READ_TIMEOUT_MS", 15000, minimum=1)
ECR_MAX_AMOUNT = env_str("ECR_MAX_AMOUNT", "10000000.00")
ECR_POLL_CONCURRENCY = env_int("ECR_POLL_CONCURRENCY", 8, minimum=1)
# How often a watcher (POS long-poll, dashboard) re-reads the provider while it waits.
ECR_WATCH_INTERVAL_MS = env_int("ECR_WATCH_INTERVAL_MS", 500, minimum=100)
# Sweeper loops running at once across all workers and hosts.
ECR_SWEEPERS = env_int("ECR_SWEEPERS", 1, minimum=1)
ECR_SWEEPER_CHAIN = env_bool("ECR_SWEEPER_CHAIN", not TESTING)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
ECR_TRUSTED_PROXY_COUNT = env_int("ECR_TRUSTED_PROXY_COUNT", 0, minimum=0)

# E-mail: the daily settlement report goes to each store's owners and finance members. In
# development (DEBUG) it is printed to the console; in production it is sent through SMTP.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ECR Portal <reportes@localhost>")
# Minutes after a store's close hour before its day's report is kept and sent (the close runs
# within the next few minutes; later facts make a new revision).
ECR_REPORT_GRACE_MINUTES = env_int("ECR_REPORT_GRACE_MINUTES", 30, minimum=0)
ECR_VERSION = "1.0.0"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs full URLs at INFO; keep it quiet (URLs carry no secrets, but noise).
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
