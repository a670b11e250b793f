"""Settings shared by every environment. Each integration is switched on by an environment
variable; with none set, everything runs on one machine without servers (SQLite in the data
dir, an in-memory channel layer, a filesystem Celery transport)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from datasources.kafka_config import security_config

BASE_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = BASE_DIR.parent
DATA_DIR = Path(os.environ.get("KAFKAML_DATA_DIR", REPO_DIR / ".kafkaml")).resolve()


def _private_dir(path: Path) -> Path:
    """Make ``path`` (and parents) and keep it 0700 when it is ours: it holds the database,
    logs, artifacts and the secret key, which no other local account may read."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o700)
    return path


_private_dir(DATA_DIR)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    # One secret per data dir, made on first start and kept there (0600 from the first byte).
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
        except FileExistsError:
            pass  # another process of this platform made it first
    SECRET_KEY = key_file.read_text().strip()

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "kafkaml.accounts",
    "kafkaml.catalog",
    "kafkaml.training",
    "kafkaml.inference",
    "kafkaml.workloads",
    "kafkaml.topics",
    "kafkaml.federated",
]

# CSP and X-Frame-Options sit above WhiteNoise: it answers `/` and the UI's files itself, and
# only the middleware above it sees those responses.
MIDDLEWARE = [
    # outermost: counts every request for /metrics (kafkaml.prometheus)
    "kafkaml.prometheus.PrometheusMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "kafkaml.urls"
ASGI_APPLICATION = "kafkaml.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'kafkaml.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes write (web, Celery, workers via the API): take the write lock at the
    # start of a transaction (no failing lock upgrades) and let readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_VALIDATION = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATION}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATION}.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": f"{_VALIDATION}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATION}.NumericPasswordValidator"},
]
SESSION_ENGINE = "kafkaml.accounts.authentication"
SESSION_COOKIE_AGE = int(os.environ.get("KAFKAML_SESSION_AGE", 60 * 60 * 12))
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# API tokens for people (django-rest-knox): only a SHA-512 digest is stored; each expires.
# The prefix lets secret scanners spot a leaked token and tells it from a service token.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own migrations would create its unused default table (knox_authtoken, with a foreign
# key to the users that blocks PostgreSQL's TRUNCATE in tests); the model is swapped out for
# accounts.ApiToken, so the app needs no migrations at all.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(os.environ.get("KAFKAML_TOKEN_TTL_DAYS", "30"))),
    "TOKEN_PREFIX": "kml_",
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
KAFKAML_TOKENS_PER_USER = 100
# None: single-user mode follows the sandbox (mlcode_executor.jail.capabilities()).
KAFKAML_SINGLE_USER_MODE: bool | None = None

# Request size caps. The ASGI app refuses a larger body before reading it (kafkaml.http_limits);
# the workers' artifact uploads (under /api/v1/worker/) get the larger cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("KAFKAML_MAX_BODY_BYTES", 2_621_440))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
KAFKAML_MAX_UPLOAD_BYTES = int(os.environ.get("KAFKAML_MAX_UPLOAD_BYTES", 4 * 1024**3))
KAFKAML_MAX_JSON_DEPTH = 64

# Content-Security-Policy (django-csp) on every response: the UI loads only its own scripts.
# Styles may be inline: CodeMirror and uPlot inject theirs at run time.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True, mode=0o700)
FRONTEND_DIST = REPO_DIR / "frontend" / "dist"
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.exists() else None
WHITENOISE_INDEX_FILE = True
# Static files of the apps (the API docs' Swagger UI) straight from the packages: no
# collectstatic step before `kafkaml up`.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("KAFKAML_ARTIFACTS_DIR", DATA_DIR / "artifacts"))
FILE_UPLOAD_PERMISSIONS = 0o600  # artifacts: for the platform's account only
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

REST_FRAMEWORK = {
    # Token first: a missing or bad credential is a 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kafkaml.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "kafkaml.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("KAFKAML_LOGIN_RATE", "5/min"),  # per username and address
        "login_address": os.environ.get("KAFKAML_LOGIN_ADDRESS_RATE", "60/min"),
        # new Kafka credentials (each one is an Admin API call to the cluster), per user
        "kafka_credentials": os.environ.get("KAFKAML_KAFKA_CREDENTIALS_RATE", "10/hour"),
    },
    # The client address is REMOTE_ADDR unless KAFKAML_NUM_PROXIES trusted proxies sit in
    # front (then X-Forwarded-For); without this, a forged header would dodge the throttle.
    "NUM_PROXIES": int(os.environ.get("KAFKAML_NUM_PROXIES", "0")),
    "DEFAULT_PAGINATION_CLASS": "kafkaml.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kafkaml.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kafka-ML API",
    "DESCRIPTION": "Define, train, deploy and watch ML models over Kafka data streams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "ResultStatusEnum": "kafkaml.training.models.ResultStatus",
        "InferenceStatusEnum": "kafkaml.inference.models.InferenceStatus",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache holds the login throttles' counters: shared by every web process through Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # Single web process: group messages stay inside it (workers report over REST to it).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = DATA_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "") == "1"
CELERY_BEAT_SCHEDULE = {
    "reconcile-workloads": {
        "task": "kafkaml.workloads.tasks.reconcile_workloads",
        "schedule": 10.0,
    },
    "worker-heartbeat": {"task": "kafkaml.workloads.tasks.heartbeat", "schedule": 10.0},
}

# Integrations
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
# True when KAFKA_BOOTSTRAP_SERVERS is the embedded Tansu broker (`kafkaml up` sets
# KAFKAML_EMBEDDED_BROKER=1 when it starts one): it cannot isolate aborted transactions, so
# exactly-once inference is refused there.
KAFKAML_EMBEDDED_BROKER = os.environ.get("KAFKAML_EMBEDDED_BROKER", "") == "1"
# librdkafka security settings from the variables every Kafka-ML client reads
# (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM/USERNAME/PASSWORD[_FILE], KAFKA_SSL_CA_LOCATION,
# KAFKA_SSL_CERT_LOCATION, KAFKA_SSL_KEY_LOCATION/PASSWORD); validated here, so a typo stops
# the start instead of every Kafka client failing later.
KAFKA_SECURITY = security_config()
# The address users' sinks should use, when it differs from the platform's own.
KAFKAML_PUBLIC_BOOTSTRAP_SERVERS = os.environ.get("KAFKAML_PUBLIC_BOOTSTRAP_SERVERS", "")
KAFKAML_CONTROL_TOPIC = os.environ.get("KAFKAML_CONTROL_TOPIC", "KAFKA_ML_CONTROL_TOPIC")
# Kafka principals (kafkaml.topics.principals): provisioned when the platform's own client
# speaks SASL_* (its principal must be a super user or hold ALTER on the CLUSTER). Users' and
# workloads' credentials are SCRAM ones made with this mechanism and iteration count.
KAFKAML_KAFKA_SCRAM_MECHANISM = os.environ.get("KAFKAML_KAFKA_SCRAM_MECHANISM", "SCRAM-SHA-512")
KAFKAML_KAFKA_SCRAM_ITERATIONS = int(os.environ.get("KAFKAML_KAFKA_SCRAM_ITERATIONS", "8192"))
KAFKAML_LAUNCHER = os.environ.get("KAFKAML_LAUNCHER", "local")
KAFKAML_BACKEND_URL = os.environ.get("KAFKAML_BACKEND_URL", "http://127.0.0.1:8000")
MLCODE_EXECUTOR_URL = os.environ.get("MLCODE_EXECUTOR_URL", "http://127.0.0.1:8001")
MLCODE_EXECUTOR_TIMEOUT = float(os.environ.get("MLCODE_EXECUTOR_TIMEOUT", "90"))
KAFKAML_WORKERS_PYTHON = os.environ.get("KAFKAML_WORKERS_PYTHON", "")  # default: this Python
# GPUs one user's running workloads may hold together (unset: no cap).
KAFKAML_MAX_GPUS_PER_USER = (
    int(os.environ["KAFKAML_MAX_GPUS_PER_USER"])
    if os.environ.get("KAFKAML_MAX_GPUS_PER_USER", "").strip()
    else None
)
# The most epochs (`epochs` / `max_epochs` in training_kwargs) one deployment may ask for.
KAFKAML_MAX_EPOCHS = int(os.environ.get("KAFKAML_MAX_EPOCHS", "").strip() or 1000)
# GET /metrics (kafkaml.prometheus): scrapers send "Authorization: Bearer <token>"; empty:
# only loopback clients are answered
KAFKAML_METRICS_TOKEN = os.environ.get("KAFKAML_METRICS_TOKEN", "")
# POST /api/v1/inferences/<id>/predict: the most rows one request may carry
KAFKAML_PREDICT_MAX_BATCH = int(os.environ.get("KAFKAML_PREDICT_MAX_BATCH", "").strip() or 1024)
HEARTBEAT_STALE_SECONDS = 45

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KAFKAML_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
