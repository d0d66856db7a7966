"""Repositories: one per aggregate, all bound to one session by `UnitOfWork`."""
