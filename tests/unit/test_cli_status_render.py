"""`calsync status` layout (pure rendering; the store side is in test_cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.cli.status import NEVER, StatusRow, format_age, render_status

NOW = datetime(2026, 6, 27, 12, 0, tzinfo=UTC)


def test_no_rows_says_how_to_add_accounts() -> None:
    assert "[[accounts]]" in render_status([], now=NOW)


def test_columns_are_aligned_and_values_shown() -> None:
    rows = [
        StatusRow(
            "work",
            "memory",
            "Work",
            "cal_1",
            NOW - timedelta(minutes=3),
            NOW - timedelta(seconds=5),
            None,
        ),
        StatusRow("home-account", "caldav", None, None, None, None, "connection\nrefused"),
    ]
    lines = render_status(rows, now=NOW).splitlines()
    assert lines[0].split()[:2] == ["ACCOUNT", "PROVIDER"]
    # every column starts at the same offset on every line
    start = lines[0].index("LAST SYNC")
    assert lines[1][start:].startswith("2026-06-27 11:57:00Z (3m0s ago)")
    assert lines[2][start:].startswith(NEVER)
    assert "5s ago" in lines[1]
    # a multi-line error stays on its row
    assert lines[2].endswith("connection refused")
    assert len(lines) == 3


@given(st.integers(min_value=0, max_value=10**8))
def test_age_is_never_negative_and_mentions_ago(seconds: int) -> None:
    text = format_age(NOW - timedelta(seconds=seconds), NOW)
    assert text.endswith(" ago") and "-" not in text


def test_age_units() -> None:
    assert format_age(NOW - timedelta(seconds=59), NOW) == "59s ago"
    assert format_age(NOW - timedelta(hours=2, minutes=5), NOW) == "2h5m ago"
    assert format_age(NOW - timedelta(days=3, hours=1), NOW) == "3d1h ago"
    assert format_age(None, NOW) == NEVER
    # a clock skewed into the future reads as "now", not negative
    assert format_age(NOW + timedelta(seconds=30), NOW) == "0s ago"
