"""The availability core against a brute-force minute-grid reference, exactly.

`availability_scenarios.reference` follows the definitions in `calsync.availability`
minute by minute; the core sweeps sorted intervals. On random small queries (a few
members, groups, query periods, buffers, rules in fixed-offset zones, every response
format, max_results) both must give the same results, participants and order included.
Each example takes a few milliseconds, so this test runs twice the profile's
examples: it is the one check that covers every reading at once.
"""

from __future__ import annotations

from hypothesis import given, settings

from calsync.availability import find_availability
from tests.unit.availability_scenarios import Scenario, as_tuples, reference, scenarios


@settings(max_examples=2 * settings().max_examples)
@given(scenarios())
def test_core_equals_the_minute_grid_reference(scenario: Scenario) -> None:
    got = as_tuples(find_availability(scenario.query, scenario.busy, scenario.rules))
    assert got == reference(scenario)
