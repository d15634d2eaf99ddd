"""A thin DTS OpenAPI client: signs, sends, maps errors, pages. Returns plain dicts.

One `requests.Session` (keep-alive, a connection pool sized for the collector's
concurrency) is shared by every thread. Each attempt gets a fresh nonce and timestamp.
Failures of any kind become `DtsApiError` with a bounded code.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from dts_exporter import __version__, errors, signing
from dts_exporter.credentials import CredentialsProvider
from dts_exporter.errors import DtsApiError
from dts_exporter.parsing import INITIALIZATION_LISTS, list_field

log = logging.getLogger(__name__)

API_VERSION = "2020-01-01"
DESCRIBE_INITIALIZATION_STATUS = "DescribeInitializationStatus"
DESCRIBE_MODIFY_STATUS = "DescribeSynchronizationObjectModifyStatus"
ACTIONS = (DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS)

PAGE_SIZE = 100
MAX_PAGES = 2000  # 200,000 rows per list: far beyond any real job, bounds a looping service
MAX_BODY_BYTES = 64 * 1024 * 1024
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,79}$")

# Called after every HTTP attempt with (action, code, seconds); code is "Success" on success.
Observer = Callable[[str, str, float], None]


class DtsClient:
    def __init__(
        self,
        *,
        endpoint: str,
        region: str,
        credentials: CredentialsProvider,
        timeout_seconds: float,
        pool_size: int = 16,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.timeout_seconds = timeout_seconds
        self._credentials = credentials
        self._observer = observer
        self._clock = clock
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = f"dts-exporter/{__version__}"
        self._session.trust_env = True

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"DtsClient(endpoint={self.endpoint!r}, region={self.region!r})"

    # -- actions -------------------------------------------------------------------------

    def describe_initialization_status(
        self, job_id: str, *, deadline: float | None = None
    ) -> dict[str, Any]:
        """All pages of DescribeInitializationStatus, the three lists concatenated.

        Any failing page fails the whole call: a half job is never returned as whole.
        """
        merged: dict[str, Any] = {}
        for page in range(1, MAX_PAGES + 1):
            body = self.call(
                DESCRIBE_INITIALIZATION_STATUS,
                {
                    "SynchronizationJobId": job_id,
                    "PageSize": str(PAGE_SIZE),
                    "PageNum": str(page),
                },
                deadline=deadline,
            )
            short = True
            for key in INITIALIZATION_LISTS:
                items = list_field(body, key)
                if items is None:
                    continue
                merged.setdefault(key, []).extend(items)
                short = short and len(items) < PAGE_SIZE
            merged["RequestId"] = body.get("RequestId")
            merged["Success"] = True
            if short:
                merged["PageCount"] = page
                return merged
        raise DtsApiError(
            errors.INVALID_RESPONSE,
            f"more than {MAX_PAGES} pages of {PAGE_SIZE}; refusing to page further",
            action=DESCRIBE_INITIALIZATION_STATUS,
        )

    def describe_modify_status(
        self, task_id: str, *, deadline: float | None = None
    ) -> dict[str, Any]:
        return self.call(DESCRIBE_MODIFY_STATUS, {"TaskId": task_id}, deadline=deadline)

    # -- one signed request --------------------------------------------------------------

    def call(
        self, action: str, params: Mapping[str, str], *, deadline: float | None = None
    ) -> dict[str, Any]:
        """One signed RPC request; the decoded JSON object on success."""
        timeout = self.timeout_seconds
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DtsApiError(
                    errors.TIMEOUT, "scrape deadline reached before the request", action=action
                )
            timeout = min(timeout, remaining)
        query = self._signed_params(action, params)
        url = f"{self.endpoint}/?{signing.canonical_query(query)}"
        started = self._clock()
        code = errors.UNKNOWN_ERROR
        try:
            status, content = self._send(url, timeout, action)
            body = decode_response(action, status, content)
            code = "Success"
            return body
        except DtsApiError as exc:
            code = exc.code
            raise
        finally:
            if self._observer is not None:
                self._observer(action, code, self._clock() - started)

    def _signed_params(self, action: str, params: Mapping[str, str]) -> dict[str, str]:
        creds = self._credentials.get()
        query = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": creds.access_key_id,
            "SignatureMethod": signing.V1_METHOD,
            "SignatureVersion": signing.V1_VERSION,
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RegionId": self.region,
            **params,
        }
        if creds.security_token:
            query["SecurityToken"] = creds.security_token
        query["Signature"] = signing.sign_v1("POST", query, creds.access_key_secret)
        return query

    def _send(self, url: str, timeout: float, action: str) -> tuple[int, bytes]:
        """POST and read the body, at most MAX_BODY_BYTES of it: (status, body)."""
        try:
            with self._session.post(url, timeout=timeout, stream=True) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(chunk_size=256 * 1024):
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise DtsApiError(
                            errors.INVALID_RESPONSE,
                            f"response exceeds the {MAX_BODY_BYTES} byte limit",
                            action=action,
                            http_status=response.status_code,
                        )
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)
        except requests.Timeout:
            raise DtsApiError(
                errors.TIMEOUT, f"no answer within {timeout:.1f}s", action=action
            ) from None
        except requests.ConnectionError as exc:
            raise DtsApiError(
                errors.CONNECTION_ERROR, _describe_transport_error(exc), action=action
            ) from None
        except requests.RequestException as exc:
            raise DtsApiError(
                errors.INVALID_RESPONSE, _describe_transport_error(exc), action=action
            ) from None


def decode_response(action: str, status: int, content: bytes) -> dict[str, Any]:
    """Turn an HTTP answer into the JSON object, or raise DtsApiError with the right code."""
    try:
        body: object = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if status >= 400:
        if isinstance(body, dict) and body.get("Code"):
            raise DtsApiError(
                bounded_code(body.get("Code")),
                str(body.get("Message") or ""),
                action=action,
                http_status=status,
                request_id=str(body.get("RequestId") or ""),
            )
        raise DtsApiError(
            f"HTTP{status}",
            f"HTTP {status} without a DTS error body",
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
            str(body.get("ErrMessage") or body.get("Message") or "Success is false"),
            action=action,
            http_status=status,
            request_id=str(body.get("RequestId") or ""),
        )
    return body


def is_success(body: Mapping[str, Any]) -> bool:
    """`Success` may be a bool or a string; absent means success unless an error code is set."""
    value = body.get("Success")
    if value is None:
        return not (body.get("ErrCode") or body.get("Code"))
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def bounded_code(value: object) -> str:
    """A service error code fit for a label value; anything odd becomes UnknownError."""
    text = str(value).strip() if value is not None else ""
    return text if _CODE_RE.match(text) else errors.UNKNOWN_ERROR


def _describe_transport_error(exc: requests.RequestException) -> str:
    # The root cause's class says enough (refused, reset, DNS) and carries no URL or secret.
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    reason = str(cause.args[-1]) if cause.args else type(cause).__name__
    reason = re.sub(r"\?\S*", "", reason)  # never echo a signed query string
    return f"{type(exc).__name__}: {type(cause).__name__}: {reason}"[:300]
