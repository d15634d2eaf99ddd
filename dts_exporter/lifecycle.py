"""The running exporter's lifecycle: signals, config reload, graceful shutdown.

SIGTERM/SIGINT stop accepting scrapes, let the one in flight finish (up to a bound) and
exit 0. SIGHUP and `POST /-/reload` re-read the config file: a bad new config (or
credentials that cannot be set up) is rejected with a log line and the old one kept. A
`--log-level` given on the command line outlives reloads.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from dts_exporter.base.logfmt import quote, setup_logging
from dts_exporter.config import Config, LogLevel
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import Started, StartupError, start
from dts_exporter.web import ExporterServer, Reloader

log = logging.getLogger("dts_exporter")


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
        self._lock = threading.Lock()

    @property
    def reloader(self) -> Reloader | None:
        """`reload`, for a config read from a file; a ready config has none to re-read."""
        return self.reload if isinstance(self.source, str) else None

    def reload(self) -> tuple[bool, str]:
        """Start again from the config file; on any problem keep the old exporter and config.
        Returns (ok, a one-line message)."""
        with self._lock:
            try:
                started = start(self.source, self.stats, shard=self.shard, log_level=self.log_level)
            except StartupError as exc:
                setup_logging(self.config.log_level)  # `start` may have set the new one's
                log.error(
                    "config reload rejected, keeping the old config error=%s", quote(str(exc))
                )
                return False, f"reload rejected, old config kept: {exc}"
            if self.server is not None:
                self.server.swap(started.exporter)
            old, self.exporter, self.config = self.exporter, started.exporter, started.config
        # A scrape may still be using the old collection: close it once that is over.
        timer = threading.Timer(started.config.scrape_timeout_seconds + 1.0, old.close)
        timer.daemon = True
        timer.start()
        log.info(
            "config reloaded path=%s jobs=%d discovery=%s",
            self.source,
            len(started.config.jobs),
            "on" if started.config.discovery.enabled else "off",
        )
        return True, "config reloaded"


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
