"""HTTP for Alibaba Cloud RPC APIs: send with a size limit, map every failure to a code.

Shared by the DTS client and the credential providers (STS, ECS metadata, credentials
URI), so they report failures the same way: `DtsApiError` with a bounded code.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from dts_exporter import __version__
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError

MAX_BODY_BYTES = 64 * 1024 * 1024
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def new_session(pool_size: int) -> requests.Session:
    """A keep-alive session with a pool for `pool_size` concurrent requests and no
    urllib3-level retries (retrying is the caller's decision)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
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
    """One HTTP request; the body is read up to MAX_BODY_BYTES, within `timeout` in all.

    requests' own timeout bounds each socket operation, not the whole answer: a server that
    drips its body a byte at a time would never time out, so the total is checked too.
    Redirects are never followed (a signed request or a token must not go where a server
    points): a 3xx answer is the error `HTTP3xx`.
    """
    started = time.monotonic()
    try:
        with session.request(
            method,
            url,
            timeout=timeout,
            stream=True,
            headers=headers,
            data=data,
            allow_redirects=False,
        ) as response:
            if 300 <= response.status_code < 400:
                raise DtsApiError(
                    f"HTTP{response.status_code}",
                    f"HTTP {response.status_code} redirect not followed",
                    action=action,
                    http_status=response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=256 * 1024):
                if time.monotonic() - started > timeout:
                    raise DtsApiError(
                        errors.TIMEOUT,
                        f"the answer took longer than {timeout:.1f}s to arrive",
                        action=action,
                        http_status=response.status_code,
                    )
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise DtsApiError(
                        errors.INVALID_RESPONSE,
                        f"response exceeds the {MAX_BODY_BYTES} byte limit",
                        action=action,
                        http_status=response.status_code,
                    )
                chunks.append(chunk)
            return HttpAnswer(response.status_code, dict(response.headers), b"".join(chunks))
    except requests.Timeout:
        raise DtsApiError(
            errors.TIMEOUT, f"no answer within {timeout:.1f}s", action=action
        ) from None
    except requests.ConnectionError as exc:
        if _timed_out(exc):
            # requests reports a read timeout while streaming the body as a
            # ConnectionError (wrapping urllib3's ReadTimeoutError): it is a timeout.
            raise DtsApiError(
                errors.TIMEOUT, f"no answer within {timeout:.1f}s", action=action
            ) from None
        raise DtsApiError(
            errors.CONNECTION_ERROR, describe_transport_error(exc), action=action
        ) from None
    except requests.RequestException as exc:
        raise DtsApiError(
            errors.INVALID_RESPONSE, describe_transport_error(exc), action=action
        ) from None


def decode_response(action: str, status: int, content: bytes) -> dict[str, Any]:
    """Turn an HTTP answer into the JSON object, or raise DtsApiError with the right code."""
    try:
        body: object = json.loads(content)
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
