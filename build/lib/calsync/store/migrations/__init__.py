"""Alembic migrations of the store (a package so that env.py ships with calsync)."""
