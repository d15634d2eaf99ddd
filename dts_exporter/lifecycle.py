"""The running exporter's lifecycle: signals, config reload, graceful shutdown.

SIGTERM/SIGINT stop accepting scrapes, let the one in flight finish (up to a bound) and
exit 0. SIGHUP and `POST /-/reload` re-read the config file: a bad new config (or
credentials that cannot be set up) is rejected with a log line and the old one kept.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from dts_exporter.api_stats import ApiStats
from dts_exporter.base.credentials import CredentialsError
from dts_exporter.base.errors import ConfigError
from dts_exporter.base.logfmt import quote, setup_logging
from dts_exporter.config import Config, load_config, secret_file_warnings
from dts_exporter.exporter import Exporter, build_exporter, make_credentials
from dts_exporter.web import ExporterServer

log = logging.getLogger("dts_exporter")


class Runtime:
    """The exporter built from a config file, swappable for a reloaded one."""

    def __init__(
        self,
        config_path: str,
        config: Config,
        exporter: Exporter,
        stats: ApiStats,
        shard: tuple[int, int] | None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.exporter = exporter
        self.stats = stats
        self.shard = shard
        self.server: ExporterServer | None = None
        self._lock = threading.Lock()

    def reload(self) -> tuple[bool, str]:
        """Re-read the config; on any problem keep the old one. (ok, one-line message)."""
        with self._lock:
            try:
                config = load_config(self.config_path)
                if not config.jobs and not config.discovery.enabled:
                    raise ConfigError(f"{self.config_path}: jobs: no jobs configured")
                credentials, sources = make_credentials(config, os.environ, Path.home(), self.stats)
                if not sources:
                    raise ConfigError("no credentials configured")
            except (ConfigError, CredentialsError) as exc:
                message = exc.message if isinstance(exc, CredentialsError) else str(exc)
                log.error("config reload rejected, keeping the old config error=%s", quote(message))
                return False, f"reload rejected, old config kept: {message}"
            setup_logging(config.log_level)
            for warning in secret_file_warnings(self.config_path, config):
                log.warning("insecure config file message=%s", quote(warning))
            fresh = build_exporter(config, credentials, self.stats, shard=self.shard)
            if self.server is not None:
                self.server.swap(fresh.registry, fresh.prober)
            old, self.exporter, self.config = self.exporter, fresh, config
        # A scrape may still be using the old collection: close it once that is over.
        timer = threading.Timer(config.scrape_timeout_seconds + 1.0, old.close)
        timer.daemon = True
        timer.start()
        log.info(
            "config reloaded path=%s jobs=%d discovery=%s",
            self.config_path,
            len(config.jobs),
            "on" if config.discovery.enabled else "off",
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
