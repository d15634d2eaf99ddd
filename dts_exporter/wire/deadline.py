"""One deadline for a whole HTTP call: a watchdog thread shuts the call's socket down.

requests' timeout bounds each socket operation, not the call: a server that drips its
headers or body a byte at a time never trips it. `transport.send` arms a watch with the
call's deadline; the connections of the session (`Adapter`) report their socket to the
watch of the call running in their thread; past the deadline the watchdog shuts the socket
down, which makes the blocked read return at once, whatever it was reading (headers,
body, TLS). One daemon thread serves every call.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection


class Watch:
    """One call's deadline and the connections it used; `fired` once the watchdog cut them."""

    __slots__ = ("conns", "deadline", "done", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conns: list[tuple[HTTPConnection, socket.socket]] = []
        self.fired = False
        self.done = False


class _Watchdog:
    """One daemon thread that shuts down the sockets of calls past their deadline. A
    connection leaves its call's watch (under the lock) when it goes back to the pool,
    which urllib3 may do as soon as the body's last byte is read, before the call is
    over: so a socket another call reuses is never cut, and a connection whose call was
    cut is closed before another call can take it (`release`)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        # id(connection) -> the watches holding it (a connection kept alive serves one
        # call after another, but belongs to one at a time)
        self._holding: dict[int, list[Watch]] = {}

    def arm(self, deadline: float) -> Watch:
        watch = Watch(deadline)
        with self._lock:
            heapq.heappush(self._heap, (deadline, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadline", daemon=True)
                self._thread.start()
            self._lock.notify()
        return watch

    def use(self, watch: Watch, conn: HTTPConnection) -> None:
        with self._lock:
            if watch.done:
                return
            sock = conn.sock
            if sock is None:
                return
            # The socket itself: a response that closes its connection keeps reading
            # from the socket after the connection has let go of it.
            watch.conns.append((conn, sock))
            self._holding.setdefault(id(conn), []).append(watch)
            if watch.fired:
                _cut(sock)

    def release(self, conn: object) -> bool:
        """`conn` goes back to the pool: no watch holds it any more. True if its call was
        cut by the deadline (its socket is shut down: the caller closes it)."""
        with self._lock:
            for watch in self._holding.pop(id(conn), ()):
                watch.conns = [(c, sock) for c, sock in watch.conns if c is not conn]
                if watch.fired:
                    return True
            return False

    def disarm(self, watch: Watch) -> bool:
        """Stop watching; True if the deadline had already cut the call (its connections
        are closed then, so that none goes back to the pool half read)."""
        with self._lock:
            watch.done = True
            conns, watch.conns = watch.conns, []
            fired = watch.fired
            for conn, _ in conns:
                holders = self._holding.get(id(conn))
                if holders is not None:
                    holders[:] = [w for w in holders if w is not watch]
                    if not holders:
                        del self._holding[id(conn)]
        if fired:
            for conn, _ in conns:
                with contextlib.suppress(Exception):
                    conn.close()
        return fired

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._lock.wait()
                    continue
                now = time.monotonic()
                deadline, _, watch = self._heap[0]
                if deadline > now:
                    self._lock.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                watch.fired = True
                for _, sock in watch.conns:
                    _cut(sock)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, also for TLS: wakes a blocked recv with EOF.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


WATCHDOG = _Watchdog()
current = threading.local()  # .watch: the call running in this thread


class _Watched:
    """Mixed into urllib3's connections: the call running in this thread watches them."""

    def _watched(self) -> None:
        watch: Watch | None = getattr(current, "watch", None)
        if watch is not None:
            WATCHDOG.use(watch, self)  # type: ignore[arg-type]


class _HTTPConnection(_Watched, HTTPConnection):
    def connect(self) -> None:
        super().connect()  # bounded by the connect timeout (the time left)
        self._watched()

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        self._watched()
        return super().getresponse()


class _HTTPSConnection(_Watched, HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # bounded by the connect timeout (the time left)
        self._watched()

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        self._watched()
        return super().getresponse()


def _returned(conn: BaseHTTPConnection | None) -> None:
    """A connection going back to its pool leaves its call's watch; if the deadline cut
    that call, the connection is closed first (the next call taking it opens a new one)."""
    if conn is not None and WATCHDOG.release(conn):
        with contextlib.suppress(Exception):
            conn.close()


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _returned(conn)
        super()._put_conn(conn)


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _returned(conn)
        super()._put_conn(conn)


class Adapter(HTTPAdapter):
    """HTTPAdapter whose connections report their socket to the running call's watch."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
