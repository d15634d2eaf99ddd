"""The project's exception types.

Every failure the exporter can meet ends up as one of these, so callers (the collector,
the CLI) can report it in one line without a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

# Stable codes for failures that never reached the service or got no usable answer.
# They appear in `dts_exporter_api_requests_total{code}` and `dts_up` logs.
TIMEOUT = "Timeout"
CONNECTION_ERROR = "ConnectionError"
INVALID_RESPONSE = "InvalidResponse"
UNKNOWN_ERROR = "UnknownError"


def describe_kind(value: object, mapping: str = "an object") -> str:
    """What a decoded value is, for error messages ("a list", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return mapping
    return type(value).__name__


class DtsExporterError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(DtsExporterError):
    """A configuration file or option is wrong; the message names the key path."""


class DtsApiError(DtsExporterError):
    """A DTS API call failed.

    `code` is bounded: the service's error code (`Throttling.User`, `InternalError`, ...)
    or one of the transport codes above. It is safe as a metric label; `message` is not.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str = "",
        http_status: int | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(f"{action or 'request'} failed: {code}: {message}")
        self.code = code
        self.message = message
        self.action = action
        self.http_status = http_status
        self.request_id = request_id
        # Seconds the service asked us to wait (x-acs-retry-after), when it did.
        self.retry_after: float | None = None

    def __repr__(self) -> str:
        return (
            f"DtsApiError(code={self.code!r}, action={self.action!r}, "
            f"http_status={self.http_status!r}, request_id={self.request_id!r})"
        )
