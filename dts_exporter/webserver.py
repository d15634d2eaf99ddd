"""The HTTP server under the exporter's endpoints: bounded handler threads, TLS handshakes
in the request's thread, requests in flight tracked for a graceful shutdown, and a client
that hangs up early costing one debug line."""

from __future__ import annotations

import contextlib
import logging
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dts_exporter.base.logfmt import quote

log = logging.getLogger("dts_exporter.web")

# Handler threads at most: more connections wait in the listen backlog, not in threads.
DEFAULT_MAX_CONNECTIONS = 64
# A client that sends nothing (or a TLS handshake that stalls) for this long is dropped.
CLIENT_TIMEOUT_SECONDS = 15.0
# What a client that hangs up before its answer is written makes the server see.
DISCONNECTED = (BrokenPipeError, ConnectionResetError)


class BoundedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    tls: ssl.SSLContext | None = None

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        super().__init__(address, handler)
        # Connections (threads) at once; and requests being answered, for shutdown.
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle = threading.Condition()
        self._answering = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # the accept loop waits here when every slot is busy
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Marks a request being answered (an idle keep-alive connection is not)."""
        with self._idle:
            self._answering += 1
        try:
            yield
        finally:
            with self._idle:
                self._answering -= 1
                self._idle.notify_all()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            # The handshake happens here, in the request's own thread, so a slow or
            # plain-HTTP client cannot stall the accept loop.
            request.settimeout(CLIENT_TIMEOUT_SECONDS)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.debug(
                    "TLS handshake failed client=%s error=%s", client_address[0], quote(str(exc))
                )
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line instead of socketserver's traceback on stderr."""
        if isinstance(sys.exc_info()[1], DISCONNECTED):
            log.debug("client disconnected client=%s", client_address[0])
        else:
            log.error("request failed client=%s", client_address[0], exc_info=True)

    def wait_idle(self, seconds: float) -> bool:
        """Wait up to `seconds` for requests in flight to finish; False if some did not."""
        deadline = time.monotonic() + seconds
        with self._idle:
            while self._answering > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True
