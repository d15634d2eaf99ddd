"""A thin DTS OpenAPI client: signs, sends, retries. Returns plain dicts.

One keep-alive `requests.Session` (pool sized for the collector's concurrency) is shared by
every thread. Each attempt is signed afresh (new nonce and timestamp), waits for its
turn in the adaptive flow control of its (region, action) (see `flow`; throttled answers
slow it down), and never runs past the caller's deadline. Throttling, 5xx and
transport failures are retried with exponential backoff and jitter (honouring
`x-acs-retry-after`); authentication and parameter errors never are. Every failure ends
as a `DtsApiError` with a bounded code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from dts_exporter.base import errors
from dts_exporter.base.api import API_VERSION
from dts_exporter.base.credentials import CredentialsError, CredentialsProvider
from dts_exporter.base.errors import DtsApiError
from dts_exporter.wire import rpc, transport
from dts_exporter.wire.endpoints import endpoint_for_region
from dts_exporter.wire.flow import Flow
from dts_exporter.wire.retry import RetryPolicy, is_retryable

log = logging.getLogger(__name__)

# Called after every HTTP attempt with (action, code, seconds); code is "Success" on success.
Observer = Callable[[str, str, float], None]
# Called before every retry with (action, code of the failure being retried).
RetryObserver = Callable[[str, str], None]


class DtsClient:
    def __init__(
        self,
        *,
        region: str,
        credentials: CredentialsProvider,
        timeout_seconds: float,
        pool_size: int,
        endpoint: str | None = None,
        signature_version: rpc.SignatureVersion = "v3",
        retry: RetryPolicy | None = None,
        flow: Flow | None = None,
        observer: Observer | None = None,
        retry_observer: RetryObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.region = region
        self.timeout_seconds = timeout_seconds
        self.signature_version = signature_version
        self.retry = retry or RetryPolicy()
        self._endpoint_override = endpoint.rstrip("/") if endpoint else None
        self._credentials = credentials
        self.flow = flow
        self._observer = observer
        self._retry_observer = retry_observer
        self._clock = clock
        self._sleep = sleep
        self._session = transport.new_session(pool_size)

    @property
    def endpoint(self) -> str:
        return self.endpoint_for(self.region)

    def endpoint_for(self, region: str) -> str:
        return self._endpoint_override or endpoint_for_region(region)

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"DtsClient(endpoint={self.endpoint!r}, region={self.region!r})"

    # -- one call, with retries ----------------------------------------------------------

    def call(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        region: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """A signed RPC call, retried while worth it and while the deadline allows.

        `params` are sent as given (RegionId included where the action takes it); `region`
        picks the endpoint."""
        retries = 0
        failed: DtsApiError | None = None  # the last answer's error, while retrying
        while True:
            try:
                return self._attempt(action, params, region or self.region, deadline)
            except CredentialsError:
                raise  # the provider already retried and reported; another try will not help
            except _FlowRefusedError:
                # A later try would find the deadline nearer, not the turn. A retry refused
                # this way ends with what the service last said (Throttling.User, say): the
                # cause, where the refusal is only its consequence.
                if failed is not None:
                    raise failed from None
                raise
            except DtsApiError as exc:
                failed = exc
                if retries >= self.retry.max_retries or not is_retryable(exc.code):
                    raise
                retries += 1
                wait = self.retry.backoff(retries, exc.retry_after)
                if deadline is not None and self._clock() + wait >= deadline:
                    raise
                if self._retry_observer is not None:
                    self._retry_observer(action, exc.code)
                log.debug(
                    "retrying action=%s code=%s retry=%d wait=%.3f", action, exc.code, retries, wait
                )
                self._sleep(wait)

    def _attempt(
        self, action: str, params: Mapping[str, str], region: str, deadline: float | None
    ) -> dict[str, Any]:
        if deadline is not None and deadline - self._clock() <= 0:
            raise DtsApiError(
                errors.TIMEOUT, "scrape deadline reached before the request", action=action
            )
        flow = self.flow
        sent = flow.acquire(region, action, deadline) if flow is not None else None
        if flow is not None and sent is None:
            raise _FlowRefusedError(
                errors.TIMEOUT,
                "waiting for the client-side flow control would pass the deadline",
                action=action,
            )
        timeout = self.timeout_seconds  # what is left once the flow control let us go
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DtsApiError(
                    errors.TIMEOUT, "scrape deadline reached before the request", action=action
                )
            timeout = min(timeout, remaining)
        request = rpc.sign(
            self.endpoint_for(region),
            action,
            API_VERSION,
            params,
            self._credentials.get(),
            self.signature_version,
        )
        started = self._clock()
        code = errors.UNKNOWN_ERROR
        try:
            answer = transport.send(
                self._session,
                request.method,
                request.url,
                timeout=timeout,
                action=action,
                headers=request.headers,
            )
            try:
                body = transport.decode_response(action, answer.status, answer.body)
            except DtsApiError as exc:
                exc.retry_after = _retry_after(answer.headers)
                raise
            code = "Success"
            return body
        except DtsApiError as exc:
            code = exc.code
            raise
        finally:
            if flow is not None and sent is not None:
                flow.feedback(region, action, sent, throttled=code.startswith("Throttling"))
            if self._observer is not None:
                self._observer(action, code, self._clock() - started)


class _FlowRefusedError(DtsApiError):
    """A Timeout before sending: waiting for the flow control's turn would pass the
    deadline. Not retried."""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """`x-acs-retry-after` is in milliseconds."""
    for key, value in headers.items():
        if key.lower() == "x-acs-retry-after":
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                return None
    return None
