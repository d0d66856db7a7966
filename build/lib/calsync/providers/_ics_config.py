"""The keys of a ``provider = "ics"`` account (its ``[[accounts]]`` table).

A light module (it imports only the config schema) so reading the config never
imports the provider or httpx; see "Adding a provider" in DEVELOPERS.md.
"""

from __future__ import annotations

from calsync.config.schema import Key, KeyType, Section

CONFIG_SECTION = Section(
    "ics",
    repeated=True,
    help="A read-only iCalendar feed (an .ics subscription URL).",
    keys=[
        Key(
            "url",
            KeyType.STR,
            help="The feed URL (http, https or webcal).",
            required=True,
            example="https://example.com/team.ics",
        ),
        Key(
            "calendar_name",
            KeyType.STR,
            help="Name shown for the feed's calendar.",
            example="Team holidays",
        ),
        Key("username", KeyType.STR, help="Login for HTTP basic auth.", example="alice"),
        Key(
            "password_file",
            KeyType.PATH,
            help="File holding the basic-auth password.",
            secret=True,
            example="feed-password",
        ),
        Key(
            "bearer_token_file",
            KeyType.PATH,
            help="File holding a bearer token.",
            secret=True,
            example="feed-token",
        ),
        Key(
            "timeout",
            KeyType.DURATION,
            "30s",
            "Timeout of the feed download.",
            minimum=1,
            maximum=3600,  # an hour
        ),
    ],
)
