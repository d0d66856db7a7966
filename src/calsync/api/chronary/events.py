"""Events (placeholder; filled in by the events step)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["chronary: events"])
