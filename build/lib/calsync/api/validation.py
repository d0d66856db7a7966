"""Collect every problem of one request before answering, as Cronofy does.

Checks written by hand (the Cronofy forms that a pydantic model cannot
state) run one after another; each raises `ValidationError` for its own
field. `Problems.check` runs one, keeps its error and goes on, so the 422
lists every field that is wrong, not only the first::

    problems = Problems()
    start = problems.check(lambda: parse_boundary(body.get("start"), "start"))
    end = problems.check(lambda: parse_boundary(body.get("end"), "end"))
    problems.raise_if_any()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from calsync.errors import ValidationError

T = TypeVar("T")


class Problems:
    """The validation errors found so far, by field, in Cronofy's shape."""

    def __init__(self) -> None:
        self.fields: dict[str, list[dict[str, str]]] = {}

    def __bool__(self) -> bool:
        return bool(self.fields)

    def add(self, field: str, key: str, description: str) -> None:
        entry = {"key": key, "description": description}
        found = self.fields.setdefault(field, [])
        if entry not in found:
            found.append(entry)

    def absorb(self, error: ValidationError) -> None:
        for field, entries in error.fields.items():
            for entry in entries:
                self.add(field, entry.get("key", "errors.invalid"), entry.get("description", ""))

    def check(self, parse: Callable[[], T]) -> T | None:
        """``parse()``, or None after recording the `ValidationError` it raised."""
        try:
            return parse()
        except ValidationError as error:
            self.absorb(error)
            return None

    def has(self, *fields: str) -> bool:
        """Whether any of ``fields`` (or a field under one, ``start.time``) has a problem."""
        return any(f == name or f.startswith(f"{name}.") for f in self.fields for name in fields)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)
