"""uvicorn in a worker thread, with the process's signals left to the daemon.

uvicorn normally installs its own SIGTERM/SIGINT handlers. The daemon must own
those signals (SIGTERM drains the scheduler first, SIGHUP reloads), so the
server here never touches signal handlers and is told to stop explicitly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator
from typing import Any

import uvicorn

from calsync.errors import CalsyncError

log = logging.getLogger(__name__)


class _DropColorMessage(logging.Filter):
    """uvicorn attaches an ANSI-coloured copy of some messages as an extra; our
    formatters print extras, so the copy would be logged next to the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


_DROP_COLOR_MESSAGE = _DropColorMessage()


class _SignalFreeServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """Serves an ASGI app on ``host:port`` from a background thread."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            # Keep our logging configuration: uvicorn's loggers propagate to root.
            log_config=None,
            access_log=False,
            lifespan="auto",
            # "auto" picks httptools and uvloop when installed (uvicorn[standard],
            # a dependency), else h11 and asyncio: the C parser and loop save
            # about 1 ms of CPU a request on the read path.
            http="auto",
            loop="auto",
            timeout_graceful_shutdown=10,
        )
        logging.getLogger("uvicorn.error").addFilter(_DROP_COLOR_MESSAGE)
        self._server = _SignalFreeServer(config)
        self._thread = threading.Thread(target=self._server.run, name="calsync-api", daemon=True)

    def start(self, *, timeout: float = 30.0) -> None:
        """Start serving; returns once the socket is bound and startup has finished.

        Raises `CalsyncError` when the server cannot start (e.g. the port is taken:
        uvicorn logs the cause and ends its thread).
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise CalsyncError(
                    f"the API could not listen on {self.host}:{self.port}",
                    hint="See the log above; check [api] listen and whether the port is in use.",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise CalsyncError(f"the API did not start within {timeout:.0f}s")
            time.sleep(0.02)
        log.info("API listening on %s:%d", self.host, self.port)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, *, timeout: float = 15.0) -> None:
        """Finish in-flight requests and stop; safe to call more than once."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("API server did not stop within %.0fs; forcing", timeout)
                self._server.force_exit = True
                self._thread.join(2.0)
