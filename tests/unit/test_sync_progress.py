"""`RichProgress` draws a real rich bar for a large pull and nothing for a small one.

`RichProgress` builds its own stderr `Console` when a bar starts; the test swaps
rich's `Console` class for one bound to a terminal-like buffer, so the real
rich rendering code runs and its output can be read back.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import rich.console

from calsync.sync.progress import RichProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    real_console = rich.console.Console

    def console_on_buffer(*_args: Any, **_kwargs: Any) -> rich.console.Console:
        return real_console(file=buffer, force_terminal=True, width=100, color_system=None)

    monkeypatch.setattr(rich.console, "Console", console_on_buffer)
    return buffer


def plain(buffer: io.StringIO) -> str:
    return ANSI.sub("", buffer.getvalue())


def test_a_pull_of_at_least_min_total_events_shows_its_progress(terminal: io.StringIO) -> None:
    progress = RichProgress("Work", min_total=500)
    progress.start(800)
    progress.advance(200)
    progress.advance(200)
    progress.finish()
    shown = plain(terminal)
    assert "Work" in shown
    assert "50%" in shown  # 400 of 800 when the bar stopped
    assert "100%" not in shown


def test_the_bar_follows_each_page_to_the_end(terminal: io.StringIO) -> None:
    progress = RichProgress("big", min_total=10)
    progress.start(10)
    progress.advance(10)
    progress.finish()
    assert "100%" in plain(terminal)


def test_a_pull_below_min_total_shows_nothing(terminal: io.StringIO) -> None:
    progress = RichProgress("small", min_total=500)
    progress.start(499)
    progress.advance(499)
    progress.finish()
    assert terminal.getvalue() == ""


def test_an_unknown_total_shows_nothing(terminal: io.StringIO) -> None:
    progress = RichProgress("unknown", min_total=1)
    progress.start(None)
    progress.advance(3)
    progress.finish()
    assert terminal.getvalue() == ""
