"""The keys of a ``provider = "memory"`` account (its ``[[accounts]]`` table).

A light module (it imports only the config schema) so reading the config never
imports the provider; see "Adding a provider" in DEVELOPERS.md.
"""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

DEFAULT_CALENDARS = ("Calendar",)
DEFAULT_PAGE_SIZE = 100

CONFIG_SECTION = Section(
    "memory",
    repeated=True,
    help="An in-process remote for tests and demos; its data is lost when calsync exits.",
    keys=[
        Key(
            "backend",
            KeyType.STR,
            help="Name of the shared in-memory backend; defaults to the account name.",
            example="demo",
        ),
        Key(
            "calendars",
            KeyType.STR_LIST,
            list(DEFAULT_CALENDARS),
            "Calendars created in the backend when they do not exist yet.",
        ),
        Key(
            "page_size",
            KeyType.INT,
            DEFAULT_PAGE_SIZE,
            "Events per pull page.",
            minimum=1,
            maximum=100_000,
        ),
    ],
)
