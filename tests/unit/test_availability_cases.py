"""`find_availability` on hand-written cases: each reading in the package docstring, once.

Times are on Monday 2026-12-07 (UTC) unless a case says otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calsync.availability import (
    AvailabilityQuery,
    AvailabilityRule,
    AvailableResult,
    Buffer,
    Interval,
    Member,
    ParticipantGroup,
    ResponseFormat,
    WeeklyPeriod,
    find_availability,
)

PERIODS, SLOTS, OVERLAPPING = (
    ResponseFormat.PERIODS,
    ResponseFormat.SLOTS,
    ResponseFormat.OVERLAPPING_SLOTS,
)
A, B, C = Member("acc_a"), Member("acc_b"), Member("acc_c")


def t(hour: int, minute: int = 0, day: int = 7, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def query(
    *groups: ParticipantGroup,
    periods: tuple[Interval, ...] = ((t(9), t(17)),),
    minutes: int = 60,
    response_format: ResponseFormat = PERIODS,
    interval: int | None = None,
    before: int = 0,
    after: int = 0,
    max_results: int | None = None,
) -> AvailabilityQuery:
    return AvailabilityQuery(
        participants=groups or (ParticipantGroup((A,)),),
        required_duration=timedelta(minutes=minutes),
        query_periods=periods,
        buffer=Buffer(timedelta(minutes=before), timedelta(minutes=after)),
        response_format=response_format,
        start_interval=None if interval is None else timedelta(minutes=interval),
        max_results=max_results,
    )


def spans(results: list[AvailableResult]) -> list[tuple[datetime, datetime]]:
    return [(r.start, r.end) for r in results]


# -- half-open intervals ---------------------------------------------------------------


def test_touching_events_leave_no_gap() -> None:
    busy = {"acc_a": [(t(9), t(10)), (t(10), t(11)), (t(12), t(17))]}
    assert spans(find_availability(query(minutes=1), busy)) == [(t(11), t(12))]


def test_a_gap_exactly_the_duration_long_counts_and_one_minute_less_does_not() -> None:
    busy = {"acc_a": [(t(9), t(10)), (t(11), t(12)), (t(12, 59), t(17))]}
    found = find_availability(query(minutes=60), busy)
    assert spans(found) == [(t(10), t(11))]  # 12:00-12:59 is a minute short
    slots = find_availability(query(minutes=60, response_format=SLOTS, interval=60), busy)
    assert spans(slots) == [(t(10), t(11))]
    assert found[0].participants == ("acc_a",)


# -- buffers ---------------------------------------------------------------------------


def test_buffer_direction_follows_cronofy() -> None:
    # The meeting needs 30 minutes free before it and 15 after it: a busy 12:00-13:00
    # blocks meetings from 11:45 (their after-buffer would reach 12:00) to 13:30.
    busy = {"acc_a": [(t(12), t(13))]}
    found = find_availability(query(minutes=30, before=30, after=15), busy)
    assert spans(found) == [(t(9), t(11, 45)), (t(13, 30), t(17))]


def test_buffers_reach_into_a_query_period_from_outside_but_its_edges_carry_none() -> None:
    busy = {"acc_a": [(t(8), t(9)), (t(17), t(18))]}  # both outside 09:00-17:00
    found = find_availability(query(minutes=30, before=20, after=10), busy)
    assert spans(found) == [(t(9, 20), t(16, 50))]
    # Without busy time nearby, the period's own edges are kept as they are.
    assert spans(find_availability(query(minutes=30, before=20, after=10), {})) == [(t(9), t(17))]


def test_available_period_and_rule_edges_carry_no_buffer() -> None:
    member = Member("acc_a", available_periods=((t(10), t(12)),), managed_availability=True)
    rules = {"acc_a": [AvailabilityRule("UTC", (WeeklyPeriod.parse("monday", "11:00", "16:00"),))]}
    found = find_availability(
        query(ParticipantGroup((member,)), minutes=30, before=45, after=45), {}, rules
    )
    assert spans(found) == [(t(11), t(12))]


def test_an_empty_busy_interval_blocks_nothing() -> None:
    busy = {"acc_a": [(t(12), t(12))]}
    assert spans(find_availability(query(before=30, after=30), busy)) == [(t(9), t(17))]


# -- groups ----------------------------------------------------------------------------


def test_three_members_two_required() -> None:
    # a busy 9-11, b busy 10-13, c busy 12-14: at least two are free 9-10 (b, c),
    # 11-12 (a, c), 14-17 (all three), and 13-14 (a, b).
    busy = {
        "acc_a": [(t(9), t(11))],
        "acc_b": [(t(10), t(13))],
        "acc_c": [(t(12), t(14))],
    }
    group = ParticipantGroup((A, B, C), required=2)
    found = find_availability(query(group, minutes=60), busy)
    assert [(r.start, r.end, r.participants) for r in found] == [
        (t(9), t(10), ("acc_b", "acc_c")),
        (t(11), t(12), ("acc_a", "acc_c")),
        (t(13), t(14), ("acc_a", "acc_b")),
        (t(14), t(17), ("acc_a", "acc_b", "acc_c")),
    ]
    everyone = ParticipantGroup((A, B, C), required="all")
    assert spans(find_availability(query(everyone, minutes=60), busy)) == [(t(14), t(17))]


def test_periods_with_required_n_split_where_the_free_set_changes() -> None:
    # a and b are free all day and c only 09:30-10:10: "required 2" is met all day, but
    # the free set changes at 09:30 and 10:10, so each part must be long enough alone,
    # and 09:00-10:10 (70 minutes of a and b) gives no period.
    busy = {"acc_c": [(t(9), t(9, 30)), (t(10, 10), t(17))]}
    group = ParticipantGroup((A, B, C), required=2)
    found = find_availability(query(group, minutes=60), busy)
    assert [(r.start, r.end, r.participants) for r in found] == [
        (t(10, 10), t(17), ("acc_a", "acc_b"))
    ]
    # Making c busy all day joins the parts: more busy time, a longer period.
    found = find_availability(query(group, minutes=60), {"acc_c": [(t(9), t(17))]})
    assert [(r.start, r.end) for r in found] == [(t(9), t(17))]
    # With c free 09:00-10:00, the first part is exactly an hour and counts.
    found = find_availability(query(group, minutes=60), {"acc_c": [(t(10), t(17))]})
    assert [(r.start, r.end, r.participants) for r in found] == [
        (t(9), t(10), ("acc_a", "acc_b", "acc_c")),
        (t(10), t(17), ("acc_a", "acc_b")),
    ]


def test_slots_list_every_free_member_and_every_group_must_be_satisfied() -> None:
    busy = {"acc_b": [(t(9), t(10))], "acc_c": [(t(9), t(11))]}
    groups = (ParticipantGroup((A,)), ParticipantGroup((B, C), required=1))
    found = find_availability(
        query(*groups, periods=((t(9), t(12)),), response_format=SLOTS, interval=60), busy
    )
    assert [(r.start, r.participants) for r in found] == [
        (t(10), ("acc_a", "acc_b")),
        (t(11), ("acc_a", "acc_b", "acc_c")),
    ]


def test_a_member_in_two_groups_is_one_member() -> None:
    groups = (ParticipantGroup((A, B)), ParticipantGroup((A,), required=1))
    busy = {"acc_a": [(t(12), t(13))]}
    found = find_availability(query(*groups), busy)
    assert [(r.start, r.end, r.participants) for r in found] == [
        (t(9), t(12), ("acc_a", "acc_b")),
        (t(13), t(17), ("acc_a", "acc_b")),
    ]


def test_a_sub_listed_with_different_options_is_evaluated_per_listing_and_named_once() -> None:
    mornings = Member("acc_a", available_periods=((t(9), t(12)),))
    groups = (ParticipantGroup((mornings,)), ParticipantGroup((A, B), required=2))
    found = find_availability(query(*groups), {})
    assert [(r.start, r.end, r.participants) for r in found] == [(t(9), t(12), ("acc_a", "acc_b"))]


# -- slots -----------------------------------------------------------------------------


def test_slots_start_on_the_period_grid_and_do_not_overlap() -> None:
    periods = ((t(9, 10), t(12)),)
    busy = {"acc_a": [(t(9), t(9, 20))]}
    plain = find_availability(query(periods=periods, response_format=SLOTS, interval=15), busy)
    assert [r.start for r in plain] == [t(9, 25), t(10, 25)]  # 11:25 would end after 12:00
    overlapping = find_availability(
        query(periods=periods, response_format=OVERLAPPING, interval=15), busy
    )
    assert [r.start for r in overlapping] == [
        t(9, 25),
        t(9, 40),
        t(9, 55),
        t(10, 10),
        t(10, 25),
        t(10, 40),
        t(10, 55),
    ]
    assert all(r.end - r.start == timedelta(minutes=60) for r in overlapping)


def test_the_next_slot_waits_for_the_previous_one_to_end_even_when_the_free_set_changes() -> None:
    # b frees up at 09:20, inside the 09:00-10:00 slot; the next slot is 10:00, not 09:20.
    group = ParticipantGroup((A, B), required=1)
    busy = {"acc_b": [(t(8), t(9, 20))]}
    found = find_availability(
        query(group, periods=((t(9), t(12)),), response_format=SLOTS, interval=10), busy
    )
    assert [(r.start, r.participants) for r in found] == [
        (t(9), ("acc_a",)),
        (t(10), ("acc_a", "acc_b")),
        (t(11), ("acc_a", "acc_b")),
    ]


def test_greedy_slots_under_required_n_can_miss_the_slot_required_all_finds() -> None:
    # Why "all ⊆ N" is not claimed for `slots` as time: with N the greedy walk takes
    # 09:15-10:15 first, and no later candidate fits before both are busy at 11:00.
    busy = {"acc_a": [(t(8), t(9, 15)), (t(11), t(12))], "acc_b": [(t(8), t(10)), (t(11), t(12))]}
    periods = ((t(9, 15), t(12)),)
    some = ParticipantGroup((A, B), required=1)
    every = ParticipantGroup((A, B), required="all")
    found_all = find_availability(
        query(every, periods=periods, response_format=SLOTS, interval=15), busy
    )
    found_some = find_availability(
        query(some, periods=periods, response_format=SLOTS, interval=15), busy
    )
    assert spans(found_all) == [(t(10), t(11))]
    assert spans(found_some) == [(t(9, 15), t(10, 15))]


# -- max_results and query periods -----------------------------------------------------


def test_max_results_takes_the_first_results_across_all_query_periods() -> None:
    periods = ((t(13), t(15)), (t(9), t(11)), (t(9, 30), t(10, 15)))  # in no particular order
    found = find_availability(query(periods=periods, minutes=30, max_results=3), {})
    assert spans(found) == [(t(9), t(11)), (t(9, 30), t(10, 15)), (t(13), t(15))]
    found = find_availability(query(periods=periods, minutes=30, max_results=1), {})
    assert spans(found) == [(t(9), t(11))]
    slots = find_availability(
        query(periods=periods, minutes=30, response_format=SLOTS, interval=30, max_results=5), {}
    )
    # 09:30-10:00 comes from two periods and is one result; 13:00 makes the fifth.
    assert spans(slots) == [
        (t(9), t(9, 30)),
        (t(9, 30), t(10)),
        (t(10), t(10, 30)),
        (t(10, 30), t(11)),
        (t(13), t(13, 30)),
    ]


def test_a_later_query_period_can_still_hold_the_first_result() -> None:
    # b becomes free at 09:00; the long period's run starts there too, but the short
    # period's run (ending at 09:45) sorts first.
    busy = {"acc_b": [(t(7), t(9))]}
    group = ParticipantGroup((A, B))
    periods = ((t(8), t(12)), (t(9), t(9, 45)))
    found = find_availability(query(group, periods=periods, minutes=30, max_results=1), busy)
    assert spans(found) == [(t(9), t(9, 45))]


def test_identical_results_of_overlapping_query_periods_are_reported_once() -> None:
    periods = ((t(9), t(10)), (t(9), t(10)), (t(9), t(11)))
    found = find_availability(query(periods=periods, minutes=30), {})
    assert spans(found) == [(t(9), t(10)), (t(9), t(11))]


# -- managed availability --------------------------------------------------------------


def test_managed_members_are_free_only_inside_their_rules_across_a_dst_change() -> None:
    # London 09:00-17:00 on Friday 27 March (GMT) and Monday 30 March (BST) 2026.
    member = Member("acc_a", managed_availability=True)
    rules = {
        "acc_a": [
            AvailabilityRule(
                "Europe/London",
                tuple(WeeklyPeriod.parse(d, "09:00", "17:00") for d in ("monday", "friday")),
            )
        ]
    }
    periods = ((t(0, day=27, month=3), t(0, day=31, month=3)),)
    found = find_availability(query(ParticipantGroup((member,)), periods=periods), {}, rules)
    assert spans(found) == [
        (t(9, day=27, month=3), t(17, day=27, month=3)),
        (t(8, day=30, month=3), t(16, day=30, month=3)),
    ]


def test_managed_member_rules_are_picked_by_id_and_missing_rules_mean_never_free() -> None:
    rules = {
        "acc_a": [
            AvailabilityRule("UTC", (WeeklyPeriod.parse("monday", "09:00", "10:00"),), "early"),
            AvailabilityRule("UTC", (WeeklyPeriod.parse("monday", "15:00", "17:00"),), "late"),
        ]
    }
    late_only = Member("acc_a", managed_availability=True, availability_rule_ids=("late",))
    both = Member("acc_a", managed_availability=True)
    assert spans(find_availability(query(ParticipantGroup((late_only,))), {}, rules)) == [
        (t(15), t(17))
    ]
    assert spans(find_availability(query(ParticipantGroup((both,))), {}, rules)) == [
        (t(9), t(10)),
        (t(15), t(17)),
    ]
    assert find_availability(query(ParticipantGroup((both,))), {}, {}) == []


# -- inputs ----------------------------------------------------------------------------


def test_aware_inputs_in_other_zones_are_read_as_instants() -> None:
    paris = ZoneInfo("Europe/Paris")
    periods = ((datetime(2026, 12, 7, 10, tzinfo=paris), datetime(2026, 12, 7, 18, tzinfo=paris)),)
    busy = {
        "acc_a": [
            (datetime(2026, 12, 7, 11, tzinfo=paris), datetime(2026, 12, 7, 17, tzinfo=paris))
        ]
    }
    found = find_availability(query(periods=periods), busy)
    assert spans(found) == [(t(9), t(10)), (t(16), t(17))]
    assert found[0].start.tzinfo is UTC


def test_lists_are_accepted_where_tuples_are_declared() -> None:
    member = Member("acc_a", availability_rule_ids=["x"], managed_availability=True)  # type: ignore[arg-type]
    group = ParticipantGroup([member, B], required=1)  # type: ignore[arg-type]
    built = AvailabilityQuery([group], timedelta(minutes=30), [(t(9), t(10))])  # type: ignore[arg-type]
    assert hash(member) and built.participants == (group,) and group.members == (member, B)
    found = find_availability(built, {})
    assert [(r.start, r.participants) for r in found] == [(t(9), ("acc_b",))]


@pytest.mark.parametrize(
    "build",
    [
        lambda: query(periods=((t(10), t(10)),)),
        lambda: query(periods=((t(11), t(10)),)),
        lambda: query(periods=((datetime(2026, 12, 7, 9), t(10)),)),
        lambda: query(periods=()),
        lambda: query(minutes=0),
        lambda: query(response_format=SLOTS),  # no start_interval
        lambda: query(response_format=SLOTS, interval=0),
        lambda: query(max_results=0),
        lambda: query(before=-5),
        lambda: ParticipantGroup(()),
        lambda: ParticipantGroup((A, B), required=3),
        lambda: ParticipantGroup((A, A), required=2),  # the same member twice counts once
        lambda: ParticipantGroup((A,), required=0),
        lambda: ParticipantGroup((A,), required=True),
        lambda: Member(""),
        lambda: Member("acc_a", available_periods=((t(10), t(9)),)),
        lambda: AvailabilityQuery((), timedelta(minutes=30), ((t(9), t(10)),)),
    ],
)
def test_impossible_queries_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "bad",
    [[(datetime(2026, 12, 7, 10), datetime(2026, 12, 7, 11))], [(t(11), t(10))]],
)
def test_impossible_busy_times_are_refused_with_the_sub(bad: list[Interval]) -> None:
    with pytest.raises(ValueError, match="acc_a"):
        find_availability(query(), {"acc_a": bad})


def test_the_core_imports_no_store_web_or_provider_code() -> None:
    probe = (
        "import sys, calsync.availability; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'fastapi', 'starlette', 'httpx', 'pydantic') or "
        "m.startswith(('calsync.store', 'calsync.api', 'calsync.providers', 'calsync.sync'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
