"""One settings module, driven by environment variables.

With no environment at all it runs the embedded default: SQLite, Celery tasks executed eagerly,
the offline rules agent. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and
DEBUG=0 (see README).
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-change-me-" + "x" * 20
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" + (",testserver" if DEBUG else ""))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "accounts",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "guardian",
    "agents",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

if not DEBUG:  # production serves collected static files itself; runserver does it in development
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "review.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that sends nothing while the connection is quiet.
    DATABASES["default"]["ENGINE"] = "backoffice.postgresql"
    # Server-side parameter binding. psycopg prepares only the statements that ask for it
    # (backoffice.sql.execute_prepared: the session read, the claim and the task reads behind every
    # action on a task, whose generic plans are the right ones); automatic
    # preparation stays off, as generic plans made the decision's compare-and-set UPDATE pick the
    # claimed_by index over the primary key (100 ms instead of 1 ms). Behind a pooler in
    # transaction mode, prepared statements need PgBouncer >= 1.21 with max_prepared_statements
    # set, or DB_SERVER_SIDE_BINDING=0 (no preparation at all).
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["server_side_binding"] = env_bool("DB_SERVER_SIDE_BINDING", True)
    if _db_options["server_side_binding"]:
        _db_options["prepare_threshold"] = 2**31 - 1  # never reached: only prepare=True prepares
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "backoffice.request_identity.UserBackend",  # Django's ModelBackend, one plain query per request
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object; every page needs a login anyway
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "review:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Intake
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Celery: eager unless a broker is configured, so the embedded default needs no Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool(
    "CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or "CELERY_BROKER_URL" in os.environ)
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Keep database connections across tasks (threads pool: one connection per thread) instead of
# reconnecting for every task; CONN_MAX_AGE and health checks still apply.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_TASK_ROUTES = {"review.tasks.triage_document": {"queue": "agents"}}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-documents": {"task": "review.tasks.requeue_stalled_documents", "schedule": 60.0},
    "checkpoint-trail": {"task": "review.tasks.checkpoint_trail", "schedule": 300.0},
    "release-expired-leases": {"task": "review.tasks.release_expired_leases", "schedule": 30.0},
}
# The drift guard: how often autonomous processes' audited accuracy is checked against their target.
CELERY_BEAT_SCHEDULE["drift-guard"] = {
    "task": "review.tasks.guard_against_drift",
    "schedule": float(os.environ.get("DRIFT_GUARD_SECONDS", "900")),
}
# A document still "processing" after this many seconds is assumed lost by its worker and re-queued.
TRIAGE_STALL_SECONDS = int(os.environ.get("TRIAGE_STALL_SECONDS", "600"))
# A reviewer's claim on a task lasts this long; the open review page renews it (heartbeat).
REVIEW_LEASE_SECONDS = int(os.environ.get("REVIEW_LEASE_SECONDS", "300"))
REVIEW_HEARTBEAT_SECONDS = int(os.environ.get("REVIEW_HEARTBEAT_SECONDS", "60"))

# The only environment variables an agent version may name as its API key: the provider reads no
# others, so no admin can have another server secret sent to an endpoint.
LLM_API_KEY_ENVS = env_list("LLM_API_KEY_ENVS", "OPENAI_API_KEY")

# LLM prices per 1,000 tokens, by model name (for cost per run). Override with LLM_PRICES_JSON.
LLM_PRICES = {
    "gpt-4o-mini": {"input_per_1k": Decimal("0.00015"), "output_per_1k": Decimal("0.0006")},
    "gpt-4o": {"input_per_1k": Decimal("0.0025"), "output_per_1k": Decimal("0.01")},
}
if os.environ.get("LLM_PRICES_JSON"):
    import json

    LLM_PRICES = {
        model: {key: Decimal(str(value)) for key, value in price.items()}
        for model, price in json.loads(os.environ["LLM_PRICES_JSON"]).items()
    }

# Security: production values when DEBUG is off (manage.py check --deploy stays clean).
SESSION_ENGINE = "backoffice.request_identity"  # Django's database sessions, one plain query per request
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"  # the original-file view alone allows same-origin framing (review screen)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "celery.app.trace": {"level": os.environ.get("CELERY_TRACE_LOG_LEVEL", "WARNING")},
        # the openai client logs every HTTP request at INFO; runs record their attempts themselves
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}

# Evaluation: reviewer minutes are costed at this hourly rate (fully loaded cost per document).
REVIEWER_HOURLY_RATE = Decimal(os.environ.get("REVIEWER_HOURLY_RATE", "30"))
