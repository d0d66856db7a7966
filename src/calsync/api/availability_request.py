"""``POST /v1/availability``: Cronofy's request body read into the core's `AvailabilityQuery`.

Every problem is reported at once (`Problems`), each under the path of the field it
concerns (``participants.0.members.1.sub``), in Cronofy's error shape. What is read:

* ``participants``: 1-10 groups of 1-50 members ``{sub, calendar_ids?,
  available_periods?, managed_availability?, availability_rule_ids?}`` and
  ``required`` (``"all"``, the default, or a number from 1 to the group's distinct members);
* ``required_duration {minutes}``: 1 to 1,440;
* ``query_periods`` (or its older name ``available_periods``, which pycronofy sends;
  never both) or ``query_slots``: 1-50 ``{start, end}`` / ``{start}``, each end after
  its start, all within 35 days of the earliest start;
* ``buffer {before?: {minutes}, after?: {minutes}}``: 0 to 1,440 each;
* ``start_interval {minutes}``: one of `START_INTERVALS` (default 30);
* ``response_format``: ``periods`` (default), ``slots`` or ``overlapping_slots``;
* ``max_results``: 1 to 512 (default 20).

Subs are resolved later (they need the store); this module is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from calsync.api.times import parse_instant
from calsync.api.validation import Problems
from calsync.availability import (
    AvailabilityQuery,
    Buffer,
    Interval,
    Member,
    ParticipantGroup,
    ResponseFormat,
)
from calsync.errors import ValidationError

#: Cronofy's start intervals, in minutes.
START_INTERVALS = (5, 10, 15, 20, 30, 45, 60)
DEFAULT_START_INTERVAL = 30
MAX_DURATION_MINUTES = 1440
MAX_BUFFER_MINUTES = 1440
MAX_PERIODS = 50
MAX_SPAN = timedelta(days=35)
MAX_GROUPS = 10
MAX_MEMBERS = 50
MAX_CALENDAR_IDS = 50
MAX_RULE_IDS = 50
MAX_ID_LENGTH = 255
DEFAULT_MAX_RESULTS = 20
MAX_MAX_RESULTS = 512


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """The core's query, plus what the store must be asked per member listing."""

    query: AvailabilityQuery
    #: sub -> the calendar ids its listings name (None: all its calendars). A sub listed
    #: twice with different calendar_ids is asked for the union (see `parse_availability`).
    calendar_ids: dict[str, tuple[str, ...] | None]
    #: The answer's key: ``available_periods`` for the ``periods`` format (also when
    #: ``query_slots`` are evaluated as slots: pycronofy picks the key by the format it
    #: sent), ``available_slots`` for the slot formats.
    answer_key: str
    #: sub -> the path of its first listing (``participants.0.members.1``), for errors.
    fields: dict[str, str]

    @property
    def subs(self) -> list[str]:
        return list(self.calendar_ids)


def _is_int(value: object) -> bool:
    """A JSON integer; ``12.0`` is one too (JSON Schema's ``integer`` says so)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _minutes(problems: Problems, value: object, field: str, low: int, high: int) -> int | None:
    """``{minutes: n}`` with ``low <= n <= high``."""
    if not isinstance(value, Mapping) or "minutes" not in value:
        problems.add(field, "errors.required", 'an object {"minutes": n}')
        return None
    minutes = value["minutes"]
    if not _is_int(minutes) or not low <= minutes <= high:
        problems.add(f"{field}.minutes", "errors.invalid", f"a whole number from {low} to {high}")
        return None
    return int(minutes)


def _instant(problems: Problems, value: object, field: str) -> datetime | None:
    if value is None:
        problems.add(field, "errors.required", "required")
        return None
    return problems.check(lambda: parse_instant(value, field))


def _periods(
    problems: Problems, value: object, field: str, *, with_end: bool = True
) -> list[tuple[datetime, datetime | None]] | None:
    """1-50 ``{start, end}`` (or ``{start}``), each end after its start."""
    if not isinstance(value, list) or not value:
        problems.add(field, "errors.required", f"a list of 1 to {MAX_PERIODS} periods")
        return None
    if len(value) > MAX_PERIODS:
        problems.add(field, "errors.too_many_periods", f"at most {MAX_PERIODS} periods")
        return None
    found: list[tuple[datetime, datetime | None]] = []
    for index, item in enumerate(value):
        where = f"{field}.{index}"
        if not isinstance(item, Mapping):
            problems.add(where, "errors.invalid", "an object with start and end")
            continue
        start = _instant(problems, item.get("start"), f"{where}.start")
        end = _instant(problems, item.get("end"), f"{where}.end") if with_end else None
        if start is None or (with_end and end is None):
            continue
        if end is not None and end <= start:
            problems.add(f"{where}.end", "errors.invalid", "the end must be after the start")
            continue
        found.append((start, end))
    return found


def _ids(problems: Problems, value: object, field: str, limit: int) -> tuple[str, ...] | None:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > limit
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_ID_LENGTH for v in value)
    ):
        problems.add(field, "errors.invalid", f"a list of 1 to {limit} ids")
        return None
    return tuple(dict.fromkeys(value))


def _flag(problems: Problems, value: object, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.add(field, "errors.invalid", "must be true or false")
        return False
    return value


def _member(
    problems: Problems,
    value: object,
    field: str,
    calendars: dict[str, tuple[str, ...] | None],
    fields: dict[str, str],
) -> Member | None:
    if isinstance(value, str):  # pycronofy's shorthand for {"sub": ...}
        value = {"sub": value}
    if not isinstance(value, Mapping):
        problems.add(field, "errors.invalid", "a member is an object with a sub")
        return None
    sub = value.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_ID_LENGTH:
        problems.add(f"{field}.sub", "errors.required", "the member's sub")
        return None
    calendar_ids: tuple[str, ...] | None = None
    if value.get("calendar_ids") is not None:
        calendar_ids = _ids(
            problems, value["calendar_ids"], f"{field}.calendar_ids", MAX_CALENDAR_IDS
        )
    periods: list[Interval] | None = None
    if value.get("available_periods") is not None:
        found = _periods(problems, value["available_periods"], f"{field}.available_periods")
        periods = [(s, e) for s, e in found or [] if e is not None]
    managed = _flag(problems, value.get("managed_availability"), f"{field}.managed_availability")
    rule_ids: tuple[str, ...] | None = None
    if value.get("availability_rule_ids") is not None:
        rule_ids = _ids(
            problems, value["availability_rule_ids"], f"{field}.availability_rule_ids", MAX_RULE_IDS
        )
    # One store read per sub: a sub listed with different calendar_ids reads the union
    # of them (None, all calendars, absorbs any list).
    fields.setdefault(sub, field)
    if sub in calendars:
        known = calendars[sub]
        if known is not None:
            calendars[sub] = None if calendar_ids is None else (*known, *calendar_ids)
    else:
        calendars[sub] = calendar_ids
    return Member(
        sub,
        available_periods=None if periods is None else tuple(periods),
        managed_availability=managed,
        availability_rule_ids=rule_ids,
    )


def _group(
    problems: Problems,
    value: object,
    field: str,
    calendars: dict[str, tuple[str, ...] | None],
    fields: dict[str, str],
) -> ParticipantGroup | None:
    if not isinstance(value, Mapping):
        problems.add(field, "errors.invalid", "a group is an object with members and required")
        return None
    raw_members = value.get("members")
    if not isinstance(raw_members, list) or not raw_members or len(raw_members) > MAX_MEMBERS:
        problems.add(f"{field}.members", "errors.required", f"a list of 1 to {MAX_MEMBERS} members")
        return None
    members = [
        _member(problems, m, f"{field}.members.{i}", calendars, fields)
        for i, m in enumerate(raw_members)
    ]
    required = value.get("required", "all")
    if required is None:
        required = "all"
    elif _is_int(required):
        required = int(required)
    if required != "all" and not (_is_int(required) and 1 <= required <= len(raw_members)):
        problems.add(
            f"{field}.required",
            "errors.invalid",
            '"all" or a number from 1 to the number of members',
        )
        return None
    if any(m is None for m in members):
        return None
    chosen = [m for m in members if m is not None]
    if required != "all" and required > len(set(chosen)):
        problems.add(
            f"{field}.required",
            "errors.invalid",
            f"required {required} is more than the group's {len(set(chosen))} distinct members",
        )
        return None
    return ParticipantGroup(tuple(chosen), required)


def _response_format(problems: Problems, value: object) -> ResponseFormat:
    if value is None:
        return ResponseFormat.PERIODS
    try:
        return ResponseFormat(str(value)) if isinstance(value, str) else ResponseFormat("")
    except ValueError:
        problems.add("response_format", "errors.invalid", "periods, slots or overlapping_slots")
        return ResponseFormat.PERIODS


def _check_span(problems: Problems, field: str, periods: Sequence[Interval]) -> None:
    earliest = min(start for start, _ in periods)
    if max(end for _, end in periods) - earliest > MAX_SPAN:
        problems.add(
            field,
            "errors.too_long",
            "the periods must end within 35 days of the earliest start",
        )


def parse_availability(body: Mapping[str, Any]) -> ParsedQuery:
    """The query of an availability request, or `ValidationError` listing every problem."""
    problems = Problems()
    calendars: dict[str, tuple[str, ...] | None] = {}
    fields: dict[str, str] = {}

    raw_groups = body.get("participants")
    if isinstance(raw_groups, Mapping):  # pycronofy allows one group without a list
        raw_groups = [raw_groups]
    groups: list[ParticipantGroup | None] = []
    if not isinstance(raw_groups, list) or not raw_groups or len(raw_groups) > MAX_GROUPS:
        problems.add("participants", "errors.required", f"a list of 1 to {MAX_GROUPS} groups")
    else:
        groups = [
            _group(problems, g, f"participants.{i}", calendars, fields)
            for i, g in enumerate(raw_groups)
        ]

    duration = _minutes(
        problems, body.get("required_duration"), "required_duration", 1, MAX_DURATION_MINUTES
    )
    fmt = _response_format(problems, body.get("response_format"))

    interval_minutes = DEFAULT_START_INTERVAL
    if body.get("start_interval") is not None:
        raw = body["start_interval"]
        minutes = raw.get("minutes") if isinstance(raw, Mapping) else None
        if not _is_int(minutes) or minutes not in START_INTERVALS:
            problems.add(
                "start_interval",
                "errors.invalid",
                '{"minutes": n}, n one of ' + ", ".join(map(str, START_INTERVALS)),
            )
        else:
            interval_minutes = int(minutes)

    buffer = Buffer()
    raw_buffer = body.get("buffer")
    if raw_buffer is not None:
        if not isinstance(raw_buffer, Mapping):
            problems.add("buffer", "errors.invalid", "an object with before and after")
        else:
            before = after = 0
            if raw_buffer.get("before") is not None:
                before = (
                    _minutes(problems, raw_buffer["before"], "buffer.before", 0, MAX_BUFFER_MINUTES)
                    or 0
                )
            if raw_buffer.get("after") is not None:
                after = (
                    _minutes(problems, raw_buffer["after"], "buffer.after", 0, MAX_BUFFER_MINUTES)
                    or 0
                )
            buffer = Buffer(timedelta(minutes=before), timedelta(minutes=after))

    max_results = DEFAULT_MAX_RESULTS
    if body.get("max_results") is not None:
        value = body["max_results"]
        if not _is_int(value) or not 1 <= value <= MAX_MAX_RESULTS:
            problems.add(
                "max_results", "errors.invalid", f"a whole number from 1 to {MAX_MAX_RESULTS}"
            )
        else:
            max_results = int(value)

    periods = _query_periods(problems, body, duration)
    problems.raise_if_any()
    assert duration is not None and periods is not None
    answer_key = "available_periods" if fmt is ResponseFormat.PERIODS else "available_slots"
    if "query_slots" in body:  # each slot is a period exactly the duration long
        fmt = ResponseFormat.SLOTS
    try:
        query = AvailabilityQuery(
            participants=tuple(g for g in groups if g is not None),
            required_duration=timedelta(minutes=duration),
            query_periods=tuple(periods),
            buffer=buffer,
            response_format=fmt,
            start_interval=timedelta(minutes=interval_minutes),
            max_results=max_results,
        )
    except ValueError as exc:  # every rule is checked above; this is a guard
        raise ValidationError.single("base", "errors.invalid", str(exc)) from None
    return ParsedQuery(query, calendars, answer_key, fields)


def _query_periods(
    problems: Problems, body: Mapping[str, Any], duration: int | None
) -> list[Interval] | None:
    """``query_periods`` / ``available_periods`` / ``query_slots``: exactly one of them."""
    # Present (even as null) counts as given: the schema allows none of them to be null.
    given = [name for name in ("query_periods", "available_periods", "query_slots") if name in body]
    if not given:
        problems.add("query_periods", "errors.required", "query_periods or query_slots")
        return None
    if len(given) > 1:
        problems.add(given[1], "errors.invalid", f"give only one of {' or '.join(given)}")
        return None
    name = given[0]
    if name == "query_slots":
        found = _periods(problems, body[name], name, with_end=False)
        if found is None or duration is None:
            return None
        periods = [(start, start + timedelta(minutes=duration)) for start, _ in found]
    else:
        found = _periods(problems, body[name], name)
        if found is None:
            return None
        periods = [(start, end) for start, end in found if end is not None]
    if periods and len(periods) == len(found):
        _check_span(problems, name, periods)
    return periods if len(periods) == len(found) and periods else None
