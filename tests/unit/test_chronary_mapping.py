"""The event mapping of the Chronary dialect is lossless where it claims to be.

Properties over generated events (timed in any of a few zones, all-day, with or
without a weekly/daily rule and EXDATEs), through the shared parser:

* what is created reads back as it was sent (title, instants, all-day dates,
  rule, exdates);
* a PATCH that gives no field writes the stored content again, unchanged;
* ``recurrence_rule: null`` leaves a single event; a new rule keeps the EXDATEs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from calsync.api.chronary.mapping.events import event_json, upsert_body
from calsync.api.params import parse_event_body
from calsync.model import EventContent
from calsync.store.records import EventRecord

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _record(content: EventContent, event_id: str) -> EventRecord:
    return EventRecord(
        pk=1,
        event_uid="evt_test",
        account_pk=1,
        calendar_pk=1,
        calendar_id="cal_test",
        event_id=event_id,
        managed=True,
        remote_id=None,
        ical_uid=None,
        etag=None,
        remote_updated=None,
        content=content,
        recurring_event_uid=None,
        deleted=False,
        created=NOW,
        updated=NOW,
        change_seq=1,
        fingerprint="",
        push_state="none",
        pending_op=None,
    )


def _write(fields: dict[str, Any], zone: str, stored: EventRecord | None) -> EventRecord:
    parsed = parse_event_body(upsert_body(fields, zone, stored))
    existing = stored.content.attendees if stored else ()
    status = fields.get("status") or (stored.content.status if stored else "confirmed")
    return _record(replace(parsed.content(existing), status=status), parsed.event_id)


@st.composite
def chronary_events(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    zone = draw(st.sampled_from(ZONES))
    all_day = draw(st.booleans())
    title = draw(st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and t))
    if all_day:
        first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
        last = first + timedelta(days=draw(st.integers(1, 5)))
        start_text, end_text = first.isoformat(), last.isoformat()
    else:
        start = NOW + timedelta(minutes=15 * draw(st.integers(0, 70_000)))
        end = start + timedelta(minutes=15 * draw(st.integers(1, 40)))
        offset = timedelta(hours=draw(st.integers(-11, 13)))
        start_text = start.astimezone(UTC).astimezone(_fixed(offset)).isoformat()
        end_text = end.astimezone(_fixed(offset)).isoformat()
    fields: dict[str, Any] = {
        "title": title,
        "start_time": start_text,
        "end_time": end_text,
        "all_day": all_day,
        "status": draw(st.sampled_from(["confirmed", "tentative", "cancelled"])),
    }
    if draw(st.booleans()):
        freq = draw(st.sampled_from(["DAILY", "WEEKLY"]))
        fields["recurrence_rule"] = f"FREQ={freq};COUNT={draw(st.integers(2, 20))}"
    return fields, zone


def _fixed(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@given(chronary_events())
def test_created_events_read_back_as_sent(case: tuple[dict[str, Any], str]) -> None:
    fields, zone = case
    shown = event_json(_write(fields, zone, None), None)
    assert shown["title"] == fields["title"]
    assert shown["all_day"] is fields["all_day"]
    assert shown["status"] == fields["status"]
    assert shown["recurrence_rule"] == fields.get("recurrence_rule")
    assert shown["recurrence_exdates"] == []
    if fields["all_day"]:
        assert shown["start_time"][:10] == fields["start_time"]
        assert shown["end_time"][:10] == fields["end_time"]
    else:
        assert _instant(shown["start_time"]) == _instant(fields["start_time"])
        assert _instant(shown["end_time"]) == _instant(fields["end_time"])


@given(chronary_events())
def test_an_empty_patch_changes_nothing(case: tuple[dict[str, Any], str]) -> None:
    fields, zone = case
    stored = _write(fields, zone, None)
    again = _write({}, zone, stored)
    assert again.content == stored.content
    assert again.event_id == stored.event_id


@given(chronary_events(), st.integers(1, 3))
def test_rule_edits(case: tuple[dict[str, Any], str], skipped: int) -> None:
    fields, zone = case
    fields = {**fields, "recurrence_rule": "FREQ=DAILY;COUNT=10"}
    stored = _write(fields, zone, None)
    start = stored.content.start
    exdates = [(start + timedelta(days=n)).isoformat() for n in range(1, skipped + 1)]
    with_exdates = _write({"recurrence_exdates": exdates}, zone, stored)
    shown = event_json(with_exdates, None)
    if isinstance(start, datetime):
        assert [_instant(v) for v in shown["recurrence_exdates"]] == [_instant(v) for v in exdates]
    else:
        assert shown["recurrence_exdates"] == exdates
        assert all(
            line.startswith("EXDATE;VALUE=DATE:") for line in with_exdates.content.recurrence[1:]
        )
    renewed = _write({"recurrence_rule": "FREQ=WEEKLY;COUNT=3"}, zone, with_exdates)
    assert event_json(renewed, None)["recurrence_exdates"] == shown["recurrence_exdates"]
    stored = renewed
    single = _write({"recurrence_rule": None}, zone, stored)
    assert single.content.recurrence == ()
    assert event_json(single, None)["recurrence_rule"] is None
    assert single.content.start == stored.content.start
