"""Cadre settings, read from environment variables (each one is listed in README.md).

Defaults give the embedded run: SQLite file, Celery tasks executed in-process, local-memory
cache. Production sets ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "tasks_app",
    "workforce",
    "quality",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cadre.middleware.BodyTooLargeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cadre.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "cadre.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cadre" / "templates"],
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
WSGI_APPLICATION = "cadre.wsgi.application"

# --- database -------------------------------------------------------------------------
# the annotation loop's raw-SQL statements are prepared once per connection (tasks_app/services/sql.py)
DB_PREPARE_HOT_STATEMENTS = env_bool("DB_PREPARE_HOT_STATEMENTS", True)
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a persistent connection broken by a DB restart is replaced, not reused
    if env_bool("DB_SERVER_SIDE_BINDING", False):  # psycopg binds server-side and prepares repeated statements (issue 9: measured, off by default)
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: celery broker + cache -------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered; scoring is idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection after every task unless this is set: a new
# PostgreSQL backend per scored answer (bench/load.py measured ~1 connection per answer). Reuse it
# for up to 1000 tasks; Django's CONN_HEALTH_CHECKS still replaces a broken one.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
# Answers per scoring chunk: the coalesced drain (quality.score_pending) reads this many unscored
# answers at a time and scores each project's regular ones in one set-based transaction (its
# checks alone); a per-answer task (the sweep's) also takes up to this many waiting regular answers
# of its project with its own. Bounds how many item rows one scoring transaction holds locked.
# 0 = one answer per transaction. Issue 9, in-process (bench/scoring_cost.py --drain): 8 -> 4.3 ms,
# 32 -> 3.2 ms of Python CPU per answer.
CADRE_SCORING_BATCH = int(os.environ.get("CADRE_SCORING_BATCH", "32"))
# How long the scoring drain stays resident without a new answer (quality.services.drain): it waits
# on a Redis wake list (BLPOP) that every submit pushes to, so an answer committed meanwhile is
# read at once, with no Celery message; after this long without one it ends (clear, final read).
# 0 = ends at the first read that finds nothing (the next submit publishes a new drain). At most
# half the flag's TTL (5 s). While resident the drain holds one prefork process of the worker.
CADRE_DRAIN_IDLE_MS = float(os.environ.get("CADRE_DRAIN_IDLE_MS", "1000"))
# After a wake, the drain sleeps this long before it reads, so a stream's answers come in fewer,
# larger chunks (less worker CPU per answer) at the cost of up to this much latency each. 0 = read
# at once (BENCHMARKS.md "Scoring drain woken through Redis").
CADRE_DRAIN_GATHER_MS = float(os.environ.get("CADRE_DRAIN_GATHER_MS", "0"))
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# The test suite's worker listens on its own queue (tests/conftest.py sets CELERY_TEST_QUEUE): tasks
# that a task enqueues (batch certified → webhook sent) must go there too, not to the default queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TEST_QUEUE") or "celery"
# Redis down: a send gives up after ~1 s (3 attempts) instead of blocking the request;
# task_enqueue logs it and the sweep enqueues the answer later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE = {
    "sweep-unscored-answers": {
        "task": "quality.sweep_unscored",
        "schedule": timedelta(seconds=int(os.environ.get("SWEEP_SECONDS", "60"))),
    },
    "expire-leases": {
        "task": "tasks_app.expire_leases",
        "schedule": timedelta(seconds=60),
    },
    # issue 6: two-person conversations whose partner's page stopped polling
    "conversations-expire": {
        "task": "tasks_app.conversations_expire",
        "schedule": timedelta(seconds=30),
    },
    # issue 5: phases (pilot done, batch every N, complete), webhook retries, old idempotency keys
    "phases-advance": {
        "task": "tasks_app.phases_advance",
        "schedule": timedelta(seconds=int(os.environ.get("CADRE_PHASES_SECONDS", "60"))),
    },
    "webhooks-retry": {
        "task": "tasks_app.webhooks_retry",
        "schedule": timedelta(seconds=30),
    },
    "idempotency-keys-purge": {
        "task": "tasks_app.idempotency_keys_purge",
        "schedule": timedelta(hours=1),
    },
    "widen-invitations": {  # issue 3a: another wave where too few invited annotators accepted
        "task": "workforce.invitations_widen",
        "schedule": timedelta(seconds=int(os.environ.get("CADRE_INVITE_WIDEN_SECONDS", "3600"))),
    },
    "accrue-answer-earnings": {  # accepted answers -> pay ledger (workforce/services/pay.py)
        "task": "workforce.earnings_accrue",
        "schedule": timedelta(seconds=int(os.environ.get("CADRE_PAY_ACCRUE_SECONDS", "300"))),
    },
    "answer-model-retrain": {
        "task": "quality.answer_model_retrain",
        "schedule": timedelta(seconds=int(os.environ.get("ANSWER_MODEL_RETRAIN_SECONDS", "86400"))),
    },
    "audit-known-answers": {
        "task": "quality.audit_known_answers",
        "schedule": timedelta(seconds=int(os.environ.get("KNOWN_AUDIT_SECONDS", "3600"))),
    },
}
# Invite-only projects aim for this many accepted (or freshly invited) annotators at least.
CADRE_INVITE_TARGET = int(os.environ.get("CADRE_INVITE_TARGET", "20"))
# Email verification links: printed to the console unless another backend is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Cadre <no-reply@cadre.example>")
CADRE_EXPERT_ACCURACY = float(os.environ.get("CADRE_EXPERT_ACCURACY", "0.95"))
# A label-error suspect run starts by itself after a delivery batch's first certification when the
# batch has at least this many labelled items (and two labels with 5+ each); 0 = never.
CADRE_SUSPECTS_AUTO_MIN_ITEMS = int(os.environ.get("CADRE_SUSPECTS_AUTO_MIN_ITEMS", "50"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "cadre.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            # short timeouts: a Redis that is away must not hold requests up (cadre/cache.py)
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions: read from the cache (Redis), written through to the database, so the hot path (next task,
# submit) does not query django_session on every request; a Redis that is away falls back to the
# database (the cache fails open). The cached copy lives at most CADRE_SESSION_CACHE_SECONDS (cadre/sessions.py
# says why). The embedded run keeps plain database sessions. SESSION_ENGINE overrides.
SESSION_ENGINE = os.environ.get("SESSION_ENGINE") or ("cadre.sessions" if REDIS_URL else "django.contrib.sessions.backends.db")
CADRE_SESSION_CACHE_SECONDS = int(os.environ.get("CADRE_SESSION_CACHE_SECONDS", "300"))

# --- auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboards.staticfiles.PlotlyFinder",  # /static/vendor/plotly.min.js from the plotly wheel
]
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start when it is missing

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cadre.pagination.CustomerPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Per token (user) and per client IP (anonymous: schema and docs only; everything else
    # needs a token and is refused before throttling). Over the limit: 429 + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("CADRE_API_RATE_USER", "1200/min"),
        "anon": os.environ.get("CADRE_API_RATE_ANON", "60/min"),
        # Exports stream whole batches: a lower limit per token on top of "user".
        "exports": os.environ.get("CADRE_API_RATE_EXPORTS", "30/min"),
    },
    # Client IP = REMOTE_ADDR, or the address this many trusted proxies away in X-Forwarded-For.
    "NUM_PROXIES": int(os.environ.get("CADRE_NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cadre API",
    "DESCRIPTION": "Customer API of Cadre: projects with their labeling spec, items, progress and deliveries "
    "with an accuracy figure that carries its sample size and interval. Authenticate with "
    "`Authorization: Token <key>`.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cadre.schema_hooks.add_common_responses",  # 429 (throttles) and 503 (database down) everywhere
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "tasks_app.models.Project.Status",
        "ItemStatusEnum": "tasks_app.models.Item.Status",
        "ProjectPhaseEnum": "tasks_app.models.Project.Phase",
        "DeliveryKindEnum": "tasks_app.models.DeliveryBatch.Kind",
        "WebhookDeliveryStatusEnum": "tasks_app.models.WebhookDelivery.Status",
    },
}

# --- Cadre ----------------------------------------------------------------------------
# How long a task lease lasts before the item goes back to the pool.
CADRE_LEASE_SECONDS = int(os.environ.get("CADRE_LEASE_SECONDS", "600"))
# subjective projects: answers between an item and its hidden repeat (tasks_app.services.repeats)
CADRE_REPEAT_GAP = int(os.environ.get("CADRE_REPEAT_GAP", "10"))
# Largest request body accepted (bytes); item uploads above it get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CADRE_MAX_BODY_BYTES", str(20 * 1024 * 1024)))
# Login and sign-up limits (workforce/ratelimit.py): "<count>/<period>", e.g. "10/5m".
CADRE_LOGIN_RATE_USER = os.environ.get("CADRE_LOGIN_RATE_USER", "10/5m")  # failed logins per username
CADRE_LOGIN_RATE_IP = os.environ.get("CADRE_LOGIN_RATE_IP", "50/5m")  # failed logins per client IP
CADRE_SIGNUP_RATE_IP = os.environ.get("CADRE_SIGNUP_RATE_IP", "20/5m")  # sign-up attempts per client IP
CADRE_NUM_PROXIES = int(os.environ.get("CADRE_NUM_PROXIES", "0"))
# Webhooks (tasks_app.services.webhooks): per-attempt timeout and how long retries go on.
CADRE_WEBHOOK_TIMEOUT = float(os.environ.get("CADRE_WEBHOOK_TIMEOUT", "10"))
CADRE_WEBHOOK_RETRY_HOURS = float(os.environ.get("CADRE_WEBHOOK_RETRY_HOURS", "24"))
# Webhook URLs resolving to loopback/private/link-local addresses are refused in production
# (the sender must not reach Cadre's own network); allowed by default elsewhere (local receivers).
CADRE_WEBHOOK_ALLOW_PRIVATE = env_bool("CADRE_WEBHOOK_ALLOW_PRIVATE", not os.environ.get("CADRE_PRODUCTION"))
# Idempotency-Key: how long a key's response is kept for replay.
CADRE_IDEMPOTENCY_HOURS = float(os.environ.get("CADRE_IDEMPOTENCY_HOURS", "24"))
# Pay (workforce/services/pay.py): the default rate per accepted answer of a project without
# its own ProjectPay row, the currency, and the minimum effective hourly rate under which a
# project is flagged to ops (same currency; projects paying in another one are not compared).
CADRE_PAY_PER_ANSWER = os.environ.get("CADRE_PAY_PER_ANSWER", "0.05")
CADRE_PAY_CURRENCY = os.environ.get("CADRE_PAY_CURRENCY", "USD")
# Pay accrual (workforce.services.pay.earnings_accrue_all): each run walks the answers scored and
# items decided since the last run's start minus this overlap (longer than any scoring or
# decision transaction), and a full reconciliation walk runs every CADRE_PAY_SWEEP_HOURS.
CADRE_PAY_ACCRUE_OVERLAP_SECONDS = int(os.environ.get("CADRE_PAY_ACCRUE_OVERLAP_SECONDS", "600"))
CADRE_PAY_SWEEP_HOURS = float(os.environ.get("CADRE_PAY_SWEEP_HOURS", "24"))
# /ops/metrics: the decision-latency summary covers the answers scored in this trailing window
# (dashboards.selectors.metrics.decision_latency): the scrape reads the window, not the history.
# /ops/metrics counters: how far behind now their mark stays (dashboards.counters; an event must commit within it)
CADRE_METRICS_COUNTER_OVERLAP_SECONDS = int(os.environ.get("CADRE_METRICS_COUNTER_OVERLAP_SECONDS", "600"))
CADRE_METRICS_LATENCY_WINDOW_SECONDS = int(os.environ.get("CADRE_METRICS_LATENCY_WINDOW_SECONDS", "900"))
# Ops overview (/ops/overview/): projects a page, and how long a project's stored accuracy claim
# serves the overview before it is recomputed (dashboards.claims).
CADRE_OVERVIEW_PAGE_SIZE = int(os.environ.get("CADRE_OVERVIEW_PAGE_SIZE", "50"))
CADRE_OVERVIEW_CLAIM_SECONDS = int(os.environ.get("CADRE_OVERVIEW_CLAIM_SECONDS", "300"))
CADRE_MIN_HOURLY_RATE = os.environ.get("CADRE_MIN_HOURLY_RATE", "12.00")
# Timed answers a project needs before its hourly rate is judged against the minimum.
CADRE_MIN_RATE_ANSWERS = int(os.environ.get("CADRE_MIN_RATE_ANSWERS", "20"))
# Questions per qualifier sitting, drawn from the project's qualifier bank (all of it when smaller).
CADRE_QUALIFIER_DRAW = int(os.environ.get("CADRE_QUALIFIER_DRAW", "10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}

# Secret keys that must never run in production: this file's and docker-compose.yml's defaults.
INSECURE_SECRET_KEYS = {DEV_SECRET_KEY, "insecure-compose-default-set-SECRET_KEY"}

if os.environ.get("CADRE_PRODUCTION"):
    if SECRET_KEY in INSECURE_SECRET_KEYS or SECRET_KEY.startswith("django-insecure-"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "CADRE_PRODUCTION is set but SECRET_KEY is a development default: set SECRET_KEY to a long random "
            "value (e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )

if not DEBUG and os.environ.get("CADRE_PRODUCTION"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("CADRE_SSL_REDIRECT", True)  # off only when the proxy redirects itself
    # HSTS for a year. includeSubDomains on (HTTPS-only is the rule for the whole host;
    # CADRE_HSTS_INCLUDE_SUBDOMAINS=0 if a subdomain must stay on HTTP). preload is opt-in
    # (CADRE_HSTS_PRELOAD=1): it lets anyone submit the domain to the browsers' built-in
    # lists, which takes months to undo, so the operator decides, not a default.
    SECURE_HSTS_SECONDS = int(os.environ.get("CADRE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CADRE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("CADRE_HSTS_PRELOAD", False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_REFERRER_POLICY = "same-origin"
    SESSION_COOKIE_HTTPONLY = True
    if not SECURE_HSTS_PRELOAD:
        # check --deploy warns (security.W021) when preload is off: a decision, documented above.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
