"""The running exporter's lifecycle: signals, config reload, graceful shutdown.

SIGTERM/SIGINT stop accepting scrapes, let the one in flight finish (up to a bound) and
exit 0. SIGHUP and (with `--web.enable-lifecycle`) `POST /-/reload` re-read the config
file: a bad new config (or credentials that cannot be set up) is rejected with a log line
and the old one kept. Reloads run one at a time, and requests that arrive while one runs
share the next. A `--log-level` given on the command line outlives reloads.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from dts_exporter.base.logfmt import quote, setup_logging
from dts_exporter.config import Config, LogLevel
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import Started, StartupError, start
from dts_exporter.web import ExporterServer, Reloader

log = logging.getLogger("dts_exporter")


class Closeable(Protocol):
    def close(self) -> None: ...


class Closer:
    """Closes retired exporters once the scrapes that may still use them are over: one
    background thread for every reload, started with the first."""

    def __init__(self) -> None:
        self._due: list[tuple[float, Closeable]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def close_later(self, thing: Closeable, delay: float) -> None:
        with self._wake:
            self._due.append((time.monotonic() + delay, thing))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="closer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close_all(self) -> None:
        """Close everything still waiting, now (at shutdown)."""
        with self._wake:
            due, self._due = self._due, []
        for _, thing in due:
            _close(thing)

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                ready = [thing for deadline, thing in self._due if deadline <= now]
                self._due = [(deadline, thing) for deadline, thing in self._due if deadline > now]
                if not ready:
                    next_due = min((deadline for deadline, _ in self._due), default=None)
                    self._wake.wait(None if next_due is None else next_due - now)
                    continue
            for thing in ready:
                _close(thing)


def _close(thing: Closeable) -> None:
    try:
        thing.close()
    except Exception:  # never expected; the next one must still be closed
        log.exception("closing a retired exporter failed")


class Runtime:
    """The exporter started from a config, swappable for a reloaded one."""

    def __init__(
        self,
        source: str | Config,
        started: Started,
        stats: ApiStats,
        shard: tuple[int, int] | None,
        log_level: LogLevel | None = None,
    ) -> None:
        self.source = source
        self.log_level = log_level  # the command line's, kept over every reload
        self.config = started.config
        self.exporter = started.exporter
        self.stats = stats
        self.shard = shard
        self.server: ExporterServer | None = None
        self._lock = threading.Lock()  # one reload at a time
        self._begun = 0  # reloads begun so far
        self._last: tuple[bool, str] = (True, "config reloaded")
        self._closer = Closer()

    @property
    def reloader(self) -> Reloader | None:
        """`reload`, for a config read from a file; a ready config has none to re-read."""
        return self.reload if isinstance(self.source, str) else None

    def reload(self) -> tuple[bool, str]:
        """Start again from the config file; on any problem keep the old exporter and config.
        A reload that began after this call and has finished answers it too (coalescing).
        Returns (ok, a one-line message)."""
        wanted = self._begun + 1  # a reload begun after now reads the file as it is now
        with self._lock:
            if self._begun >= wanted:
                return self._last
            self._begun += 1
            self._last = self._reload()
            return self._last

    def _reload(self) -> tuple[bool, str]:
        try:
            started = start(self.source, self.stats, shard=self.shard, log_level=self.log_level)
        except StartupError as exc:
            setup_logging(self.config.log_level)  # `start` may have set the new one's
            log.error("config reload rejected, keeping the old config error=%s", quote(str(exc)))
            return False, f"reload rejected, old config kept: {exc}"
        started.exporter.succeed(self.exporter)  # stops the old background collection
        if self.server is not None:
            self.server.swap(started.exporter)
        old, self.exporter, self.config = self.exporter, started.exporter, started.config
        # A scrape may still be using the old collection: close it once that is over.
        self._closer.close_later(old, started.config.scrape_timeout_seconds + 1.0)
        log.info(
            "config reloaded path=%s jobs=%d discovery=%s",
            self.source,
            len(started.config.jobs),
            "on" if started.config.discovery.enabled else "off",
        )
        return True, "config reloaded"

    def close(self) -> None:
        """At shutdown: close the exporter and any retired one not closed yet."""
        self._closer.close_all()
        self.exporter.close()


_stop_requested: list[float] = []  # when SIGTERM/SIGINT arrived


def wait_for_signals(on_reload: Callable[[], object] | None = None) -> None:
    """Block until SIGTERM or SIGINT; run `on_reload` (in this thread) on each SIGHUP."""
    stop = threading.Event()
    reload = threading.Event()
    wake = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            reload.set()
        else:
            log.info("shutting down signal=%s", signal.Signals(signum).name)
            _stop_requested.append(time.monotonic())
            stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGHUP, handler if on_reload is not None else signal.SIG_IGN)
    while not stop.is_set():
        wake.wait(3600)
        wake.clear()
        if reload.is_set() and not stop.is_set():
            reload.clear()
            log.info("reloading config signal=SIGHUP")
            if on_reload is not None:
                on_reload()


def shut_down(server: ExporterServer, grace_seconds: float) -> None:
    """Stop accepting scrapes and give the ones in flight `grace_seconds` to finish."""
    if not server.close(grace_seconds):
        log.warning(
            "scrapes still running at shutdown were cut off grace_seconds=%g", grace_seconds
        )


def exit_without_stuck_workers(scrape_timeout: float) -> None:
    """After shutdown: wait for worker threads until scrape_timeout + 4 s after the signal,
    then exit even if some are still stuck in a call (the interpreter would otherwise join
    them at exit and hang on a server that never finishes an answer)."""
    started = _stop_requested[0] if _stop_requested else time.monotonic()
    deadline = started + scrape_timeout + 4.0
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not threading.current_thread() and not t.daemon and t.is_alive()
    ]
    if stuck:
        log.warning(
            "calls still running at exit, exiting without them threads=%d names=%s",
            len(stuck),
            quote(",".join(sorted(stuck))),
        )
        logging.shutdown()
        os._exit(0)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 256 * 1024


def return_freed_memory() -> None:
    """Make glibc give large freed buffers (answer bodies) back to the system at once.

    glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB),
    after which bodies are allocated in per-thread arenas that keep the memory: 16 threads
    reading refused 32 MiB bodies left RSS ~450 MiB up for good. A fixed threshold
    (which also turns that adjustment off) keeps RSS back near the base after every
    scrape. Elsewhere (musl, macOS) this is a debug line and nothing else.
    """
    try:
        # The process's own symbols: libc's, without looking for the library (which
        # would start ldconfig).
        ok = int(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) == 1
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) not available, freed memory may stay mapped")
