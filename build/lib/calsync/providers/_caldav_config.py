"""The keys of a ``provider = "caldav"`` account (its ``[[accounts]]`` table)."""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

DEFAULT_MULTIGET_BATCH = 250

CONFIG_SECTION = Section(
    "caldav",
    repeated=True,
    help="A CalDAV account (Radicale, Nextcloud, Fastmail, iCloud, ...).",
    keys=[
        Key(
            "url",
            KeyType.URL,
            help="The CalDAV server or principal URL.",
            required=True,
            example="https://dav.example.com/",
        ),
        Key("username", KeyType.STR, help="Login name (HTTP basic auth).", example="alice"),
        Key(
            "password_file",
            KeyType.PATH,
            help="File holding the password.",
            secret=True,
            example="caldav-password",
        ),
        Key(
            "calendars",
            KeyType.STR_LIST,
            help="Only sync these calendars (display names or collection URLs/paths).",
            example=["Work"],
        ),
        Key(
            "multiget_batch",
            KeyType.INT,
            DEFAULT_MULTIGET_BATCH,
            "How many events one calendar-multiget REPORT fetches.",
            minimum=1,
            maximum=5000,
        ),
        Key(
            "sync_collection",
            KeyType.BOOL,
            True,
            "Use RFC 6578 sync-collection; false forces the ctag + etag comparison.",
        ),
        Key(
            "timeout",
            KeyType.DURATION,
            "5m",
            "How long to wait for the server's answer to one request (the read timeout; "
            "connecting is limited to 10s apart from it). Large calendars on slow servers "
            "take minutes to answer a first listing.",
            minimum=1,
            maximum=3600,  # an hour
        ),
    ],
)
