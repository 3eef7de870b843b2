"""Settings from the environment, one class per mode.

The mode comes from APP_ENV (development, production, testing). Production is
the default so that a forgotten variable fails closed rather than open.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE = BASE_DIR / "instance"

# Values people copy from examples; production refuses them.
WEAK_SECRET_KEYS = {
    "", "dev", "development", "secret", "secret-key", "secret_key", "changeme", "change-me", "please-change-me",
    "test", "testing", "your-secret-key", "replace-me", "xxx", "testing-secret-key-not-for-production",
}
MIN_SECRET_KEY_LENGTH = 16


class ConfigError(SystemExit):
    """Raised when the app must not start; SystemExit prints one line, no traceback."""


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value and value.strip() else default


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_site_url() -> str:
    """Where the site is served when SITE_URL is not set: HOST and PORT, as `make run` and gunicorn use them."""
    host = (os.environ.get("HOST") or "").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104  (listening everywhere: links still name this machine)
        host = "127.0.0.1"
    port = (os.environ.get("PORT") or "").strip() or "5000"
    return f"http://{host}:{port}"


def site_timezone(value: str | None) -> str:
    from zoneinfo import available_timezones

    zone = (value or "").strip() or "Europe/London"
    if zone not in available_timezones():
        raise ConfigError(f"Portico refuses to start: SITE_TIMEZONE={zone!r} is not an IANA time zone (e.g. Europe/Berlin).")
    return zone


class BaseConfig:
    APP_ENV = "production"
    DEBUG = False
    TESTING = False

    def __init__(self, instance_path: Path) -> None:
        env = os.environ.get
        self.SECRET_KEY = env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env("DATABASE_URL") or f"sqlite:///{instance_path / 'portico.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = self.engine_options(self.SQLALCHEMY_DATABASE_URI)

        self.MAIL_SERVER = env("MAIL_SERVER") or None
        self.MAIL_PORT = env_int("MAIL_PORT", 25)
        self.MAIL_USE_TLS = env_bool("MAIL_USE_TLS")
        self.MAIL_USE_SSL = env_bool("MAIL_USE_SSL")
        self.MAIL_USERNAME = env("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = env("MAIL_DEFAULT_SENDER") or "Portico <noreply@localhost>"
        self.MAIL_DIR = str(instance_path / "mail")
        self.CONSULTANT_EMAIL = env("CONSULTANT_EMAIL") or "linustribe@gmail.com"
        self.CONSULTANT_NAME = env("CONSULTANT_NAME") or "Linus Tribe"
        self.SITE_NAME = env("SITE_NAME") or "Portico"
        self.SITE_URL = (env("SITE_URL") or default_site_url()).rstrip("/")
        # The consultant's own zone: the post editor takes and shows publish times in it.
        self.SITE_TIMEZONE = site_timezone(env("SITE_TIMEZONE"))
        # The local hour (in SITE_TIMEZONE) from which `flask digest send` sends the day's digest.
        self.DIGEST_HOUR = min(max(env_int("DIGEST_HOUR", 7), 0), 23)

        self.RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI") or "memory://"
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        # Several sites (or test runs) may share one Redis: keep their counters apart.
        self.RATELIMIT_KEY_PREFIX = env("RATELIMIT_KEY_PREFIX") or "portico"

        # Fingerprinted, pre-compressed static files (web/static_build.py); None serves static/ as it is.
        self.STATIC_BUILD_DIR = env("STATIC_BUILD_DIR") or str(BASE_DIR / "static-build")

        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 64 * 1024)
        # Hosts the site answers for; empty means "the host of SITE_URL" (plus loopback in development).
        self.ALLOWED_HOSTS = [h.strip() for h in (env("ALLOWED_HOSTS") or "").split(",") if h.strip()]
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        self.PROXY_COUNT = env_int("PROXY_COUNT", 0)

        self.ADMIN_MAX_CONTENT_LENGTH = env_int("ADMIN_MAX_CONTENT_LENGTH", 1024 * 1024)  # long articles
        # An image uploaded in the editors: its file size, and its pixels (a small file can decode into
        # gigabytes: a decompression bomb). Only the upload routes accept a body this large.
        self.IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 10 * 1024 * 1024)
        self.IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 40_000_000)
        self.MAX_FORM_PARTS = 200  # more fields than any form has -> 413
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.SITE_URL.startswith("https://")
        # Over HTTPS the __Host- prefix pins the cookie to this exact host, Secure, path /.
        self.SESSION_COOKIE_NAME = "__Host-session" if self.SESSION_COOKIE_SECURE else "session"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # A signed-in session ends after this long without a request (the cookie is re-signed on each one).
        self.PERMANENT_SESSION_LIFETIME = env_int("SESSION_IDLE_MINUTES", 60) * 60
        self.SESSION_REFRESH_EACH_REQUEST = True
        # However busy, a signed-in session ends this long after sign-in (a cookie kept warm dies too).
        self.ADMIN_SESSION_MAX_HOURS = env_float("ADMIN_SESSION_MAX_HOURS", 12)
        # Sign-in attempts per client address (the /64 for IPv6) on the login form.
        self.ADMIN_LOGIN_RATE_LIMIT = env("ADMIN_LOGIN_RATE_LIMIT") or "5/minute"
        # Account security: how long an emailed password-reset link and an invitation to a new admin work,
        # and how many reset requests one client network may send.
        self.ADMIN_RESET_MINUTES = env_int("ADMIN_RESET_MINUTES", 30)
        self.ADMIN_INVITE_HOURS = env_int("ADMIN_INVITE_HOURS", 72)
        self.ADMIN_RESET_RATE_LIMIT = os.environ.get("ADMIN_RESET_RATE_LIMIT") or "5/hour"
        self.WTF_CSRF_TIME_LIMIT = None  # the session lifetime bounds the token
        self.PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (a hashing method, not a password)

        # Spam traps: submissions quicker than this are treated as bots.
        self.SPAM_MIN_SECONDS = env_int("SPAM_MIN_SECONDS", 3)
        # Seat hoarding: a pending booking the consultant has not confirmed lapses after this long.
        self.PENDING_BOOKING_HOURS = env_int("PENDING_BOOKING_HOURS", 72)
        # Card payment (Stripe Checkout): on only when both keys are set. The hold is the Checkout
        # Session's lifetime (Stripe allows 30 minutes to 24 hours).
        self.STRIPE_SECRET_KEY = (env("STRIPE_SECRET_KEY") or "").strip()
        self.STRIPE_WEBHOOK_SECRET = (env("STRIPE_WEBHOOK_SECRET") or "").strip()
        self.STRIPE_API_BASE = (env("STRIPE_API_BASE") or "").strip() or "https://api.stripe.com"
        # Where Checkout pages live: the payment page's form-action allows a redirect there, and nowhere else.
        self.STRIPE_CHECKOUT_ORIGIN = (env("STRIPE_CHECKOUT_ORIGIN") or "").strip() or "https://checkout.stripe.com"
        self.STRIPE_HOLD_MINUTES = min(max(env_int("STRIPE_HOLD_MINUTES", 30), 30), 1440)
        self.STRIPE_AUTO_REFUND = env_bool("STRIPE_AUTO_REFUND", False)
        # A client's "moved" notices wait this long in the outbox; a later move or cancel replaces them (one email).
        self.BOOKING_CHANGE_MAIL_HOLD_SECONDS = env_int("BOOKING_CHANGE_MAIL_HOLD_SECONDS", 120)
        # Outbox: a background thread delivers in the one-process default;
        # production runs `flask outbox deliver --loop` workers instead.
        self.OUTBOX_THREAD = env_bool("OUTBOX_THREAD", True)
        self.OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
        # A message left `sending` longer than this was being delivered by a worker that died.
        self.OUTBOX_CLAIM_TIMEOUT = env_int("OUTBOX_CLAIM_TIMEOUT", 600)
        self.OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 10)
        self.MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 30)
        # Automatic mail to an unverified address (acknowledgements, "booking received") per recipient:
        # beyond these, the enquiry or booking is stored and the consultant told, the address not mailed.
        self.AUTOMATIC_MAIL_PER_HOUR = env_int("AUTOMATIC_MAIL_PER_HOUR", 3)
        self.AUTOMATIC_MAIL_PER_DAY = env_int("AUTOMATIC_MAIL_PER_DAY", 10)

        # Render cache for anonymous visitors (web/page_cache.py): how long an entry may live (0 turns the
        # cache off), and how often a process re-reads the content version other processes may have bumped.
        self.PAGE_CACHE_SECONDS = env_float("PAGE_CACHE_SECONDS", 60 if self.APP_ENV == "production" else 0)
        self.PAGE_CACHE_CHECK_SECONDS = env_float("PAGE_CACHE_CHECK_SECONDS", 1)
        # Visit statistics (web/stats.py): on unless STATS_ENABLED=0; hits are written every STATS_FLUSH_SECONDS
        # (or once STATS_BATCH wait), counted per day and deleted after STATS_KEEP_DAYS.
        self.STATS_ENABLED = env_bool("STATS_ENABLED", True)
        self.STATS_FLUSH_SECONDS = env_float("STATS_FLUSH_SECONDS", 5)
        self.STATS_BATCH = env_int("STATS_BATCH", 500)
        self.STATS_KEEP_DAYS = env_int("STATS_KEEP_DAYS", 3)
        # Invoices and credit notes are kept as issued this many years after the end of their year (tax law;
        # the privacy page says so): an erasure request leaves them, `flask privacy purge` deletes them after.
        self.INVOICE_RETENTION_YEARS = max(env_int("INVOICE_RETENTION_YEARS", 10), 1)

    @staticmethod
    def engine_options(url: str) -> dict:
        if url.startswith("sqlite"):
            # How long a write waits for SQLite's lock: well below gunicorn's 30 s worker timeout, so a
            # request that waited still has time to answer (with the 503 page if the lock never came).
            return {"connect_args": {"timeout": env_float("SQLITE_BUSY_TIMEOUT", 20)}}
        return {
            "pool_pre_ping": True,
            "pool_size": env_int("DB_POOL_SIZE", 5),
            "max_overflow": env_int("DB_MAX_OVERFLOW", 5),
            "pool_recycle": env_int("DB_POOL_RECYCLE", 1800),
        }


class ProductionConfig(BaseConfig):
    pass


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"

    def __init__(self, instance_path: Path) -> None:
        super().__init__(instance_path)
        if not self.SECRET_KEY:
            self.SECRET_KEY = _development_secret(instance_path)
        if not os.environ.get("ALLOWED_HOSTS"):
            self.ALLOWED_HOSTS = []
        self.STATIC_BUILD_DIR = None  # edits to static/ show on reload


class TestingConfig(BaseConfig):
    APP_ENV = "testing"
    TESTING = True

    def __init__(self, instance_path: Path) -> None:
        super().__init__(instance_path)
        self.SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105  (production refuses it)
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.SQLALCHEMY_ENGINE_OPTIONS = self.engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.MAIL_SERVER = None
        self.RATELIMIT_ENABLED = False
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.WTF_CSRF_ENABLED = False
        self.SPAM_MIN_SECONDS = 0
        self.OUTBOX_THREAD = False
        self.STATIC_BUILD_DIR = None
        self.SITE_URL = "http://localhost"
        self.STATS_ENABLED = env_bool("STATS_ENABLED", False)  # tests that count turn it on
        self.STATS_FLUSH_SECONDS = 0
        self.SESSION_COOKIE_SECURE = False
        # Sign-in tests and the login fuzzer hash many passwords: scrypt would dominate their time.
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105


MODES = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def load_settings(instance_path: Path, mode: str | None = None) -> dict:
    mode = (mode or os.environ.get("APP_ENV") or "production").strip().lower()
    if mode not in MODES:
        raise ConfigError(f"Portico refuses to start: APP_ENV={mode!r} is not one of {', '.join(MODES)}.")
    config = MODES[mode](instance_path)
    settings = {k: getattr(config, k) for k in dir(config) if k.isupper()}
    return settings


def _development_secret(instance_path: Path) -> str:
    """A random key kept in instance/ so development sessions survive restarts."""
    path = instance_path / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def derive_settings(config) -> None:
    """Settings that follow from others once every override is in: Flask's URL building from SITE_URL.

    url_for(..., _external=True) then names the site's own host and scheme in emails, invites,
    feeds and the sitemap, whatever Host header a request came with.
    """
    site = urlsplit(config["SITE_URL"])
    config.setdefault("SERVER_NAME", None)
    if not config["SERVER_NAME"]:
        config["SERVER_NAME"] = site.netloc or "localhost"
    config["PREFERRED_URL_SCHEME"] = site.scheme or "http"
    config["APPLICATION_ROOT"] = site.path or "/"
    # The site's host name alone (no port): Message-IDs, calendar UIDs, the host check.
    config["SITE_HOST"] = (site.hostname or "localhost").lower()


def check_settings(config) -> None:
    """Refuse to run production with a guessable key, debug on, or CSRF protection off."""
    if config.get("APP_ENV") != "production":
        return
    key = config.get("SECRET_KEY") or ""
    if key.strip().lower() in WEAK_SECRET_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "Portico refuses to start: set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    if config.get("DEBUG") or env_bool("FLASK_DEBUG"):
        raise ConfigError("Portico refuses to start: debug mode is on in production.")
    if config.get("TESTING") or config.get("WTF_CSRF_ENABLED") is False:
        raise ConfigError("Portico refuses to start: testing mode or disabled CSRF protection in production.")
