"""ORM model of the API rate-limit log shared by PostgreSQL replicas.

One row per request that was let through: the client key and when (seconds
since the epoch). `repos.rate_counts` counts a client's rows inside each
window, exactly like the in-memory sliding log of `calsync.api.limits`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class RateHit(Base):
    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[float] = mapped_column(Float)
