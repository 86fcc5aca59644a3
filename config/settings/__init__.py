"""Settings, read only from the environment.

Development defaults need no server at all (SQLite and a file-system Celery broker under
``var/``). ``DJANGO_ENV=production`` turns every insecure default into a refusal to start:
see ``_refuse_insecure_production`` at the bottom.
"""

import datetime
import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# An empty variable counts as unset (``DATABASE_URL= make test`` means "the default").
for _name in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "EMAIL_URL"):
    if not env.ENVIRON.get(_name, "").strip():
        env.ENVIRON.pop(_name, None)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, production or test, not {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# Development-only values: production refuses to start while any of them is in use.
DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-it-in-production"
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE="
DEV_DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DEV_BROKER_URL = "filesystem://"

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys (url-safe base64, 32 bytes), comma-separated: the first encrypts, all decrypt,
# so a key can be rotated by putting the new one first.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[DEV_FIELD_ENCRYPTION_KEY])

INSTALLED_APPS = [
    # django-unfold frames the admin: its templates come before the admin's own.
    "unfold.apps.BasicAppConfig",  # the site is ours: config.admin.OpsAdminSite
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
    "modeltranslation",  # before the admin, which it extends
    "config.apps.OpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Index expressions with an operator class (the search's trigram and pattern indexes,
    # built on PostgreSQL only); its lookups are used nowhere, so SQLite runs as before.
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "django_countries",
    "import_export",
    "simple_history",
    "csp",
    "axes",
    "django_htmx",
    "core",
    "merchants",
    "loyalty",
    "catalog",
    "fulfillment",
    "customercare",
    "integrations",
    "portals",
    # After portals, whose templates restyle allauth's pages.
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.PathCSPMiddleware",
    "config.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin's times in the signed-in staff user's own zone (config.staff_time_zone).
    "config.staff_time_zone.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A staff user viewing a merchant's portal (merchants.view_as) writes nothing there.
    "portals.view_as.ViewAsReadOnlyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
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

# --- Database -------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=DEV_DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one SQLite file: WAL lets readers run beside the writer,
    # and IMMEDIATE transactions take the write lock up front instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction pooling, consecutive transactions of one connection
    # may run on different server connections: no cursor may outlive its transaction.
    # (Django's psycopg cursors bind parameters on the client, so no prepared statement
    # is left on a server connection either.)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DB_TRANSACTION_POOLING", default=False
    )

# The scheduled jobs that walk members in batches (release, expiry) hand them to this
# many threads, each with its own connection, so that Python builds one batch while
# PostgreSQL writes another (core.batches.batches_run); 1 runs them one after the other.
JOB_BATCH_THREADS = env.int("JOB_BATCH_THREADS", default=2)

# Reports read from a streaming replica of the primary when one is configured: a second
# alias that only the router (config.db_routers) and core.replica.reports_db() send reads
# to; see core/replica.py for which reads and why.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="").strip()
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    if not (
        DATABASES["default"]["ENGINE"]
        == DATABASES["replica"]["ENGINE"]
        == "django.db.backends.postgresql"
    ):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL must be a postgres:// URL, and DATABASE_URL too: "
            "the replica is a PostgreSQL standby of that primary."
        )
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # A replica that does not answer fails the report page quickly, not after minutes.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Tests create their database on the primary only; the standby replays it under the
    # same name by itself, so the alias keeps its own host and port and takes the test
    # database's name (that is all a test mirror changes), and is never created, migrated
    # or flushed. A test that reads the replica must commit (transaction=True) and wait
    # for the replay (core.replica.wait_for_replica).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# Off: report reads go back to the primary though a replica is configured.
REPORTS_READ_FROM_REPLICA = env.bool("REPORTS_READ_FROM_REPLICA", default=True)
DATABASE_ROUTERS = ["config.db_routers.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Auth, i18n, static -----------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Where Django's own ``login_required`` sends a visitor: the merchant portal's sign-in
# (allauth's account and MFA pages use it). The admin sends its visitors to its own
# ``/admin/login/`` whatever this says.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portals:dashboard"
# django-axes first: it refuses a locked-out username and address before the password
# is even checked (see "Sign-in lockout" below). Staff sign in to the admin by username
# (ModelBackend), merchant-portal users to the portal by email (allauth's backend).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
# The locales catalog texts (brands, rewards) can be written in; a member sees their own
# locale's text, falling back to English.
LANGUAGES = [
    ("en", "English"),
    ("fr", "French"),
    ("de", "German"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("nl", "Dutch"),
    ("pt", "Portuguese"),
    ("ja", "Japanese"),
    ("ar", "Arabic"),
]
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
TIME_ZONE = "UTC"
# English dates and times in the one format the admin uses everywhere (config/formats).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The project's own pages that belong to no app (the API docs page).
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Care ticket attachments: private, never under MEDIA_URL; served by views that check
# who may see the ticket.
CARE_ATTACHMENT_ROOT = Path(env.str("CARE_ATTACHMENT_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "care_attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(CARE_ATTACHMENT_ROOT), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email --------------------------------------------------------------------------------

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="loyalty@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Security -----------------------------------------------------------------------------

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Load balancers probe /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): every page may load only what this site serves,
# runs no inline script or style, cannot be framed, and posts its forms only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Sources added to that policy under a path prefix only (config.security.PathCSPMiddleware).
CONTENT_SECURITY_POLICY_RELAXATIONS = {
    "/admin/": {
        # Third-party admin templates write inline styles: django-unfold's pages and
        # simple-history's history page set style attributes.
        "style-src": [UNSAFE_INLINE],
        # django-unfold's pages run Alpine.js (served from its static files), whose
        # x-data and x-on attributes are expressions Alpine evaluates with Function():
        # that needs 'unsafe-eval', here and nowhere else. Inline scripts stay refused.
        # One inline script of a third-party page may run, by its exact hash and no other:
        # django-celery-beat's periodic task page script that spells out the chosen
        # crontab. A new version that changes it fails the admin's browser test.
        "script-src": [
            UNSAFE_EVAL,
            "'sha256-QE3U2xYF7B4J2ro1/9oxiKhaWCGW39gB7ocQ/xlD0bE='",
        ],
    },
    "/api/docs/": {
        # Swagger UI (drf-spectacular-sidecar, served from our static files) draws its icons
        # as data: SVG images, from its stylesheet and its script. Its initialising script
        # is a file too (SpectacularSwaggerSplitView), so scripts stay strict.
        "img-src": ["data:"],
    },
}
# Browser features no page uses, switched off for every page and whatever it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Sign-in lockout (django-axes), the admin's and the merchant portal's alike: after
# AXES_FAILURE_LIMIT wrong passwords for one username (the portal's: the email typed in)
# from one address, that pair is refused, right password included, for
# AXES_COOLOFF_MINUTES or until Operations unlock it (admin: Axes → Access attempts,
# delete the row; or ``manage.py axes_reset_username <name>``). Locking the pair, not the
# username alone, keeps an attacker from locking everyone else out. allauth's own counter
# of failed sign-ins is off (ACCOUNT_RATE_LIMITS below), so one rule and one unlock apply.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "config.security.lockout_response"
# allauth authenticates with ``email=``, the admin with ``username=``: both are the name.
AXES_USERNAME_CALLABLE = "config.security.signin_username"
AXES_VERBOSE = False  # no banner on every start; lockouts are still logged as warnings
# The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies that each
# append to X-Forwarded-For, the address the outermost one saw (core.client_address.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The garbage collector of web and worker processes (core/collector.py): allocations between two
# looks at the youngest generation; 0 keeps CPython's own settings.
GC_THRESHOLD = env.int("GC_THRESHOLD", default=10_000)
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_ip"


_RATE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}


def _rate(name: str, default: str, *, may_be_off: bool = False) -> tuple[int, int] | None:
    """A budget such as ``"20/min"`` or ``"10/10m"`` (10 in 10 minutes) as (count, seconds);
    empty is off (None) where ``may_be_off``."""
    text = env.str(name, default=default).strip()
    if not text and may_be_off:
        return None
    match = re.fullmatch(r"(\d+)\s*/\s*(\d*)\s*([a-z]+)", text)
    if (
        not match
        or int(match[1]) < 1
        or (match[2] and int(match[2]) < 1)
        or (match[3] not in _RATE_UNITS)
    ):
        raise ImproperlyConfigured(f"{name} must read like 20/min or 10/10m, not {text!r}.")
    return int(match[1]), int(match[2] or 1) * _RATE_UNITS[match[3]]


# The member pages whose link is the only credential take so many POSTs per link, counted
# in the cache (CACHE_URL: Redis in production, so every web process shares the count).
# The claim page: showing the code and the PDF voucher.
CLAIM_POST_RATE = _rate("CLAIM_POST_RATE", "10/10m")
# The care ticket page: the member's replies and rating.
CARE_TICKET_POST_RATE = _rate("CARE_TICKET_POST_RATE", "10/10m")

# --- Merchant portal sign-in (django-allauth, allauth.mfa) -------------------------------

# Portal users are invited by their merchant's owner or by Operations
# (merchants.services.team.portal_user_invite): there is no open sign-up, no social account,
# and the email is the one the invitation went to, so it is neither verified again nor
# changed in the portal.
ACCOUNT_ADAPTER = "portals.accounts.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_CHANGE_EMAIL = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# A shared office computer must not keep a merchant's figures open: never "remember me".
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# A reset asked for an address with no account sends nothing (invite-only: nobody to
# point to a sign-up), and the page says the same either way.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_RATE_LIMITS = {
    # Failed sign-ins are counted by django-axes (see "Sign-in lockout" above).
    "login_failed": None,
}
# An invitation's link and a password-reset link stay valid this long (Django's reset
# tokens, which allauth's use too).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_HOURS", default=72) * 3600
MFA_ADAPTER = "portals.accounts.PortalMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Adding or removing an authenticator and showing recovery codes ask for the password
# again (allauth's default, kept on purpose): a session left open is not enough.
MFA_REAUTHENTICATION_REQUIRED = True
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Loyalty merchant portal")
# Portal sessions end after PORTAL_SESSION_IDLE_MINUTES without a portal page, and
# PORTAL_SESSION_MAX_HOURS after sign-in whatever happens: the portal shows a merchant's
# customers' personal data, so a forgotten tab must not stay open for good (idle), and a
# stolen session cookie must not work for good either (absolute). One working day fits.
PORTAL_SESSION_IDLE_MINUTES = env.int("PORTAL_SESSION_IDLE_MINUTES", default=30)
PORTAL_SESSION_MAX_HOURS = env.int("PORTAL_SESSION_MAX_HOURS", default=10)
# Provider staff who may "view the portal as this merchant" (merchants.view_as) do so
# read-only, audited, for this long at most (then the portal ends it by itself).
PORTAL_VIEW_AS_MINUTES = env.int("PORTAL_VIEW_AS_MINUTES", default=30)
# Report snapshots (portals.snapshots): the snapshot job recomputes a dashboard period
# whose sources changed once its snapshot is REPORT_SNAPSHOT_REFRESH_SECONDS old; a page
# reads a changed snapshot while it is younger than REPORT_SNAPSHOT_MAX_LAG_SECONDS (the
# job is about to replace it) and computes the figures itself after that.
REPORT_SNAPSHOT_REFRESH_SECONDS = env.int("REPORT_SNAPSHOT_REFRESH_SECONDS", default=60)
REPORT_SNAPSHOT_MAX_LAG_SECONDS = env.int("REPORT_SNAPSHOT_MAX_LAG_SECONDS", default=120)

# --- Staff sign-in to the admin (config.staff_mfa) ---------------------------------------

# A second factor after the password: allauth.mfa's TOTP app and recovery codes, as the
# portal's owners have. Required in production unless set otherwise: every staff user then
# sets one up at their next sign-in, and the admin opens nothing else until they have.
# Off by default in development and the tests, where staff may set one up from the
# account menu ("Two-factor authentication"). Wrong codes count with wrong passwords
# towards the django-axes lockout above.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=PRODUCTION)

# --- Logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint and its font tools narrate every PDF at INFO, and WeasyPrint warns at
    # each screen-only rule of the design system the monthly report shares with the page.
    "loggers": {
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- API ------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.api.authentication.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["merchants.api.permissions.HasScopedAPIKey"],
    "DEFAULT_THROTTLE_CLASSES": ["merchants.api.throttling.APIKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "merchants.api.schema.StoreAPISchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Failed authentications (a bad or missing API key) allowed per client address and window
# ("20/min"; empty turns it off); past it the address gets 429, correct key or not, until
# the window ends. The address is counted as TRUSTED_PROXY_COUNT says.
API_AUTH_FAILURE_RATE = _rate("API_AUTH_FAILURE_RATE", "20/min", may_be_off=True)
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_FORMATTER_CLASS": "core.api.errors.ProblemFormatter",
    "EXCEPTION_HANDLER_CLASS": "core.api.errors.ProblemHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty store API",
    "DESCRIPTION": (
        "The contract stores build against: members, orders, refunds, activities, rewards, "
        "redemptions and care tickets. Authenticate with `Authorization: Bearer <key>`. "
        "Every error is an RFC 9457 problem document (`application/problem+json`) with a "
        "stable `code` and, for invalid input, the offending fields in `errors`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No online validator badge: it would load an image from swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LedgerEntryKindEnum": "loyalty.models.ledger.LedgerEntryKind",
        "ActivityKindEnum": "loyalty.models.orders.ActivityKind",
        "MemberStatusEnum": "loyalty.models.member.MemberStatus",
        "CountryEnum": "core.api.fields.country_codes",
    },
}

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=DEV_BROKER_URL)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # With acks_late a task unacknowledged this long is redelivered: keep it above the
    # longest task (Redis' default of one hour is the floor we accept).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=4.0)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Exchange-rate CSV files are dropped here and imported by ``catalog.refresh_exchange_rates``
# (into processed/ or rejected/ beside them); a rate in use older than the maximum age alerts.
EXCHANGE_RATE_DROP_DIR = Path(env.str("EXCHANGE_RATE_DROP_DIR", default=str(VAR_DIR / "rates")))
EXCHANGE_RATE_MAX_AGE_HOURS = env.int("EXCHANGE_RATE_MAX_AGE_HOURS", default=48)

# --- Product --------------------------------------------------------------------------------

# How long a stored Idempotency-Key response is replayed.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

PROVIDER_NAME = env.str("PROVIDER_NAME", default="Loyalty Operations")
# The provider's mark in the admin's header: a URL or a static path; our own by default.
PROVIDER_MARK_URL = env.str("PROVIDER_MARK_URL", default="")
# The label in the admin's header that tells one deployment from another: production
# (red), staging (amber), demo or development (blue).
ENVIRONMENT_LABEL = env.str("ENVIRONMENT_LABEL", default=DJANGO_ENV)
# The provider as its invoices name it. The address is written with "|" between its lines.
PROVIDER_LEGAL_NAME = env.str("PROVIDER_LEGAL_NAME", default="Loyalty Operations B.V.")
PROVIDER_ADDRESS = env.str("PROVIDER_ADDRESS", default="Herengracht 100|1015 BS Amsterdam")
PROVIDER_COUNTRY = env.str("PROVIDER_COUNTRY", default="NL").upper()
PROVIDER_TAX_ID = env.str("PROVIDER_TAX_ID", default="NL000099998B57")
# Days between an invoice's issue and its due date.
INVOICE_PAYMENT_DAYS = env.int("INVOICE_PAYMENT_DAYS", default=30)
# Where members open links the back office sends them (the reward claim page).
DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=DEV_PUBLIC_BASE_URL).rstrip("/")
# A worker that has not beaten for this long is reported as stale by /healthz.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=300)

# The admin's frame (django-unfold): the provider's name and mark, the environment label,
# and the sidebar, which config.admin.OpsAdminSite builds from config.navigation.
UNFOLD = {
    "SITE_TITLE": f"{PROVIDER_NAME} back office",
    "SITE_HEADER": PROVIDER_NAME,
    "SITE_SUBHEADER": "Operations",
    "SITE_ICON": "config.admin.provider_mark",
    "SITE_URL": "/admin/",
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "config.admin.environment_label",
    "ENVIRONMENT_TITLE_PREFIX": "config.admin.environment_title_prefix",
    "STYLES": ["config.admin.ops_styles", "config.admin.ops_page_styles"],
    # One search box on every page (config.search): the sidebar's, a form that works
    # without JavaScript and opens the command palette (Ctrl+K) with it. The palette keeps
    # no history: it would leave members' emails and phones in the browser's storage.
    "SIDEBAR": {"show_search": True, "command_search": True, "show_all_applications": False},
    "COMMAND": {
        "search_callback": "config.search.search",
        "search_models": False,
        "show_history": False,
    },
    # The account menu: these replace unfold's own "Change password" link, so it is kept.
    "ACCOUNT": {
        "navigation": [
            {"title": "Change password", "link": "config.staff_mfa.password_change_link"},
            {"title": "Two-factor authentication", "link": "config.staff_mfa.account_link"},
            {"title": "Time zone", "link": "config.staff_time_zone.account_link"},
        ],
    },
    "COLORS": {
        "primary": {
            "50": "oklch(97% .014 254.604)",
            "100": "oklch(93.2% .032 255.585)",
            "200": "oklch(88.2% .059 254.128)",
            "300": "oklch(80.9% .105 251.813)",
            "400": "oklch(70.7% .165 254.624)",
            "500": "oklch(62.3% .214 259.815)",
            "600": "oklch(54.6% .245 262.881)",
            "700": "oklch(48.8% .243 264.376)",
            "800": "oklch(42.4% .199 265.638)",
            "900": "oklch(37.9% .146 265.522)",
            "950": "oklch(28.2% .091 267.935)",
        },
    },
}


# Outbound webhooks (merchants.webhooks). Plain http only where DEBUG is on, unless set;
# loopback addresses only for a test receiver (config/settings/test.py).
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=DEBUG)
WEBHOOKS_ALLOW_LOOPBACK = env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=False)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=15.0)
WEBHOOKS_SECRET_OVERLAP_HOURS = env.int("WEBHOOKS_SECRET_OVERLAP_HOURS", default=24)
WEBHOOKS_LIVE_CACHE_SECONDS = 600
# How long before a lot expires the merchant's systems hear of it (points.expiring).
LOYALTY_EXPIRY_WARNING_DAYS = env.int("LOYALTY_EXPIRY_WARNING_DAYS", default=30)
# How many days before their points expire members are emailed, once at each threshold
# ("30,7": a month before, then a week before).
try:
    LOYALTY_EXPIRY_EMAIL_DAYS = sorted(
        {int(days) for days in env.list("LOYALTY_EXPIRY_EMAIL_DAYS", default=["30", "7"])},
        reverse=True,
    )
except ValueError:
    LOYALTY_EXPIRY_EMAIL_DAYS = []
if not LOYALTY_EXPIRY_EMAIL_DAYS or min(LOYALTY_EXPIRY_EMAIL_DAYS) < 1:
    raise ImproperlyConfigured("LOYALTY_EXPIRY_EMAIL_DAYS must list days of 1 or more, e.g. 30,7.")
# The member portal: how long a member's sign-in lasts, and how many sign-in emails one
# address (per merchant) and one client address may ask for in an hour.
MEMBER_SESSION_MAX_HOURS = env.int("MEMBER_SESSION_MAX_HOURS", default=12)
MEMBER_SIGNIN_EMAIL_RATE = (env.int("MEMBER_SIGNIN_EMAILS_PER_HOUR", default=5), 3600)
MEMBER_SIGNIN_IP_RATE = (env.int("MEMBER_SIGNIN_REQUESTS_PER_HOUR", default=30), 3600)
# How many tickets one member may open from the portal's Help pages in an hour.
MEMBER_TICKET_RATE = (env.int("MEMBER_TICKETS_PER_HOUR", default=5), 3600)
if (
    min(
        MEMBER_SESSION_MAX_HOURS,
        MEMBER_SIGNIN_EMAIL_RATE[0],
        MEMBER_SIGNIN_IP_RATE[0],
        MEMBER_TICKET_RATE[0],
    )
    < 1
):
    raise ImproperlyConfigured(
        "MEMBER_SESSION_MAX_HOURS, MEMBER_SIGNIN_EMAILS_PER_HOUR, "
        "MEMBER_SIGNIN_REQUESTS_PER_HOUR and MEMBER_TICKETS_PER_HOUR must be 1 or more."
    )
# A delivered code (the claim page, the PDF voucher) is opened from the portal only by a
# member who signed in this recently; others are asked to sign in again.
MEMBER_CODES_SIGNIN_MINUTES = env.int("MEMBER_CODES_SIGNIN_MINUTES", default=15)
if MEMBER_CODES_SIGNIN_MINUTES < 1:
    raise ImproperlyConfigured("MEMBER_CODES_SIGNIN_MINUTES must be 1 or more.")
# How long outbox events, their deliveries and attempts are kept (the delivery log, the
# changes feed). Longer than the expiry warning: an announced lot's event is what keeps it
# from being announced twice.
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=35)
if WEBHOOK_EVENT_RETENTION_DAYS <= LOYALTY_EXPIRY_WARNING_DAYS:
    raise ImproperlyConfigured(
        "WEBHOOK_EVENT_RETENTION_DAYS must be more than LOYALTY_EXPIRY_WARNING_DAYS "
        f"({LOYALTY_EXPIRY_WARNING_DAYS})."
    )


def _refuse_insecure_production() -> None:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        problems.append("SECRET_KEY must be set to a long random value")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        problems.append("SECRET_KEY must be at least 50 characters with 5 or more distinct ones")
    if DEV_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEY:
        problems.append("FIELD_ENCRYPTION_KEY must be set (the development key is public)")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the site's host names")
    if "DATABASE_URL" not in env.ENVIRON:
        problems.append("DATABASE_URL must be set (the SQLite default is for development)")
    if CELERY_BROKER_URL == DEV_BROKER_URL:
        problems.append("CELERY_BROKER_URL must point at Redis or RabbitMQ")
    if not (SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE):
        problems.append("SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE must be on")
    if not PUBLIC_BASE_URL.startswith("https://"):
        problems.append("PUBLIC_BASE_URL must be the site's https:// address")
    if WEBHOOKS_ALLOW_LOOPBACK:
        problems.append("WEBHOOKS_ALLOW_LOOPBACK must be off (it is for the tests)")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start in production with insecure settings: " + "; ".join(problems)
        )


if PRODUCTION:
    _refuse_insecure_production()

# --- Job runs -------------------------------------------------------------------------------

# How many days each run of a job (core.JobRun: who started it, outcome, rows, error) is
# kept; the daily "Prune job runs" job deletes older ones. Two months: a monthly job's last
# run is still there when the next one is due (the admin's and the Home page's last run).
JOB_RUNS_KEEP_DAYS = env.int("JOB_RUNS_KEEP_DAYS", default=60)
if JOB_RUNS_KEEP_DAYS < 1:
    raise ImproperlyConfigured("JOB_RUNS_KEEP_DAYS must be 1 or more.")
