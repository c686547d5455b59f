"""Django settings, read once from `SII_*` environment variables and an optional `.env` file.

Scan top to bottom: environment, security, database, Redis, job queue, Siisurit options, Django plumbing, logging.
Every variable is documented in README.md ("Configuration").
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from siisurit.environment import ENVIRONMENTS, ConfigurationError, Environment, env_file_path
from siisurit.redis_urls import redis_url_with_database
from siisurit.secrets import FERNET_KEY_COMMAND, is_fernet_key

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = Environment(env_file_path(BASE_DIR))

# --- Environment -----------------------------------------------------------------------------------------------
SII_ENVIRONMENT = ENV.str("SII_ENVIRONMENT", "local")
if SII_ENVIRONMENT not in ENVIRONMENTS:
    raise ConfigurationError(f"SII_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {SII_ENVIRONMENT!r}")
IS_LOCAL = SII_ENVIRONMENT == "local"
IS_PRODUCTION = SII_ENVIRONMENT == "production"
SII_DATA_DIR = Path(ENV.str("SII_DATA_DIR", str(BASE_DIR / ".siisurit")))

# --- Security --------------------------------------------------------------------------------------------------
_DEVELOPMENT_SECRET_KEY = "siisurit-development-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
# A fixed, public key so that local and CI data survive restarts; production must set its own.
_DEVELOPMENT_FERNET_KEY = "c2lpc3VyaXQtZGV2ZWxvcG1lbnQtb25seS1rZXktMDE="
if IS_PRODUCTION:
    SECRET_KEY = ENV.required("SII_SECRET_KEY", "in production (a long random string)")
    SII_FERNET_KEYS = ENV.list("SII_FERNET_KEYS")
    if not SII_FERNET_KEYS:
        raise ConfigurationError(f"SII_FERNET_KEYS must be set in production; make a key with: {FERNET_KEY_COMMAND}")
else:
    SECRET_KEY = ENV.str("SII_SECRET_KEY", _DEVELOPMENT_SECRET_KEY)
    SII_FERNET_KEYS = ENV.list("SII_FERNET_KEYS", [_DEVELOPMENT_FERNET_KEY])
# Checked now, not when the first token is encrypted deep inside a job. The message never shows the value.
_INVALID_FERNET_KEYS = [str(number) for number, key in enumerate(SII_FERNET_KEYS, 1) if not is_fernet_key(key)]
if _INVALID_FERNET_KEYS:
    raise ConfigurationError(
        f"SII_FERNET_KEYS: key number {', '.join(_INVALID_FERNET_KEYS)} (of {len(SII_FERNET_KEYS)}) is not a valid "
        f"Fernet key (32 url-safe base64-encoded bytes); make one with: {FERNET_KEY_COMMAND}"
    )
# Django's debug mode: error pages with tracebacks and settings, and every SQL statement rendered and kept by the
# connection (a tenth of a worker's CPU for a download that finds nothing new). Never in production.
DEBUG = ENV.bool("SII_DEBUG", IS_LOCAL)
if DEBUG and IS_PRODUCTION:
    raise ConfigurationError("SII_DEBUG must not be true in production: error pages would show settings and code")
_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
# Loopback names always: the container health check asks http://127.0.0.1:8000/healthz.
ALLOWED_HOSTS = [*ENV.list("SII_ALLOWED_HOSTS"), *_LOOPBACK_HOSTS]
CSRF_TRUSTED_ORIGINS = ENV.list("SII_CSRF_TRUSTED_ORIGINS")
if IS_PRODUCTION:
    # TLS ends at a reverse proxy in front of gunicorn: the request counts as HTTPS when the proxy says so in this
    # header (`X-Forwarded-Proto: https`). `none`: no proxy is trusted (then gunicorn must serve HTTPS itself, or
    # SII_SECURE_SSL_REDIRECT be off, or every request is redirected to an HTTPS address nothing serves).
    _proxy_ssl_header = ENV.str("SII_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    if _proxy_ssl_header.lower() != "none":
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
    SECURE_SSL_REDIRECT = ENV.bool("SII_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the health check speaks plain HTTP inside the container network
    SECURE_HSTS_SECONDS = ENV.int("SII_SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# `manage.py embedded_servers status|stop` inspects the embedded servers and must not start them by loading settings.
_MANAGES_EMBEDDED_SERVICES = sys.argv[1:2] == ["embedded_servers"]

# --- PostgreSQL ------------------------------------------------------------------------------------------------
USE_EMBEDDED_POSTGRES = IS_LOCAL and not ENV.is_set("SII_POSTGRES_HOST") and not _MANAGES_EMBEDDED_SERVICES
SII_POSTGRES_DATABASE = ENV.str("SII_POSTGRES_DATABASE", f"siisurit_{SII_ENVIRONMENT}")
if USE_EMBEDDED_POSTGRES:
    from siisurit.embedded import ensure_database, ensure_postgres

    _postgres = ensure_postgres(SII_DATA_DIR)
    ensure_database(_postgres, SII_POSTGRES_DATABASE)
    _postgres_host, _postgres_port = _postgres.host, str(_postgres.port)
    _postgres_username, _postgres_password = _postgres.user, _postgres.password
else:
    _postgres_host = ENV.str("SII_POSTGRES_HOST", "localhost")
    _postgres_port = ENV.str("SII_POSTGRES_PORT", "5432")
    _postgres_username = ENV.str("SII_POSTGRES_USERNAME", "postgres")
    _postgres_password = (
        ENV.required("SII_POSTGRES_PASSWORD", "in production") if IS_PRODUCTION else ENV.str("SII_POSTGRES_PASSWORD")
    )
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": SII_POSTGRES_DATABASE,
        "HOST": _postgres_host,
        "PORT": _postgres_port,
        "USER": _postgres_username,
        "PASSWORD": _postgres_password,
        # Persistent connections with a health check: long-lived workers reuse a connection and drop a dead one.
        "CONN_MAX_AGE": ENV.int("SII_POSTGRES_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
        # Parameters go to the server apart from the statement, and a statement run 5 times on a connection is
        # prepared: PostgreSQL parses and plans it once per connection instead of every time (a download that finds
        # nothing new runs a handful of statements, each planned anew; with client-side binding Python also quoted
        # every parameter into the text). Off (`false`) behind a connection pooler in transaction mode that does not
        # keep prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
        "OPTIONS": {
            "connect_timeout": 10,
            "server_side_binding": True,
            "prepare_threshold": 5 if ENV.bool("SII_POSTGRES_PREPARED_STATEMENTS", True) else None,
        },
    }
}
SII_POSTGRES_REPORT_USERNAME = ENV.str("SII_POSTGRES_REPORT_USERNAME")
SII_POSTGRES_REPORT_PASSWORD = ENV.str("SII_POSTGRES_REPORT_PASSWORD")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis -----------------------------------------------------------------------------------------------------
USE_EMBEDDED_REDIS = IS_LOCAL and not ENV.is_set("SII_REDIS_URL") and not _MANAGES_EMBEDDED_SERVICES
if USE_EMBEDDED_REDIS:
    from siisurit.embedded import ensure_redis

    SII_REDIS_URL = ensure_redis(SII_DATA_DIR)
else:
    SII_REDIS_URL = ENV.str("SII_REDIS_URL", "redis://localhost:6379/0")
# The download cache (siisurit/downloads/cache.py) lives in its own Redis database, apart from queued jobs.
SII_REDIS_CACHE_URL = ENV.str("SII_REDIS_CACHE_URL", redis_url_with_database(SII_REDIS_URL, offset=1))
if SII_REDIS_CACHE_URL == SII_REDIS_URL:
    raise ConfigurationError("SII_REDIS_CACHE_URL must name another Redis database than SII_REDIS_URL")

# --- Job queue -------------------------------------------------------------------------------------------------
SII_USE_ASYNC_QUEUE = ENV.bool("SII_USE_ASYNC_QUEUE", True)
SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS = ENV.int("SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS", 900, minimum=1)
# Downloads: retries in place of one request (siisurit/retry_policy.py) and limits (siisurit/connectors/limits.py).
SII_HTTP_ATTEMPTS = ENV.int("SII_HTTP_ATTEMPTS", 6, minimum=1)
SII_HTTP_RETRY_BACKOFF_IN_SECONDS = ENV.int("SII_HTTP_RETRY_BACKOFF_IN_SECONDS", 1, minimum=0)
SII_HTTP_RETRY_WAIT_MAX_IN_SECONDS = ENV.int("SII_HTTP_RETRY_WAIT_MAX_IN_SECONDS", 60, minimum=1)
SII_HTTP_REQUEST_BUDGET_IN_SECONDS = ENV.int("SII_HTTP_REQUEST_BUDGET_IN_SECONDS", 120, minimum=1)
SII_HTTP_MAX_RESPONSE_BYTES = ENV.int("SII_HTTP_MAX_RESPONSE_BYTES", 50_000_000, minimum=1024)
SII_DOWNLOAD_MAX_PAGES = ENV.int("SII_DOWNLOAD_MAX_PAGES", 10_000, minimum=1)
# The job runner the management commands use; `siisurit/` itself never imports Celery.
SII_JOB_RUNNER = "workers.dispatch.CeleryJobRunner" if SII_USE_ASYNC_QUEUE else "siisurit.jobs.InProcessJobRunner"
# Celery settings (namespace CELERY) are defined in workers/settings.py and merged here.
from workers.settings import celery_settings  # noqa: E402

globals().update(celery_settings(ENV, broker_url=SII_REDIS_URL, job_timeout=SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS))

# --- E-mail (the admin's password reset mails) -----------------------------------------------------------------
EMAIL_HOST = ENV.str("SII_EMAIL_HOST", "localhost")
EMAIL_USE_TLS = ENV.bool("SII_EMAIL_USE_TLS", IS_PRODUCTION)  # STARTTLS, as the submission port 587 expects
EMAIL_USE_SSL = ENV.bool("SII_EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigurationError("SII_EMAIL_USE_TLS (STARTTLS) and SII_EMAIL_USE_SSL (implicit TLS) exclude each other")
_DEFAULT_EMAIL_PORT = 465 if EMAIL_USE_SSL else {"local": 1033, "production": 587}.get(SII_ENVIRONMENT, 25)
EMAIL_PORT = ENV.int("SII_EMAIL_PORT", _DEFAULT_EMAIL_PORT, minimum=1, maximum=65535)
EMAIL_HOST_USER = ENV.str("SII_EMAIL_USERNAME")
EMAIL_HOST_PASSWORD = ENV.str("SII_EMAIL_PASSWORD")
EMAIL_TIMEOUT = 30  # seconds: an unreachable mail server must not hang the request that sends the mail
DEFAULT_FROM_EMAIL = SERVER_EMAIL = ENV.str("SII_EMAIL_FROM", "siisurit@localhost")

# --- Siisurit --------------------------------------------------------------------------------------------------
SII_UUID_HOST = ENV.int("SII_UUID_HOST", 0, minimum=0, maximum=32767)
SII_SENTRY_DSN = ENV.str("SII_SENTRY_DSN")
# Organization files and users CSVs above this size (or not regular files) are refused before reading.
SII_INPUT_FILE_LIMIT_IN_MEGABYTES = ENV.int("SII_INPUT_FILE_LIMIT_IN_MEGABYTES", 5, minimum=1, maximum=1024)
SII_INPUT_FILE_MAX_BYTES = SII_INPUT_FILE_LIMIT_IN_MEGABYTES * 1024 * 1024
# Bounds of rule patterns: one regular expression search in Python, one matching SQL statement in PostgreSQL.
SII_PATTERN_TIMEOUT_IN_MILLISECONDS = ENV.int("SII_PATTERN_TIMEOUT_IN_MILLISECONDS", 250, minimum=1)
SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS = ENV.int("SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS", 300, minimum=1)

# --- Django plumbing -------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "siisurit",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files under gunicorn without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]
ROOT_URLCONF = "siisurit.urls"
WSGI_APPLICATION = "siisurit.wsgi.application"
AUTH_USER_MODEL = "siisurit.User"
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
# --- Login lockout (django-axes) ---------------------------------------------------------------------------------
# After SII_LOGIN_FAILURE_LIMIT wrong passwords for one user from one address, that pair is locked out for
# SII_LOGIN_LOCKOUT_IN_MINUTES (a right password included); other users and addresses are not affected.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = ENV.bool("SII_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = ENV.int("SII_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=ENV.int("SII_LOGIN_LOCKOUT_IN_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Logging ---------------------------------------------------------------------------------------------------
SII_LOG_LEVEL = ENV.str("SII_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"job_context": {"()": "siisurit.logging_context.JobContextFilter"}},
    "formatters": {
        "standard": {"format": "%(asctime)s %(levelname)s %(name)s [job=%(job_id)s project=%(project)s] %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "standard", "filters": ["job_context"]},
    },
    "root": {"handlers": ["console"], "level": SII_LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}, "urllib3": {"level": "WARNING"}},
}

if SII_SENTRY_DSN:
    from siisurit.error_reporting import init_sentry

    init_sentry(dsn=SII_SENTRY_DSN, environment=SII_ENVIRONMENT)
