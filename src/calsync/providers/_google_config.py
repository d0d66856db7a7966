"""The keys of a ``provider = "google"`` account (its ``[[accounts]]`` table).

A light module (it imports only the config schema) so reading the config never
imports googleapiclient or google-auth; see "Adding a provider" in DEVELOPERS.md.
"""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
DEFAULT_PAGE_SIZE = 250
MAX_PAGE_SIZE = 2500

CONFIG_SECTION = Section(
    "google",
    repeated=True,
    help="A Google Calendar account (OAuth installed-app client).",
    keys=[
        Key(
            "client_id",
            KeyType.STR,
            help="OAuth client id.",
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
            "refresh_token_file",
            KeyType.PATH,
            secret=True,
            help="File holding the refresh token, plain or vault-encrypted (`fernet:...`).",
            example="google-refresh-token",
        ),
        Key(
            "vault_key_file",
            KeyType.PATH,
            secret=True,
            help="Fernet key file for an encrypted refresh token (default: the "
            "`calsync-vault-key` credential in $CREDENTIALS_DIRECTORY).",
            example="calsync-vault-key",
        ),
        Key(
            "calendars",
            KeyType.STR_LIST,
            help='Only sync these calendars (ids, names, or "primary").',
            example=["primary"],
        ),
        Key("token_uri", KeyType.URL, GOOGLE_TOKEN_URI, "OAuth token endpoint."),
        Key(
            "api_endpoint",
            KeyType.URL,
            help="Calendar API base URL including /calendar/v3/ (tests, proxies).",
            example="https://www.googleapis.com/calendar/v3/",
        ),
        Key(
            "ca_file",
            KeyType.PATH,
            help="CA bundle (PEM) to trust for token_uri and api_endpoint instead of the "
            "default public CA list (a TLS-intercepting proxy, a private endpoint); include "
            "the public roots too if either still needs them. Default: [providers.google] "
            "ca_file.",
            example="/etc/ssl/corporate-ca.pem",
        ),
        Key(
            "page_size",
            KeyType.INT,
            DEFAULT_PAGE_SIZE,
            "Events per events.list page.",
            minimum=1,
            maximum=MAX_PAGE_SIZE,
        ),
    ],
)
