"""Reading a provider's pull: its pages up to the final one, reported to a progress sink."""

from __future__ import annotations

from collections.abc import Generator

from calsync.errors import TransientProviderError
from calsync.providers.base import Provider, PullPage, SyncWindow
from calsync.sync.progress import ProgressSink
from calsync.sync.state import Pulled


def pull_all(
    provider: Provider,
    calendar_remote_id: str,
    cursor: str | None,
    window: SyncWindow,
    progress: ProgressSink | None,
) -> Pulled:
    """The whole pull in memory (pulls with a cursor: changes since it)."""
    pulled = Pulled(from_scratch=cursor is None)
    pages = pull_pages(provider, calendar_remote_id, cursor, window, progress)
    try:
        for page in pages:
            pulled = pulled.add(page)
    finally:
        pages.close()
    if not pulled.final:
        raise TransientProviderError("the provider's listing ended without its final page")
    return pulled


def pull_pages(
    provider: Provider,
    calendar_remote_id: str,
    cursor: str | None,
    window: SyncWindow,
    progress: ProgressSink | None,
) -> Generator[PullPage, None, None]:
    """The pull's pages up to the final one, reported to ``progress``."""
    started = False
    try:
        for page in provider.pull(calendar_remote_id, cursor, window):
            if progress is not None and not started:
                progress.start(page.expected_total)
                started = True
            if progress is not None:
                progress.advance(len(page.changed) + len(page.deleted))
            yield page
            if page.final:
                return
    finally:
        if started and progress is not None:
            progress.finish()
