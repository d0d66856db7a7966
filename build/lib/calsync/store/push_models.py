"""ORM model of the push journal: a write-ahead record of every push to a provider.

A row is committed *before* the provider call it describes. When the answer
to that call is lost (a timeout, a crash between the provider applying the
write and calsync recording the answer), the row is what lets the next pull
recognise the provider's version as calsync's own write coming back rather
than somebody else's edit (`calsync.sync.planner`). Rows are forgotten once a
pull has seen the provider's version of the event, and pruned with the rest
of the history after ``[store] history_retention``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class PushAttempt(Base):
    __tablename__ = "push_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), index=True
    )
    event_uid: Mapped[str] = mapped_column(String(64), index=True)
    #: The event's change sequence of the version pushed.
    change_seq: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(16))  # create | update | delete
    #: `calsync.model.round_trip_key` of the content sent; None for a delete.
    content_key: Mapped[str | None] = mapped_column(String(64))
    attempted_at: Mapped[datetime]
