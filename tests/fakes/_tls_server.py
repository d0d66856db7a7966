"""An HTTPS `ThreadingHTTPServer` for the fakes, under a `ThrowawayCA`.

The handshake runs in each request's own thread (the handler calls
``self.request.do_handshake()`` in ``setup``), so a client that hangs or refuses
the certificate, as one without ``ca_file`` does, never blocks the accept loop.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes._graph_tls import ThrowawayCA


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], ca: ThrowawayCA) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = ca.server_context()

    def get_request(self) -> Any:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that do not trust the CA drop the handshake: expected in tests
