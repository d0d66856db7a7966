"""The core schema: every key calsync itself understands, described once.

Providers add their own account keys (see `calsync.providers`); the loader
merges them into ``[[accounts]]`` tables by the account's ``provider``.
"""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

__all__ = [
    "ACCOUNT",
    "API",
    "CORE_SECTIONS",
    "GOOGLE_APP",
    "LOGGING",
    "MICROSOFT_APP",
    "NOTIFY",
    "PROVIDER_APP_SECTIONS",
    "STORE",
    "SYNC",
]

# Every number and duration has an upper bound too: a value that only overflows
# later (a sync window of a million days is before year 1) is refused by
# `calsync config check`, naming the key, instead of crashing a sync.
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY
#: Sync and rediscovery intervals.
MAX_INTERVAL = 30 * DAY
#: Ten years each way.
MAX_WINDOW_DAYS = 3650

STORE = Section(
    "store",
    help="Where calsync keeps its state.",
    keys=[
        Key(
            "url",
            KeyType.DATABASE_URL,
            "sqlite:///var/calsync.db",
            "Database URL: sqlite:///relative/or/absolute.db or "
            "postgresql+psycopg://user@host/db. A relative SQLite path is resolved "
            "against the directory of this config file (not the working directory). "
            "Never put a password in the URL; use password_file.",
        ),
        Key(
            "password_file",
            KeyType.PATH,
            help="File holding the database password, for servers that need one.",
            secret=True,
            example="db-password",
        ),
        Key(
            "history_retention",
            KeyType.DURATION,
            "30d",
            "How long finished history is kept: sent or abandoned notifications, "
            "consumed outbox rows and the change log (with each change's previous "
            "version). Pruned hourly; anything still pending is never pruned.",
            minimum=DAY,
            maximum=10 * YEAR,
        ),
        Key(
            "vault_key_file",
            KeyType.PATH,
            help="Fernet key file (one key per line, the first encrypts) for the provider "
            "credentials of accounts connected through /oauth/authorize. Default: the "
            "`calsync-vault-key` credential in $CREDENTIALS_DIRECTORY.",
            secret=True,
            example="calsync-vault-key",
        ),
    ],
)

API = Section(
    "api",
    help="The Cronofy-compatible HTTP API.",
    keys=[
        Key("listen", KeyType.LISTEN, "127.0.0.1:8080", "Address the HTTP API listens on."),
        Key(
            "base_url",
            KeyType.URL,
            help="Public URL of the API, used in pagination links and callbacks. "
            "Defaults to http://<listen>.",
            example="https://calsync.example.org",
        ),
        Key(
            "client_id",
            KeyType.STR,
            help="Client id applications authenticate with. Set it together with "
            "client_secret_file; without both, the client-credential endpoints "
            "(/oauth/token, /v1/application_calendars) are disabled and tokens come "
            "from `calsync token issue`.",
            example="calsync-local",
        ),
        Key(
            "client_secret_file",
            KeyType.PATH,
            help="File holding the client secret (also signs notifications). A relative "
            "name is looked up in $CREDENTIALS_DIRECTORY, then next to this file.",
            secret=True,
            example="api-client-secret",
        ),
        Key(
            "previous_client_secret_files",
            KeyType.STR_LIST,
            [],
            "Files holding earlier client secrets, looked up like client_secret_file. "
            "During a rotation notifications are signed with the current secret and "
            "each of these too, so receivers can switch at their own pace.",
            secret=True,
            example=["api-client-secret.old"],
        ),
        Key(
            "redirect_uris",
            KeyType.STR_LIST,
            [],
            "Where /oauth/authorize may send a user back (exact match). Loopback http URIs "
            "(127.0.0.1, localhost, [::1], any port) are always allowed.",
            example=["https://app.example.org/calendar/connected"],
        ),
        Key(
            "rate_limit_per_second",
            KeyType.INT,
            50,
            "Requests per second allowed per client before 429.",
            minimum=1,
            maximum=1_000_000,
        ),
        Key(
            "rate_limit_per_minute",
            KeyType.INT,
            500,
            "Requests per minute allowed per client before 429.",
            minimum=1,
            maximum=60_000_000,
        ),
        Key(
            "page_size", KeyType.INT, 100, "Events per page of /v1/events.", minimum=1, maximum=1000
        ),
        Key(
            "read_cache_mb",
            KeyType.INT,
            64,
            "Memory for rendered pages of /v1/events and /v1/free_busy, in MiB; 0 turns "
            "the cache off. A page is reused only while its account has not changed.",
            minimum=0,
            maximum=1_048_576,
        ),
        Key(
            "max_body_bytes",
            KeyType.INT,
            1_048_576,
            "Largest request body accepted, in bytes.",
            minimum=1024,
            maximum=1_073_741_824,
        ),
        Key(
            "access_token_ttl",
            KeyType.DURATION,
            "1h",
            "Lifetime of an access token issued by the API.",
            minimum=60,
            maximum=YEAR,
        ),
        Key(
            "chronary_prefix",
            KeyType.STR,
            "/chronary",
            "Path under which the Chronary-compatible API is served (point the chronary "
            "SDK's base_url at <base_url><prefix>); an empty value turns it off.",
            example="/chronary",
        ),
    ],
)

SYNC = Section(
    "sync",
    help="How and when calendars are synchronised.",
    keys=[
        Key(
            "interval",
            KeyType.DURATION,
            "5m",
            "Time between two syncs of a calendar.",
            minimum=1,
            maximum=MAX_INTERVAL,
        ),
        Key(
            "window_past_days",
            KeyType.INT,
            42,
            "Days before today that windowed providers sync.",
            minimum=0,
            maximum=MAX_WINDOW_DAYS,
        ),
        Key(
            "window_future_days",
            KeyType.INT,
            201,
            "Days after today that windowed providers sync.",
            minimum=1,
            maximum=MAX_WINDOW_DAYS,
        ),
        Key(
            "max_delete_fraction",
            KeyType.FLOAT,
            0.5,
            "A sync that would delete more than this fraction of a calendar's events "
            "is refused as a probable remote fault.",
            minimum=0.0,
            maximum=1.0,
        ),
        Key(
            "rediscover_interval",
            KeyType.DURATION,
            "1h",
            "Time between two listings of an account's calendars.",
            minimum=1,
            maximum=MAX_INTERVAL,
        ),
        Key(
            "lease_ttl",
            KeyType.DURATION,
            "60s",
            "PostgreSQL replicas: how long a replica owns a calendar's sync without "
            "renewing its lease (renewed every third of it); a dead replica's "
            "calendars move to the others after this long.",
            minimum=2,
            maximum=3600,
        ),
    ],
)

NOTIFY = Section(
    "notify",
    help="Push notifications (webhooks) to applications.",
    keys=[
        Key(
            "allow_private_callbacks",
            KeyType.BOOL,
            False,
            "Allow callback URLs on loopback and private networks (for development only).",
        ),
        Key(
            "debounce",
            KeyType.DURATION,
            "1s",
            "A channel's first change after a quiet period is sent at once; changes "
            "within this time after a notification wait for it to pass and are sent as one.",
            minimum=0,
            maximum=HOUR,
        ),
        Key(
            "verification_timeout",
            KeyType.DURATION,
            "5s",
            "How long a callback may take to answer.",
            minimum=0.001,
            maximum=5 * MINUTE,
        ),
    ],
)

LOGGING = Section(
    "logging",
    help="Log output (stderr). Secrets and tokens are always redacted.",
    keys=[
        Key("level", KeyType.LOG_LEVEL, "info", "One of debug, info, warning, error, critical."),
        Key(
            "format",
            KeyType.ENUM,
            "text",
            "text: one readable line per record; json: one JSON object per line.",
            choices=("text", "json"),
        ),
    ],
)

#: The keys every ``[[accounts]]`` table has, whatever its provider.
ACCOUNT = Section(
    "accounts",
    repeated=True,
    help="One [[accounts]] table per remote calendar account. Besides these keys, "
    "each provider has its own.",
    keys=[
        Key("name", KeyType.STR, help="Unique name of the account.", required=True, example="work"),
        Key("provider", KeyType.STR, help="Which provider syncs it.", required=True),
        Key(
            "interval",
            KeyType.DURATION,
            help="Overrides [sync] interval for this account.",
            minimum=1,
            maximum=MAX_INTERVAL,
            example="15m",
        ),
        Key(
            "conflict",
            KeyType.ENUM,
            "remote",
            "Who wins when both sides changed an event: the remote side or calsync.",
            choices=("remote", "local"),
        ),
        Key("enabled", KeyType.BOOL, True, "A disabled account is kept but not synced."),
    ],
)

GOOGLE_APP = Section(
    "providers.google",
    help="The Google OAuth client users connect their calendars with (/oauth/authorize, "
    "`calsync account add google`). Without this table Google is not offered.",
    keys=[
        Key(
            "client_id",
            KeyType.STR,
            help="OAuth client id (a web application client).",
            required=True,
            example="1234-abc.apps.googleusercontent.com",
        ),
        Key(
            "client_secret_file",
            KeyType.PATH,
            help="File holding the OAuth client secret.",
            secret=True,
            example="google-client-secret",
        ),
        Key(
            "auth_uri",
            KeyType.URL,
            "https://accounts.google.com/o/oauth2/v2/auth",
            "OAuth authorization endpoint.",
        ),
        Key(
            "token_uri", KeyType.URL, "https://oauth2.googleapis.com/token", "OAuth token endpoint."
        ),
        Key(
            "api_endpoint",
            KeyType.URL,
            "https://www.googleapis.com/calendar/v3/",
            "Calendar API base URL including /calendar/v3/.",
        ),
        Key(
            "ca_file",
            KeyType.PATH,
            help="CA bundle (PEM) to trust for Google's endpoints instead of the default "
            "public CA list (a TLS-intercepting proxy, tests); include the public roots too "
            "if an endpoint still needs them. Used by the connect flow and by the sync of "
            "every Google account (an [[accounts]] table's own ca_file wins).",
            example="/etc/ssl/certs/proxy-ca.pem",
        ),
    ],
)

MICROSOFT_APP = Section(
    "providers.microsoft",
    help="The Microsoft identity platform app users connect Microsoft 365 / Outlook "
    "calendars with. Without this table Microsoft is not offered.",
    keys=[
        Key(
            "client_id",
            KeyType.STR,
            help="Application (client) id of the app registration.",
            required=True,
            example="00000000-0000-0000-0000-000000000000",
        ),
        Key(
            "client_secret_file",
            KeyType.PATH,
            help="File holding the app's client secret.",
            secret=True,
            example="microsoft-client-secret",
        ),
        Key(
            "authority",
            KeyType.URL,
            "https://login.microsoftonline.com/common",
            "Identity authority (tenant): common, organizations, consumers or a tenant id.",
        ),
        Key(
            "graph_endpoint",
            KeyType.URL,
            "https://graph.microsoft.com/v1.0",
            "Microsoft Graph base URL, without a trailing slash.",
        ),
        Key(
            "ca_file",
            KeyType.PATH,
            help="CA bundle (PEM) to trust for the authority (msal) and Graph instead of the "
            "default public CA list (a TLS-intercepting proxy, tests); include the public "
            "roots too if either still needs them. Used by the sign-in and by the sync of "
            "every Microsoft account (an [[accounts]] table's own ca_file wins).",
            example="/etc/ssl/certs/proxy-ca.pem",
        ),
    ],
)

#: Optional ``[providers.<name>]`` tables: present means offered on /oauth/authorize.
PROVIDER_APP_SECTIONS: tuple[Section, ...] = (GOOGLE_APP, MICROSOFT_APP)

#: Single-table sections in file order.
CORE_SECTIONS: tuple[Section, ...] = (STORE, API, SYNC, NOTIFY, LOGGING)
