"""The fast VEVENT reader agrees with the icalendar path, and falls back when unsure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from calsync.providers import _ical, _ical_fast

TEXT = st.lists(
    st.sampled_from([*"ab ,;:\\nN\"'é^%", "\\n", "\\,", "\\;", "\\\\"]), max_size=12
).map("".join)
ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
DATES = st.tuples(
    st.integers(2020, 2030), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23)
)


def stamp(parts: tuple[int, int, int, int], minute: int = 0) -> str:
    y, m, d, h = parts
    return f"{y:04d}{m:02d}{d:02d}T{h:02d}{minute:02d}00"


@st.composite
def vevents(draw: st.DrawFn) -> str:
    uid = draw(st.sampled_from(["a", "b@x", "c\\,d"]))
    lines = [f"UID:{uid}"]
    start = draw(DATES)
    kind = draw(st.sampled_from(["utc", "zoned", "floating", "date"]))
    zone = draw(ZONES)
    if kind == "date":
        lines.append(f"DTSTART;VALUE=DATE:{stamp(start)[:8]}")
        if draw(st.booleans()):
            lines.append(f"DTEND;VALUE=DATE:{start[0]:04d}{start[1]:02d}{start[2] + 1:02d}")
    else:
        value = stamp(start)
        if kind == "utc":
            lines.append(f"DTSTART:{value}Z")
        elif kind == "zoned":
            lines.append(f"DTSTART;TZID={zone}:{value}")
        else:
            lines.append(f"DTSTART:{value}")
        end = draw(st.sampled_from(["dtend", "duration", "none", "date-end"]))
        if end == "dtend":
            lines.append(f"DTEND;TZID={zone}:{stamp(start, 45)}")
        elif end == "duration":
            lines.append(f"DURATION:{draw(st.sampled_from(['PT1H', '-PT15M', 'P1W', 'P1DT2H']))}")
        elif end == "date-end":
            lines.append(f"DTEND;VALUE=DATE:{stamp(start)[:8]}")
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION", "COLOR", "URL"):
        if draw(st.booleans()):
            lines.append(f"{name}:{draw(TEXT)}")
    if draw(st.booleans()):
        lines.append(f"GEO:{draw(st.sampled_from(['52.50;13.400', '-1;2.25', 'x;y']))}")
    for _ in range(draw(st.integers(0, 2))):
        cn = draw(st.sampled_from(["", ';CN="Doe, J"', ";CN=Ann", ';CN="a:b"', ";CN=x^ny"]))
        partstat = draw(st.sampled_from(["", ";PARTSTAT=accepted", ";PARTSTAT=DECLINED"]))
        lines.append(
            f"ATTENDEE{cn}{partstat}:{draw(st.sampled_from(['mailto:a@x', 'MAILTO:b@y']))}"
        )
    if draw(st.booleans()):
        lines.append("ORGANIZER;CN=Boss:mailto:boss@x")
    for name, values in (
        ("TRANSP", ["OPAQUE", "transparent"]),
        ("STATUS", ["TENTATIVE", "cancelled", "CONFIRMED"]),
        ("CLASS", ["PRIVATE", "PUBLIC", "confidential"]),
    ):
        if draw(st.booleans()):
            lines.append(f"{name}:{draw(st.sampled_from(values))}")
    if draw(st.booleans()):
        lines.append(f"LAST-MODIFIED:{stamp(draw(DATES))}Z")
    if draw(st.booleans()):
        lines.append(f"DTSTAMP:{stamp(draw(DATES))}Z")
    if draw(st.booleans()):
        lines.append("X-CALSYNC-EVENT-UID:evt_abc\\,d")
    if draw(st.booleans()):
        lines.append(f"RECURRENCE-ID;TZID={zone}:{stamp(draw(DATES))}")
    if draw(st.booleans()):
        rule = draw(
            st.sampled_from(["FREQ=WEEKLY;BYDAY=MO;COUNT=6", "FREQ=DAILY;UNTIL=20301231T000000Z"])
        )
        lines.append(f"RRULE:{rule}")
        if draw(st.booleans()):
            lines.append(f"EXDATE;TZID={zone}:{stamp(start)},{stamp(start, 30)}")
        if draw(st.booleans()):
            lines.append(f"RDATE:{stamp(start)}Z")
    lines = draw(st.permutations(lines))
    body = ["BEGIN:VEVENT", *lines]
    if draw(st.booleans()):
        body += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:alarm",
            "TRIGGER:-PT5M",
            "END:VALARM",
        ]
    return "\r\n".join([*body, "END:VEVENT"])


def calendar(*vevent_blocks: str, fold: bool = False) -> str:
    text = "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", *vevent_blocks, "END:VCALENDAR", ""]
    )
    if fold:  # fold every long line at 40 characters, as servers do at 75
        out = []
        for line in text.split("\r\n"):
            while len(line) > 40:
                out.append(line[:40])
                line = " " + line[40:]
            out.append(line)
        text = "\r\n".join(out)
    return text


@given(st.lists(vevents(), min_size=1, max_size=3), st.booleans())
def test_fast_path_agrees_with_icalendar_or_falls_back(blocks: list[str], fold: bool) -> None:
    data = calendar(*blocks, fold=fold)
    fast = _ical_fast.parse_events_fast(data)
    try:
        slow = _ical.parse_events(data)
    except Exception:  # the reference rejects it: the fast path must not accept it
        assert fast is None
        return
    if fast is not None:
        assert fast == slow
        assert [e.origin_event_uid for e in fast] == [e.origin_event_uid for e in slow]
    assert _ical_fast.parse_events(data) == slow


PLAIN = calendar(
    "\r\n".join(
        [
            "BEGIN:VEVENT",
            "UID:u1",
            "DTSTAMP:20260101T000000Z",
            "DTSTART;TZID=Europe/Berlin:20260301T140000",
            "DTEND;TZID=Europe/Berlin:20260301T150000",
            "SUMMARY:Planning\\, weekly",
            "DESCRIPTION:line one\\nline two",
            'ATTENDEE;CN="Doe, Jane";PARTSTAT=ACCEPTED:mailto:jane@example.com',
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
            "END:VEVENT",
        ]
    )
)


def test_common_shapes_take_the_fast_path() -> None:
    fast = _ical_fast.parse_events_fast(PLAIN)
    assert fast is not None
    assert fast == _ical.parse_events(PLAIN)
    [event] = fast
    assert event.content.summary == "Planning, weekly"
    assert event.content.recurrence == ("RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=MO",)
    assert event.content.attendees[0].display_name == "Doe, Jane"


def test_unknown_zone_and_rfc6868_fall_back() -> None:
    custom = PLAIN.replace("TZID=Europe/Berlin", "TZID=My Office Zone")
    assert _ical_fast.parse_events_fast(custom) is None
    caret = PLAIN.replace('CN="Doe, Jane"', "CN=Jane^nDoe")
    assert _ical_fast.parse_events_fast(caret) is None
    assert _ical_fast.parse_events(caret) == _ical.parse_events(caret)


def test_not_a_calendar_falls_back_to_the_reference_error() -> None:
    assert _ical_fast.parse_events_fast("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n") is None
