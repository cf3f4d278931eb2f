"""The one settings module. Everything that differs between machines is an environment
variable; the README has the table. Policy numbers live in compliance/policy.py."""

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
TESTING = "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Public URL of this app as Twilio reaches it: used for status-callback URLs and to
# check X-Twilio-Signature behind a proxy.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_rq",
    "axes",
    "accounts",
    "messaging",
    "messaging.automations",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.errors.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a login refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# Form labels without Django's trailing colon, in every form (config/forms.py).
FORM_RENDERER = "config.forms.Renderer"

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
                "accounts.context_processors.navigation",
                "compliance.context_processors.support_queues",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "compliance.templatetags.times",  # |local, |utc_and_local …: one rule for times
                "compliance.templatetags.carrier",  # |carrier_code: what an error code means
                "accounts.templatetags.roles",  # |role_label: role codes in words
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Connections per process on PostgreSQL: psycopg's pool, shared by the process's threads. The
# default maximum is the web server's threads per process (config/gunicorn.conf.py reads the same
# WEB_THREADS), so a request thread never waits for a free connection; DB_POOL_TIMEOUT is how
# long one would wait before failing — and how long every request waits for its 503 while the
# database cannot be reached (the pool has no connection to give): short, so a client sees the
# 503 + Retry-After rather than its own timeout (the fault drill measured 10 s a request at 10).
# DB_POOL_MAX_SIZE=0 turns the pool off (e.g. behind PgBouncer). Sizing: docs/ARCHITECTURE.md
# ("Connections").
DB_POOL_MIN_SIZE = int(os.environ.get("DB_POOL_MIN_SIZE", "1"))
DB_POOL_MAX_SIZE = int(os.environ.get("DB_POOL_MAX_SIZE", os.environ.get("WEB_THREADS", "4")))
DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "3"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    # Django refuses persistent connections with a pool: closing a connection returns it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
    }
    # A pool is per process: a forked child (an RQ work-horse) must not use the connections it
    # inherited from its parent's pool, whose sockets the parent still uses.
    from config import dbpool

    dbpool.forget_inherited_connections_after_fork()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker write while the web process reads; IMMEDIATE takes the write lock
    # at BEGIN so two writers queue up instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and RQ ---------------------------------------------------------------------------
EMBEDDED_REDIS_DIR = BASE_DIR / os.environ.get("EMBEDDED_REDIS_DIR", ".redis")
REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL:
    from config import embedded_redis

    REDIS_URL = embedded_redis.ensure_running(EMBEDDED_REDIS_DIR)

RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    # Lanes (messaging/dispatch.py): person-facing messages first, then bulk, campaign, workflow.
    "dispatch_person": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900},
    "dispatch": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900},
    # Outgoing webhook deliveries (messaging.webhooks_out): a queue and worker of their own, so a
    # slow receiver never delays sending. One attempt takes at most WEBHOOK_TIMEOUT_SECONDS.
    "webhooks": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},
}
# Our services enqueue explicitly with transaction.on_commit (STYLE: "enqueued only on commit"),
# so django-rq's own deferral (its default, "on_db_commit") is switched off to keep one mechanism.
RQ = {"COMMIT_MODE": "auto"}
RQ_SHOW_ADMIN_LINK = True

# --- Outgoing webhooks (issue 16; docs/API.md) ----------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
# A delivery is retried with backoff (30 s, 60 s, 120 s…) until this long after its first attempt;
# then it fails and its endpoint is disabled.
WEBHOOK_GIVE_UP_HOURS = float(os.environ.get("WEBHOOK_GIVE_UP_HOURS", "24"))
# Failed attempts in a row (any delivery of the endpoint; a 2xx resets the count) that disable it.
WEBHOOK_DISABLE_AFTER_FAILURES = int(os.environ.get("WEBHOOK_DISABLE_AFTER_FAILURES", "15"))
# …and only when those failures span this long (a receiver down for a minute is not turned off).
WEBHOOK_DISABLE_AFTER_FAILING_MINUTES = int(os.environ.get("WEBHOOK_DISABLE_AFTER_FAILING_MINUTES", "60"))
# CA certificates that receivers' certificates are checked against: empty = the bundle requests
# ships (certifi). A file or a directory, like requests' `verify`.
WEBHOOKS_CA_BUNDLE = os.environ.get("WEBHOOKS_CA_BUNDLE", "")
# Development only: endpoints on this machine (loopback, and plain http) are accepted.
WEBHOOKS_ALLOW_LOOPBACK = env_bool("WEBHOOKS_ALLOW_LOOPBACK")

# --- JSON API -------------------------------------------------------------------------------
# Request bodies larger than this get 413 (a contact with 50 tags and its consent is ~4 kB).
API_MAX_REQUEST_BYTES = int(os.environ.get("API_MAX_REQUEST_BYTES", str(64 * 1024)))

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Throttling -----------------------------------------------------------------------------
# Counted in Redis (accounts/throttle.py) so the limits hold across processes; the README has
# the operator's side (settings, unlocking a user). Twilio's webhooks are never throttled.

# Reverse proxies in front of the app (a load balancer: 1). The client address the throttles
# and lockouts count is then read from X-Forwarded-For, never trusted further than this.
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

# JSON API, per API key (messaging/throttle.py): a sustained rate and the most requests at
# once; 429 + Retry-After past them. 0 turns the limit off.
API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("API_RATE_LIMIT_PER_MINUTE", "600"))
API_RATE_LIMIT_BURST = int(os.environ.get("API_RATE_LIMIT_BURST", "60"))

# Password-reset emails (accounts/forms.py), per address and per client address: at most this
# many in a row, then this many an hour. Past that the page says the same as always (no account
# enumeration) and no email goes.
PASSWORD_RESET_EMAILS_PER_ADDRESS = int(os.environ.get("PASSWORD_RESET_EMAILS_PER_ADDRESS", "3"))
PASSWORD_RESET_EMAILS_PER_IP = int(os.environ.get("PASSWORD_RESET_EMAILS_PER_IP", "10"))

# Logins: django-axes. After LOGIN_FAILURE_LIMIT wrong passwords for one account from one
# address, that pair is locked out for LOGIN_LOCKOUT_MINUTES (the right password is refused
# too). Keyed by the pair, not the account alone, so nobody who merely knows an email address
# can lock its owner out, and colleagues behind one office address do not lock each other out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (it holds the email address)
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_RESET_ON_SUCCESS = True
# Tries during a lockout neither count nor extend it: "try again in 15 minutes" stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Only failed attempts are kept (they expire with the cool-off); a row per successful login
# would grow without end and nothing reads it.
AXES_DISABLE_ACCESS_LOG = True

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "compliance@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- SMS provider ---------------------------------------------------------------------------
# "simulator" (local carrier simulator), "twilio" (real SDK) or "memory" (tests).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "simulator")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "")
# The messaging service that A2P 10DLC campaigns are registered on (Twilio console → Messaging).
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
# Provider calls in flight per worker, and the size of a dispatch wave (re-checked before each).
SMS_MAX_CONCURRENCY = int(os.environ.get("SMS_MAX_CONCURRENCY", "100"))
# A claimed row whose heartbeat is older than this belongs to a dead worker (the sweep takes it back).
SMS_CLAIM_STALE_SECONDS = int(os.environ.get("SMS_CLAIM_STALE_SECONDS", "120"))
# "async" (aiohttp, one pool per process) or "sync" (requests in a thread pool).
TWILIO_HTTP_CLIENT = os.environ.get("TWILIO_HTTP_CLIENT", "async")
SMS_DISPATCH_BATCH = int(os.environ.get("SMS_DISPATCH_BATCH", "500"))
SMS_RETRY_BACKOFF_SECONDS = float(os.environ.get("SMS_RETRY_BACKOFF_SECONDS", "0.5"))
# The carrier simulator: seconds before its receipts, and the share of each outcome.
SIMULATOR_DELAY_SECONDS = float(os.environ.get("SIMULATOR_DELAY_SECONDS", "2"))
# How long the simulator's carrier reviewer takes to decide a 10DLC/toll-free registration.
SIMULATOR_REVIEW_SECONDS = float(os.environ.get("SIMULATOR_REVIEW_SECONDS", "10"))
SIMULATOR_RATES = json.loads(
    os.environ.get(
        "SIMULATOR_RATES",
        '{"30003": 0.02, "30004": 0.005, "30005": 0.01, "30006": 0.01, "30007": 0.01, "30008": 0.005, "stop": 0.005}',
    )
)

# Overrides of the policy defaults in compliance/policy.py, as JSON: {"RATE_MIN_VOLUME": 100}.
COMPLIANCE_POLICY = json.loads(os.environ.get("COMPLIANCE_POLICY", "{}"))

# --- I18N, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"
# The contacts list's bulk actions post up to 1,000 ticked ids (messaging.contacts.BULK_MAX)
# plus a few fields; Django's default of 1,000 fields answered such a post with a 400 page
# instead of the action or its "at most 1,000" message.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1_100

# --- Security (production: DEBUG off) -------------------------------------------------------
# Served over HTTPS unless told otherwise: plain HTTP only under DEBUG (make dev), in tests (the
# browser tests' server) and where HTTPS=0 says so (make run, on localhost).
_HTTPS = env_bool("HTTPS", not (DEBUG or TESTING))
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", _HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if _HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A session lasts a working day from login (Django's default is two weeks); a password change
# ends every other session of the user (Django's session auth hash).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE")
# The admin (and RQ's dashboard under it) at a path of the operator's choosing.
ADMIN_URL = (os.environ.get("ADMIN_URL", "").strip("/") or "admin") + "/"

# Content-Security-Policy of every response (config/csp.py), in the shape of Django 6.0's
# SECURE_CSP: our pages load scripts, styles, images and XHR only from this origin and run no
# inline script or style. htmx works under it (no eval: htmx's config in templates/base.html).
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# django-rq's dashboard (third-party, staff only) has inline scripts and styles of its own.
CSP_INLINE_ALLOWED_PATHS = ["/" + ADMIN_URL + "rq/"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
