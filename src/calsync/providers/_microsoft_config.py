"""The keys of a ``provider = "microsoft"`` account (its ``[[accounts]]`` table).

Kept apart from `calsync.providers.microsoft` so that reading the config schema
never imports msal or the Graph client.
"""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

DEFAULT_AUTHORITY = "https://login.microsoftonline.com/common"
DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com/v1.0"
#: Large pages: a calendarView round lists every occurrence (a weekly series is 50 a
#: year), and each page is one request and one store batch (bench/graph_sync.py: 1,000
#: instead of 250 took 10,000 events' first sync from 76 requests to 22 and ~9 % less
#: CPU). Graph may send fewer than asked.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000

CONFIG_SECTION = Section(
    "microsoft",
    repeated=True,
    help="A Microsoft 365 / Outlook.com calendar account through Microsoft Graph.",
    keys=[
        Key(
            "client_id",
            KeyType.STR,
            help="Application (client) id of the app registration (default: "
            "[providers.microsoft] client_id, as for the other app keys).",
            required=True,
            example="8a7c3e0f-2b1d-4c59-9e6a-1f0b7d3c5a21",
        ),
        Key(
            "client_secret_file",
            KeyType.PATH,
            help="File holding the app registration's client secret.",
            secret=True,
            example="microsoft-client-secret",
        ),
        Key(
            "authority",
            KeyType.URL,
            help="The Microsoft identity platform authority (https only; msal refuses http). "
            f"Default: {DEFAULT_AUTHORITY}.",
            example=DEFAULT_AUTHORITY,
        ),
        Key(
            "graph_endpoint",
            KeyType.URL,
            help=f"Microsoft Graph base URL including the version. Default: "
            f"{DEFAULT_GRAPH_ENDPOINT}.",
            example=DEFAULT_GRAPH_ENDPOINT,
        ),
        Key(
            "ca_file",
            KeyType.PATH,
            help="CA bundle (PEM) to trust for the authority and Graph instead of the "
            "default public CA list (a corporate proxy, a local test server); include the "
            "public roots too if either still needs them. Default: [providers.microsoft] "
            "ca_file.",
            example="/etc/ssl/corporate-ca.pem",
        ),
        Key(
            "refresh_token_file",
            KeyType.PATH,
            secret=True,
            help="File holding the refresh token, plain or vault-encrypted (`fernet:...`).",
            example="microsoft-refresh-token",
        ),
        Key(
            "vault_key_file",
            KeyType.PATH,
            secret=True,
            help="Fernet key file for an encrypted refresh token and token cache (default: "
            "the `calsync-vault-key` credential in $CREDENTIALS_DIRECTORY).",
            example="calsync-vault-key",
        ),
        Key(
            "token_cache",
            KeyType.PATH,
            help="Where msal's token cache is kept, encrypted with the vault key, so a "
            "restart reuses the access token. Unset: kept in memory only.",
            example="/var/lib/calsync/microsoft-work.cache",
        ),
        Key(
            "calendars",
            KeyType.STR_LIST,
            help='Only sync these calendars (ids, names, or "primary" for the default one).',
            example=["Calendar"],
        ),
        Key(
            "page_size",
            KeyType.INT,
            DEFAULT_PAGE_SIZE,
            "Events per calendarView/delta page (Prefer: odata.maxpagesize) and series "
            "masters per page of their listing ($top); Graph may send fewer.",
            minimum=1,
            maximum=MAX_PAGE_SIZE,
        ),
    ],
)
