"""Progress reporting for long pulls (the first full sync of a large calendar).

The engine calls a `ProgressSink` once per calendar pull: ``start`` with the
page's ``expected_total`` (None when the provider cannot tell), ``advance`` per
page, ``finish`` at the end (also after a failure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ProgressSink(Protocol):
    def start(self, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Shows nothing."""

    def start(self, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


class RichProgress:
    """A rich progress bar on stderr; shown only for pulls of at least ``min_total`` events."""

    def __init__(self, description: str = "syncing", *, min_total: int = 500) -> None:
        self.description = description
        self.min_total = min_total
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int | None) -> None:
        if total is None or total < self.min_total:
            return
        from rich.console import Console
        from rich.progress import Progress  # imported only when a bar is shown

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._task = None
