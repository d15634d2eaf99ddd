"""Log lines on transitions, not on every scrape: an id's failure once when it starts (or its
code changes) and once on recovery; a note (unusable fields, merged duplicates) when it
changes. State is kept only for the ids the history keeps.

Probes name ids from outside, and a stream of probes of ever new ids is a stream of first
failures: the probe collection's log has a `LineLimit`, at most so many lines a minute;
the lines beyond are counted (dts_exporter_log_lines_suppressed_total) and the first of
them in a minute says so in one line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import quote, value

log = logging.getLogger("dts_exporter.collection")

Key = tuple[str, str, str]  # (action, job id, task id)

WINDOW_SECONDS = 60.0


class LineLimit:
    """At most `lines` log lines per minute (a fixed window); each line beyond calls
    `suppressed`, and the first of them in a window writes one line saying so."""

    def __init__(
        self,
        lines: int,
        reason: str,
        suppressed: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lines = lines
        self._reason = reason
        self._suppressed = suppressed
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -WINDOW_SECONDS
        self._used = 0
        self._told = False

    def allow(self) -> bool:
        now = self._clock()
        with self._lock:
            if now - self._window >= WINDOW_SECONDS:
                self._window, self._used, self._told = now, 0, False
            allowed = self._used < self.lines
            self._used += allowed
            tell = not allowed and not self._told
            self._told = self._told or tell
        if tell:
            log.warning(
                "log lines over the limit; the rest of this minute's are counted in "
                "dts_exporter_log_lines_suppressed_total, not written reason=%s limit=%d",
                self._reason,
                self.lines,
            )
        if not allowed:
            self._suppressed()
        return allowed


class StateLog:
    def __init__(self, limit: LineLimit | None = None) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._codes: dict[Key, str] = {}
        self._notes: dict[tuple[Key, str], frozenset[str]] = {}

    def _allow(self) -> bool:
        return self._limit is None or self._limit.allow()

    def result(self, key: Key, error: DtsApiError | None) -> None:
        action, job_id, task_id = key
        with self._lock:
            previous = self._codes.get(key)
            current = None if error is None else error.code
            if current is None:
                self._codes.pop(key, None)
            else:
                self._codes[key] = current
        if error is not None and current != previous and self._allow():
            log.warning(
                "DTS call failed action=%s job_id=%s task_id=%s code=%s http_status=%s "
                "request_id=%s message=%s",
                action,
                value(job_id),
                value(task_id),
                value(error.code),
                error.http_status if error.http_status is not None else "",
                value(error.request_id),
                quote(error.message),
            )
        elif error is None and previous is not None and self._allow():
            log.info(
                "DTS call recovered action=%s job_id=%s task_id=%s previous_code=%s",
                action,
                value(job_id),
                value(task_id),
                value(previous),
            )

    def notes(self, key: Key, kind: str, notes: tuple[str, ...]) -> None:
        action, job_id, task_id = key
        current = frozenset(notes)
        with self._lock:
            changed = self._notes.get((key, kind), frozenset()) != current
            if notes:
                self._notes[(key, kind)] = current
            else:
                self._notes.pop((key, kind), None)
        if notes and changed and self._allow():
            log.warning(
                "%s action=%s job_id=%s task_id=%s count=%d first=%s",
                kind,
                action,
                value(job_id),
                value(task_id),
                len(notes),
                quote(notes[0]),
            )

    def keep_only(self, keys: Collection[Key]) -> None:
        """Forget ids no longer kept; a failure seen again is logged again."""
        with self._lock:
            self._codes = {k: v for k, v in self._codes.items() if k in keys}
            self._notes = {k: v for k, v in self._notes.items() if k[0] in keys}

    def __len__(self) -> int:
        with self._lock:
            return len(self._codes) + len(self._notes)
