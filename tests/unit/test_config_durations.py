"""Durations: the config's text form and timedelta are two views of one value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.config import format_duration, parse_duration

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10_000))


@given(durations)
def test_format_then_parse_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(durations)
def test_formatted_text_is_canonical(value: timedelta) -> None:
    text = format_duration(value)
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("2d12h", timedelta(days=2, hours=12)),
        ("1.5h", timedelta(minutes=90)),
        ("0.1s", timedelta(milliseconds=100)),
        ("0s", timedelta(0)),
        (" 10m ", timedelta(minutes=10)),
    ],
)
def test_parse_examples(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "5", "m", "5 m", "-5m", "5x", "1m1m", "30s1m", "1h 30m", "0.5us", "1e3s"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(days=1, microseconds=5), "1d5us"),
    ],
)
def test_format_examples(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_format_refuses_negative() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(seconds=-1))
