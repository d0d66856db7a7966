"""Availability rules per account (Cronofy's managed availability), and the
availability query's reads (`AvailabilityRepo`).

Every rule change bumps the account's version (``last_change_seq``): the API's
availability cache keys on it, so a changed rule is never answered from an old entry.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.errors import NotFound
from calsync.store.availability_models import AvailabilityRule
from calsync.store.journal import Journal
from calsync.store.records import AccountRecord, AvailabilityRuleRecord, BusyRow
from calsync.store.repos import busy
from calsync.store.sql import utcnow


def _record(row: AvailabilityRule) -> AvailabilityRuleRecord:
    ids = row.calendar_ids
    return AvailabilityRuleRecord(
        account_pk=row.account_id,
        rule_id=row.rule_id,
        tzid=row.tzid,
        calendar_ids=None if ids is None else tuple(ids),
        weekly_periods=tuple(dict(p) for p in row.weekly_periods),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class AvailabilityRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    # --- rules ---

    def upsert_rule(
        self,
        account_pk: int,
        rule_id: str,
        *,
        tzid: str,
        calendar_ids: Sequence[str] | None,
        weekly_periods: Sequence[dict[str, str]],
    ) -> AvailabilityRuleRecord:
        row = self._find(account_pk, rule_id)
        now = utcnow()
        if row is None:
            row = AvailabilityRule(account_id=account_pk, rule_id=rule_id, created_at=now)
            self._session.add(row)
        row.tzid = tzid
        row.calendar_ids = None if calendar_ids is None else list(calendar_ids)
        row.weekly_periods = [dict(p) for p in weekly_periods]
        row.updated_at = now
        self._journal.bump_version(account_pk)
        self._session.flush()
        return _record(row)

    def rules(self, account_pk: int) -> builtins.list[AvailabilityRuleRecord]:
        stmt = (
            select(AvailabilityRule)
            .where(AvailabilityRule.account_id == account_pk)
            .order_by(AvailabilityRule.rule_id)
        )
        return [_record(row) for row in self._session.execute(stmt).scalars()]

    def rules_of(
        self, account_pks: Sequence[int]
    ) -> dict[int, builtins.list[AvailabilityRuleRecord]]:
        """The rules of several accounts in one query."""
        found: dict[int, builtins.list[AvailabilityRuleRecord]] = {pk: [] for pk in account_pks}
        if not account_pks:
            return found
        stmt = (
            select(AvailabilityRule)
            .where(AvailabilityRule.account_id.in_(list(account_pks)))
            .order_by(AvailabilityRule.account_id, AvailabilityRule.rule_id)
        )
        for row in self._session.execute(stmt).scalars():
            found[row.account_id].append(_record(row))
        return found

    def rule(self, account_pk: int, rule_id: str) -> AvailabilityRuleRecord:
        row = self._find(account_pk, rule_id)
        if row is None:
            raise NotFound("no such availability rule")
        return _record(row)

    def delete_rule(self, account_pk: int, rule_id: str) -> bool:
        """Whether a rule was deleted."""
        result: Any = self._session.execute(
            delete(AvailabilityRule).where(
                AvailabilityRule.account_id == account_pk, AvailabilityRule.rule_id == rule_id
            )
        )
        if not result.rowcount:
            return False
        self._journal.bump_version(account_pk)
        return True

    def _find(self, account_pk: int, rule_id: str) -> AvailabilityRule | None:
        stmt = select(AvailabilityRule).where(
            AvailabilityRule.account_id == account_pk, AvailabilityRule.rule_id == rule_id
        )
        return self._session.execute(stmt).scalar_one_or_none()

    # --- the query's reads ---

    def accounts_by_sub(self, subs: Sequence[str]) -> dict[str, AccountRecord]:
        return busy.accounts_by_sub(self._session, subs)

    def known_calendar_ids(self, account_pk: int, calendar_ids: Sequence[str]) -> set[str]:
        return busy.known_calendar_ids(self._session, account_pk, calendar_ids)

    def busy_rows(
        self,
        account_pk: int,
        calendar_ids: Sequence[str] | None,
        window: tuple[datetime, datetime],
    ) -> builtins.list[BusyRow]:
        return busy.busy_rows(self._session, account_pk, calendar_ids, window)

    def busy_changes(
        self,
        account_pk: int,
        calendar_ids: Sequence[str] | None,
        window: tuple[datetime, datetime],
        since: int,
    ) -> builtins.list[tuple[str, BusyRow | None]]:
        return busy.busy_changes(self._session, account_pk, calendar_ids, window, since)

    def calendar_states(self, account_pk: int) -> tuple[tuple[int, bool], ...]:
        return busy.calendar_states(self._session, account_pk)
