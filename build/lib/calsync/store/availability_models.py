"""ORM model of availability rules (Cronofy's managed availability), one row per
``(account, availability_rule_id)``.

The weekly periods and calendar ids are kept as the JSON the API was given
(already validated); `calsync.store.repos.availability_rules` turns rows into
`AvailabilityRuleRecord`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class AvailabilityRule(Base):
    __tablename__ = "availability_rules"
    __table_args__ = (UniqueConstraint("account_id", "rule_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(64))
    tzid: Mapped[str] = mapped_column(String(64))
    #: ``["cal_…"]`` or None (every calendar of the account).
    calendar_ids: Mapped[Any | None] = mapped_column(JSON)
    #: ``[{"day", "start_time", "end_time"}]``.
    weekly_periods: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
