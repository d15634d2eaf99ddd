"""The HTTP server under the exporter's endpoints, built as event-driven servers are (nginx,
Go's net/http with ReadHeaderTimeout): a slow client costs a file descriptor, never a
handler thread.

- One `http-heads` thread waits on every open connection with a selector: it finishes TLS
  handshakes and reads request heads (request line and headers) without blocking. A
  connection must deliver its whole head within `HEAD_TIMEOUT_SECONDS` of being accepted
  (TLS handshake included), or of its first byte after a keep-alive answer; an idle
  keep-alive connection is closed after `IDLE_TIMEOUT_SECONDS`. Trickling one header line
  at a time does not extend the deadline. A client that misses it gets a 408 (when it had
  started a request) and one debug line.
- Only a complete head is handed to a handler thread (at most `max_connections`, started
  as needed), which answers exactly one request and gives a keep-alive connection back
  to the selector. So /healthz and scrapes are answered while hundreds of slow or idle
  clients are connected.
- Open connections are capped (`MAX_OPEN_CONNECTIONS`, below the usual 1024 file
  descriptors); beyond that a new connection is closed at once with a debug line.
- Requests in flight are tracked for a graceful shutdown; a client that hangs up early
  costs one debug line.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from dts_exporter.base.logfmt import quote

log = logging.getLogger("dts_exporter.web")

# Handler threads at most: complete requests beyond that wait for a free one.
DEFAULT_MAX_CONNECTIONS = 64
# A request's head (and a TLS handshake before it) must arrive within this, all lines together.
HEAD_TIMEOUT_SECONDS = 10.0
# A keep-alive connection with no new request for this long is closed (it holds no thread).
IDLE_TIMEOUT_SECONDS = 60.0
# Connections open at once (idle, reading a head, or being answered).
MAX_OPEN_CONNECTIONS = 512
# A head longer than this is handed to the handler as is, which refuses it (414 / 431).
MAX_HEAD_BYTES = 65536 + 4096
# Once answering: a client silent this long while sending a body or reading the answer.
CLIENT_TIMEOUT_SECONDS = 15.0
# What a client that hangs up before its answer is written makes the server see.
DISCONNECTED = (BrokenPipeError, ConnectionResetError)
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    address: Any
    deadline: float
    handshaking: bool = False
    buffer: bytearray = field(default_factory=bytearray)


def _head_complete(buffer: bytearray) -> bool:
    return b"\n\r\n" in buffer or b"\n\n" in buffer


class _Reader:
    """The handler's `rfile`: the bytes already read by the selector, then the socket."""

    def __init__(self, sock: socket.socket, buffer: bytearray) -> None:
        self.sock = sock
        self.buffer = buffer
        self.closed = False

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            if 0 <= limit <= len(self.buffer) or not self._fill():
                return self._take(len(self.buffer) if limit < 0 else limit)

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self.buffer) < size) and self._fill():
            pass
        return self._take(len(self.buffer) if size < 0 else size)

    def close(self) -> None:
        self.closed = True


class _OneRequest(BaseHTTPRequestHandler):
    """Mixed in before the server's handler: answers one request whose head the selector
    has read, and leaves a keep-alive connection to the server."""

    conn: _Conn
    keep_alive = False

    def __init__(self, conn: _Conn, client_address: Any, server: Any) -> None:
        self.conn = conn
        super().__init__(conn.sock, client_address, server)

    def setup(self) -> None:
        super().setup()
        made = self.rfile  # unused: closed, or the socket would stay open after close()
        self.rfile = _Reader(self.conn.sock, self.conn.buffer)  # type: ignore[assignment]
        made.close()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if not self.close_connection:
            self.keep_alive = True
            self.close_connection = True  # the next request's head goes back to the selector


class BoundedServer(HTTPServer):
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
        self._handler = type(f"OneRequest{handler.__name__}", (_OneRequest, handler), {})
        self._max_workers = max_connections
        self._lock = threading.Lock()
        self._workers = self._idle_workers = self._pending = self._open = 0
        self._ready: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._incoming: list[_Conn] = []
        self._closing = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._heads = threading.Thread(target=self._read_heads, name="http-heads", daemon=True)
        self._heads.start()
        # Requests being answered (an idle keep-alive connection is not), for shutdown.
        self._idle = threading.Condition()
        self._answering = 0

    # -- accepting (the serve_forever thread) ------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self._open >= MAX_OPEN_CONNECTIONS
            if not full:
                self._open += 1
        if full:
            log.debug("too many open connections client=%s", client_address[0])
            super().shutdown_request(request)
            return
        conn = _Conn(request, client_address, time.monotonic() + HEAD_TIMEOUT_SECONDS)
        try:
            request.setblocking(False)
            if self.tls is not None:
                conn.sock = self.tls.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
                conn.handshaking = True
        except OSError as exc:
            log.debug("connection failed client=%s error=%s", client_address[0], quote(str(exc)))
            self._close(conn)
            return
        self._hand_over(conn)

    def _hand_over(self, conn: _Conn) -> None:
        with self._lock:
            self._incoming.append(conn)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- reading heads (the http-heads thread) -----------------------------------------------

    def _read_heads(self) -> None:
        next_sweep = 0.0
        while not self._closing:
            for key, _ in self._selector.select(timeout=0.25):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    try:
                        self._readable(key.data)
                    except Exception:  # never expected; this thread must keep going
                        log.error(
                            "reading a request failed client=%s", key.data.address[0], exc_info=True
                        )
                        self._drop(key.data)
            with self._lock:
                incoming, self._incoming = self._incoming, []
            for conn in incoming:
                self._watch(conn)
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + 0.2
                for key in list(self._selector.get_map().values()):
                    if key.data is not None and key.data.deadline <= now:
                        self._expired(key.data)
        for key in list(self._selector.get_map().values()):
            if key.data is not None:
                self._close(key.data)
        self._selector.close()

    def _watch(self, conn: _Conn) -> None:
        if conn.buffer and _head_complete(conn.buffer):  # a pipelined request
            self._dispatch(conn)
            return
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):
            self._close(conn)

    def _readable(self, conn: _Conn) -> None:
        if conn.handshaking:
            assert isinstance(conn.sock, ssl.SSLSocket)
            try:
                conn.sock.do_handshake()
            except ssl.SSLWantReadError:
                self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
                return
            except ssl.SSLWantWriteError:
                self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
                return
            except OSError as exc:
                log.debug(
                    "TLS handshake failed client=%s error=%s", conn.address[0], quote(str(exc))
                )
                self._drop(conn)
                return
            conn.handshaking = False
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
        while len(conn.buffer) < MAX_HEAD_BYTES and not _head_complete(conn.buffer):
            try:
                chunk = conn.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError as exc:
                log.debug(
                    "client disconnected client=%s error=%s", conn.address[0], quote(str(exc))
                )
                self._drop(conn)
                return
            if not chunk:  # the client closed the connection
                self._drop(conn)
                return
            if not conn.buffer:  # a request starts: its head has HEAD_TIMEOUT_SECONDS
                conn.deadline = min(conn.deadline, time.monotonic() + HEAD_TIMEOUT_SECONDS)
            conn.buffer += chunk
        self._selector.unregister(conn.sock)
        self._dispatch(conn)

    def _expired(self, conn: _Conn) -> None:
        if conn.buffer or conn.handshaking:
            what = "TLS handshake" if conn.handshaking else "request head"
            log.debug(
                "%s timed out client=%s seconds=%s bytes=%d",
                what,
                conn.address[0],
                HEAD_TIMEOUT_SECONDS,
                len(conn.buffer),
            )
            if not conn.handshaking:
                with contextlib.suppress(OSError):
                    conn.sock.send(_REQUEST_TIMEOUT)
        else:
            log.debug("idle connection closed client=%s", conn.address[0])
        self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        self._close(conn)

    def _close(self, conn: _Conn) -> None:
        with self._lock:
            self._open -= 1
        super().shutdown_request(conn.sock)

    # -- answering (handler threads) ---------------------------------------------------------

    def _dispatch(self, conn: _Conn) -> None:
        try:
            conn.sock.settimeout(CLIENT_TIMEOUT_SECONDS)
        except OSError:
            self._close(conn)
            return
        with self._lock:
            self._pending += 1
            start = self._pending > self._idle_workers and self._workers < self._max_workers
            if start:
                self._workers += 1
        if start:
            threading.Thread(target=self._work, name="http", daemon=True).start()
        self._ready.put(conn)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle_workers += 1
            conn = self._ready.get()
            with self._lock:
                self._idle_workers -= 1
                self._pending -= 1
            if conn is None:
                return
            self._answer(conn)

    def _answer(self, conn: _Conn) -> None:
        keep_alive = False
        try:
            handler = self._handler(conn, conn.address, self)
            keep_alive = bool(getattr(handler, "keep_alive", False)) and not self._closing
        except Exception:
            self.handle_error(conn.sock, conn.address)
        if not keep_alive:
            self._close(conn)
            return
        try:
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        now = time.monotonic()
        conn.deadline = now + (HEAD_TIMEOUT_SECONDS if conn.buffer else IDLE_TIMEOUT_SECONDS)
        self._hand_over(conn)

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

    def server_close(self) -> None:
        """Closes the listening socket, every connection waiting for a head, and stops the
        handler threads once they are done."""
        super().server_close()
        if not hasattr(self, "_heads"):  # binding failed: nothing was started
            return
        self._closing = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if threading.current_thread() is not self._heads:
            self._heads.join(timeout=5)
        with self._lock:
            left, self._incoming = self._incoming, []
        for conn in left:
            self._close(conn)
        with self._lock:
            workers = self._workers
        for _ in range(workers):
            self._ready.put(None)
        self._wake_r.close()
        self._wake_w.close()
