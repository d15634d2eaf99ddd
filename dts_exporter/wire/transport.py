"""HTTP for Alibaba Cloud RPC APIs: send with a size limit, map every failure to a code.

Shared by the DTS client and the credential providers (STS, ECS metadata, credentials
URI), so they report failures the same way: `DtsApiError` with a bounded code.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from dts_exporter import __version__
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.wire.deadline import WATCHDOG, Adapter, Watch, current

# The largest realistic page is ~7.8 MiB: DescribeInitializationStatus at PageSize 100 with
# every structure object a 300-column table's DDL (~48 KiB, non-ASCII comments), a 4 KiB
# error message and 8 constraints, and 100 data and sync entries with 4 KiB errors
# (`bench/pagesize.py`, bench/RESULTS.md "Body cap (issue 12)"). The cap is 4x that: a real
# page always fits, and a hostile answer costs at most 32 MiB (counted decompressed).
MAX_BODY_BYTES = 32 * 1024 * 1024
_CHUNK_BYTES = 256 * 1024
# Bodies being read at once hold at most this much beyond their first MiB each: without
# it, 16 calls answered with bodies at the cap would hold 16 x 32 MiB. A call that needs
# more while the others hold it all is refused (InvalidResponse) rather than wait for them.
BODY_BUDGET_BYTES = 128 * 1024 * 1024
_FREE_BYTES = 1024 * 1024


class _Budget:
    def __init__(self, total: int) -> None:
        self.total = total
        self._left = total
        self._lock = threading.Lock()

    def take(self, wanted: int) -> bool:
        with self._lock:
            if wanted > self._left:
                return False
            self._left -= wanted
            return True

    def give(self, count: int) -> None:
        with self._lock:
            self._left += count


_BUDGET = _Budget(BODY_BUDGET_BYTES)
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,79}$")
# Bodies above this size are parsed one at a time: the objects a parse builds take about
# ten times the body, and sixteen large pages parsed at once leave the allocator's arenas
# fragmented long after the objects are gone (RSS measured in bench/hostile_rss.py).
LARGE_BODY_BYTES = 1024 * 1024
_LARGE_PARSE = threading.Lock()


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def new_session(pool_size: int) -> requests.Session:
    """A keep-alive session with a pool for `pool_size` concurrent requests and no
    urllib3-level retries (retrying is the caller's decision)."""
    session = requests.Session()
    adapter = Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"dts-exporter/{__version__}"
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    action: str,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
) -> HttpAnswer:
    """One HTTP request; the body is read up to MAX_BODY_BYTES, and the whole call
    (connect, headers, body) ends within `timeout`: past it, the watchdog shuts the socket
    down and the call is the error `Timeout`, however slowly the server was dripping.
    Redirects are never followed (a signed request or a token must not go where a server
    points): a 3xx answer is the error `HTTP3xx`.
    """
    watch = WATCHDOG.arm(time.monotonic() + timeout)
    late = DtsApiError(errors.TIMEOUT, f"no complete answer within {timeout:.1f}s", action=action)
    response: requests.Response | None = None
    try:
        current.watch = watch
        try:
            response = session.request(
                method,
                url,
                timeout=timeout,
                stream=True,
                headers=headers,
                data=data,
                allow_redirects=False,
            )
        finally:
            current.watch = None
        status = response.status_code
        if 300 <= status < 400:
            raise DtsApiError(
                f"HTTP{status}",
                f"HTTP {status} redirect not followed",
                action=action,
                http_status=status,
            )
        body = _read_body(response, action, watch)
        if WATCHDOG.disarm(watch):  # cut at the deadline: what arrived may be short
            raise late
        return HttpAnswer(status, dict(response.headers), body)
    except DtsApiError as exc:
        if exc is not late and WATCHDOG.disarm(watch):
            raise late from None
        raise
    except requests.RequestException as exc:
        if WATCHDOG.disarm(watch) or isinstance(exc, requests.Timeout) or _timed_out(exc):
            # requests reports a read timeout while streaming the body as a
            # ConnectionError (wrapping urllib3's ReadTimeoutError): it is a timeout.
            raise late from None
        if isinstance(exc, requests.ConnectionError):
            code = errors.CONNECTION_ERROR
        else:
            code = errors.INVALID_RESPONSE
        raise DtsApiError(code, describe_transport_error(exc), action=action) from None
    finally:
        WATCHDOG.disarm(watch)  # before the connection goes back to the pool
        if response is not None:
            response.close()


def _read_body(response: requests.Response, action: str, watch: Watch) -> bytes:
    """The (decoded) body, refused as soon as it passes MAX_BODY_BYTES: the count is of
    decompressed bytes, so a gzip bomb stops at the cap, not after inflating."""
    status = response.status_code
    too_big = DtsApiError(
        errors.INVALID_RESPONSE,
        f"response exceeds the {MAX_BODY_BYTES} byte limit",
        action=action,
        http_status=status,
    )
    declared = response.headers.get("Content-Length", "")
    if (
        declared.isdigit()
        and int(declared) > MAX_BODY_BYTES
        and not response.headers.get("Content-Encoding")
    ):
        raise too_big  # said so up front: not a byte of it is read
    # BytesIO hands its buffer over on getvalue(): no second copy of the body.
    buffer = io.BytesIO()
    taken = 0  # of the budget, beyond the free first MiB
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
            if watch.fired:
                break
            size = buffer.tell() + len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_big
            if size - _FREE_BYTES > taken:
                step = max(size - _FREE_BYTES - taken, _CHUNK_BYTES * 4)
                if not _BUDGET.take(step):
                    raise DtsApiError(
                        errors.INVALID_RESPONSE,
                        f"answers being read at once exceed the {_BUDGET.total} byte "
                        f"budget ({size} bytes of this one so far)",
                        action=action,
                        http_status=status,
                    )
                taken += step
            buffer.write(chunk)
        return buffer.getvalue()
    finally:
        _BUDGET.give(taken)
        buffer.close()  # a refused body is freed now, not when its frame is


def decode_response(action: str, status: int, content: bytes) -> dict[str, Any]:
    """Turn an HTTP answer into the JSON object, or raise DtsApiError with the right code."""
    try:
        if len(content) > LARGE_BODY_BYTES:
            with _LARGE_PARSE:
                body: object = json.loads(content)
        else:
            body = json.loads(content)
    except RecursionError:
        # json's decoder recurses per level: a body nested deeper than the interpreter's
        # recursion limit (far above any real answer) stops it. Checked here, not scanned
        # beforehand, so a normal answer pays nothing for it.
        raise DtsApiError(
            errors.INVALID_RESPONSE,
            f"HTTP {status} body is JSON nested deeper than {sys.getrecursionlimit()} levels",
            action=action,
            http_status=status,
        ) from None
    except (ValueError, UnicodeDecodeError):
        body = None
    if status >= 400:
        if isinstance(body, dict) and body.get("Code"):
            raise DtsApiError(
                bounded_code(body.get("Code")),
                redact(str(body.get("Message") or "")),
                action=action,
                http_status=status,
                request_id=str(body.get("RequestId") or ""),
            )
        raise DtsApiError(
            f"HTTP{status}",
            f"HTTP {status} without an error body",
            action=action,
            http_status=status,
        )
    if not isinstance(body, dict):
        what = "not JSON" if body is None else f"a JSON {type(body).__name__}, not an object"
        raise DtsApiError(
            errors.INVALID_RESPONSE,
            f"HTTP {status} body is {what} ({len(content)} bytes)",
            action=action,
            http_status=status,
        )
    if not is_success(body):
        raise DtsApiError(
            bounded_code(body.get("ErrCode") or body.get("Code")),
            redact(str(body.get("ErrMessage") or body.get("Message") or "Success is false")),
            action=action,
            http_status=status,
            request_id=str(body.get("RequestId") or ""),
        )
    return body


# SignatureDoesNotMatch quotes the server's string to sign: for signature v1 that is every
# query parameter, the SecurityToken included. Error messages end up in logs, `check` output
# and exception text, so the quoted request is cut, and any token or signature redacted.
_STRING_TO_SIGN_RE = re.compile(r"(string to sign is:?).*", re.IGNORECASE | re.DOTALL)
_SECRET_PARAM_RE = re.compile(
    r"((?:SecurityToken|security-token|Signature|AccessKeySecret)(?:=|%3D|%253D|:\s*))"
    r"[^\s&,;]+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(message: str) -> str:
    """An error message from a service, without the request it may quote."""
    message = _STRING_TO_SIGN_RE.sub(rf"\1 {REDACTED}", message)
    return _SECRET_PARAM_RE.sub(rf"\1{REDACTED}", message)


def is_success(body: Mapping[str, Any]) -> bool:
    """`Success` may be a bool or a string; absent means success unless an error code is
    set (`Code: "Success"`, as ECS metadata answers, is no error)."""
    value = body.get("Success")
    if value is None:
        code = body.get("ErrCode") or body.get("Code")
        return not code or code == "Success"
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def bounded_code(value: object) -> str:
    """A service error code fit for a label value; anything odd becomes UnknownError."""
    text = str(value).strip() if value is not None else ""
    return text if _CODE_RE.match(text) else errors.UNKNOWN_ERROR


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, then its causes (explicit, implicit, or as the first argument, the
    way requests wraps urllib3's errors), without looping."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        current = nxt
    return chain


def _timed_out(exc: BaseException) -> bool:
    causes = _causes(exc)
    # urllib3's NewConnectionError (refused, unreachable, DNS) subclasses its
    # ConnectTimeoutError for history's sake: it is a connection error, not a timeout.
    if any(
        isinstance(cause, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))
        for cause in causes
    ):
        return False
    return any(
        isinstance(cause, (TimeoutError, urllib3.exceptions.TimeoutError)) for cause in causes
    )


def describe_transport_error(exc: requests.RequestException) -> str:
    # The root cause's class says enough (refused, reset, DNS) and carries no URL or secret.
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    reason = str(cause.args[-1]) if cause.args else type(cause).__name__
    reason = re.sub(r"\?\S*", "", reason)  # never echo a signed query string
    return f"{type(exc).__name__}: {type(cause).__name__}: {reason}"[:300]
