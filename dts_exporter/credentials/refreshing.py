"""Temporary credentials, cached and refreshed ahead of their expiration."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dts_exporter.base.credentials import Credentials, CredentialsError
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import quote

log = logging.getLogger(__name__)

# Refresh when this share of the lifetime is left (15 minutes at most), as the SDK does.
REFRESH_FRACTION = 0.25
MAX_REFRESH_AHEAD_SECONDS = 900.0

# Called after each refresh attempt with (provider name, code); code is "Success" or an error.
RefreshObserver = Callable[[str, str], None]


class RefreshingProvider:
    """Calls `fetch` when there are no credentials or they are close to expiring.

    A failed refresh keeps serving credentials that have not yet expired, and raises
    CredentialsError once they have; the next `get` tries again. Concurrent callers share
    one refresh.
    """

    def __init__(
        self,
        name: str,
        fetch: Callable[[], Credentials],
        *,
        clock: Callable[[], float] = time.time,
        observer: RefreshObserver | None = None,
    ) -> None:
        self._name = name
        self._fetch = fetch
        self._clock = clock
        self._observer = observer
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._refresh_at = 0.0
        self._last_error = ""

    @property
    def name(self) -> str:
        return self._name

    def get(self) -> Credentials:
        with self._lock:
            now = self._clock()
            cached = self._cached
            if cached is not None and now < self._refresh_at:
                return cached
            try:
                fresh = self._fetch()
            except DtsApiError as exc:
                self._report(exc.code)
                if exc.code != self._last_error:
                    log.warning(
                        "credential refresh failed provider=%s code=%s message=%s",
                        self._name,
                        exc.code,
                        quote(exc.message),
                    )
                self._last_error = exc.code
                if cached is not None and cached.expiration is not None and now < cached.expiration:
                    return cached
                raise CredentialsError(exc.code, f"{self._name}: {exc.message}") from None
            self._report("Success")
            if self._last_error:
                log.info("credential refresh recovered provider=%s", self._name)
            self._last_error = ""
            self._cached = fresh
            if fresh.expiration is None:
                self._refresh_at = float("inf")
            else:
                ahead = min(MAX_REFRESH_AHEAD_SECONDS, (fresh.expiration - now) * REFRESH_FRACTION)
                self._refresh_at = fresh.expiration - max(ahead, 0.0)
            return fresh

    def _report(self, code: str) -> None:
        if self._observer is not None:
            self._observer(self._name, code)

    def __repr__(self) -> str:
        return f"RefreshingProvider(name={self._name!r})"
