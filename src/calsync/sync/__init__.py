"""The sync engine: ``plan`` (pure) then apply (store) then push (provider).

Public interface::

    engine = SyncEngine(store, settings)            # provider_factory=registry.create
    report = engine.sync_account(account_settings)  # AccountSyncReport, never raises
    engine.sync_calendars(account_settings, [cal])  # pull + push some calendars
    engine.push_calendar(account_settings, cal)     # push pending local changes only
    engine.discover(account_settings)               # refresh the calendar list

The three sync entry points go through one `AccountGate` (`gate`): backoff,
one run per account at a time.

Modules: `state` and `actions` (the planner's data), `planner` (pure),
`apply` (store side), `push` (provider side), `engine` (the account's pass),
`calendar_pass` (one calendar: pull, plan, apply, push), `failures` (how
failures are worded and recorded), `pulling` (reading a pull's pages), `paged`
(a listing stored a page at a time), `gate`, `discovery`, `ownership`
(replicas' calendar leases), `milestones` (profile notifications), `backoff`,
`progress`, `report`, `etags` (how an unconfirmed create's etag is stored).
"""

from calsync.sync.backoff import Backoff
from calsync.sync.engine import PROFILE_DISCONNECTED, PROFILE_INITIAL_SYNC_COMPLETED, SyncEngine
from calsync.sync.gate import AccountGate, Refusal
from calsync.sync.planner import plan
from calsync.sync.progress import NullProgress, ProgressSink, RichProgress
from calsync.sync.report import AccountSyncReport, CalendarSyncOutcome
from calsync.sync.state import CalendarState, EventState, Pulled, SyncPolicy

__all__ = [
    "PROFILE_DISCONNECTED",
    "PROFILE_INITIAL_SYNC_COMPLETED",
    "AccountGate",
    "AccountSyncReport",
    "Backoff",
    "CalendarState",
    "CalendarSyncOutcome",
    "EventState",
    "NullProgress",
    "ProgressSink",
    "Pulled",
    "Refusal",
    "RichProgress",
    "SyncEngine",
    "SyncPolicy",
    "plan",
]
