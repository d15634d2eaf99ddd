"""Background collection (`collection_interval_seconds`): the exporter collects on its own
cadence, and every `/metrics` scrape is served the latest complete collection at once.

For fleets whose collection takes longer than a scrape may: scrapes make no API call, and
the age of what they serve is in `dts_last_refresh_timestamp_seconds` per id and
`dts_exporter_background_collection_timestamp_seconds`. Each collection may take the whole
interval (its deadline; ids not done by then read dts_up 0 with Timeout), and the next one
begins an interval after the previous began (at once, when one took all of it).

A scrape that arrives before the first collection has completed waits for it at most
FIRST_WAIT_SECONDS (a scrape in this mode answers at once, not after a collection); if it
is still not there, the scrape is answered with the exporter's own series only,
`dts_exporter_background_collection_timestamp_seconds` 0 and one log line.
`/probe` is not affected: it collects on demand.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from dts_exporter.collection.fanout import Collection
from dts_exporter.snapshot import Snapshot

log = logging.getLogger("dts_exporter.collection")

# How long a scrape waits for the first collection before it is answered without it.
FIRST_WAIT_SECONDS = 0.5
# What a scrape is served before the first background collection has completed.
NOT_YET = Snapshot(region="", jobs=(), results=(), duration_seconds=0.0, collected_at=0.0)


class Background:
    """One thread collecting every `interval` seconds; `latest()` is what scrapes serve.
    The collection's own deadline is its config's scrape_timeout_seconds: give it a config
    whose scrape_timeout_seconds is the interval (`startup` does)."""

    def __init__(
        self,
        collection: Collection,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._collection = collection
        self.interval = interval
        self._clock = clock
        self._wall = wall_clock
        self._changed = threading.Condition()
        self._latest: Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        self.completed = 0  # collections completed so far

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dts-background", daemon=True)
            self._thread.start()
            log.info("background collection started interval_seconds=%g", self.interval)

    def stop(self, wait: float = 0.0) -> None:
        """Begin no further collection (one under way ends by its deadline, or at once
        when the collection is closed); wait up to `wait` seconds for the thread."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None and wait > 0:
            self._thread.join(wait)

    def current(self) -> Snapshot | None:
        """The latest complete collection, None before the first."""
        with self._changed:
            return self._latest

    def seed(self, snapshot: Snapshot | None) -> None:
        """What to serve until the first collection completes (a reloaded exporter's
        predecessor's latest)."""
        if snapshot is None:
            return
        with self._changed:
            if self._latest is None:
                self._latest = snapshot
                self._changed.notify_all()

    def latest(self, wait: float) -> Snapshot:
        """The latest complete collection; before the first, wait for it up to `wait`
        seconds, then NOT_YET."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._latest is not None or self._stop.is_set(),
                timeout=wait if math.isfinite(wait) else None,
            )
            latest = self._latest
        if latest is not None:
            return latest
        if not self._warned:
            self._warned = True
            log.warning(
                "scrape served before the first background collection completed; no DTS "
                "series until it has waited_seconds=%g interval_seconds=%g",
                wait,
                self.interval,
            )
        return NOT_YET

    def _run(self) -> None:
        while not self._stop.is_set():
            began = self._clock()
            try:
                snapshot = self._collection.run()
            except Exception:  # only a closed collection's pool; never expected otherwise
                if not self._stop.is_set():
                    log.exception("background collection failed")
            else:
                with self._changed:
                    self._latest = replace(snapshot, collected_at=self._wall())
                    self.completed += 1
                    self._changed.notify_all()
            self._stop.wait(max(0.0, began + self.interval - self._clock()))
