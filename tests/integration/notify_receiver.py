"""A real HTTP webhook receiver on 127.0.0.1 for the notification tests.

`Receiver` records every POST (headers, raw body, arrival time) and answers
with whatever `respond` returns (default 200), so tests can make it fail,
time out, ask for Retry-After or answer 410.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def kind(self) -> str:
        return str(self.json["notification"]["type"])


Reply = tuple[int, dict[str, str]]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        #: Every POST, answered 2xx or not.
        self.all_attempts: list[Received] = []
        self.respond: Callable[[Received], Reply] = lambda _r: (200, {})
        self.delay = 0.0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                item = Received(
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers = receiver.respond(item)
                with receiver._cond:
                    receiver.all_attempts.append(item)
                    if 200 <= status < 300:
                        receiver.received.append(item)
                    receiver._cond.notify_all()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10) -> bool:
        """Poll ``predicate`` (it may also look at the store) until true or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if predicate(list(self.received)):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
