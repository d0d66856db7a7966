"""The one place that turns an exception into what the user reads and the exit code.

``DEVELOPERS.md`` has the table this module implements: every deliberate
error is a `CalsyncError`, printed as its message plus its ``hint`` with no
traceback; anything else is a bug, printed briefly with a request to report
it (the traceback only when asked for with ``--debug``).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import IO

import click

from calsync.errors import CalsyncError, UserError
from calsync.redaction import redact

#: Exit codes. 2 matches click's own usage errors: "you asked for something wrong".
EXIT_OK = 0
EXIT_USER = 2
EXIT_FAILURE = 1
#: BSD sysexits EX_SOFTWARE: an internal error, i.e. a bug in calsync.
EXIT_BUG = 70

REPORT_URL_HINT = "This is a bug in calsync; please report it with the command you ran."


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """What to print for one failure, and how to exit."""

    lines: tuple[str, ...]
    exit_code: int


def report_for(exc: BaseException, *, debug: bool = False) -> ErrorReport:
    """Map ``exc`` to its message lines and exit code (pure: prints nothing);
    secrets and the secret parts of URLs in the lines are redacted."""
    report = _report_for(exc, debug=debug)
    return ErrorReport(tuple(redact(line) for line in report.lines), report.exit_code)


def _report_for(exc: BaseException, *, debug: bool) -> ErrorReport:
    if isinstance(exc, CalsyncError):
        lines = [f"error: {exc.message}"]
        if exc.hint:
            lines.append(f"hint: {exc.hint}")
        code = EXIT_USER if isinstance(exc, UserError) else EXIT_FAILURE
        return ErrorReport(tuple(lines), code)
    summary = str(exc).strip().splitlines()
    detail = f": {summary[0]}" if summary else ""
    lines = [f"error: unexpected {type(exc).__name__}{detail}"]
    if debug:
        formatted = traceback.format_exception(exc)
        lines.extend("".join(formatted).rstrip("\n").splitlines())
    else:
        lines.append("hint: run again with --debug to see the traceback.")
    lines.append(REPORT_URL_HINT)
    return ErrorReport(tuple(lines), EXIT_BUG)


def emit(report: ErrorReport, file: IO[str] | None = None) -> None:
    """Print ``report`` (to stderr unless ``file`` is given)."""
    for line in report.lines:
        click.echo(line, file=file, err=file is None)
