"""Response bodies as the DTS (and STS) endpoints write them: JSON or XML, success or error."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
XML_CONTENT_TYPE = "text/xml;charset=utf-8"
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>"
DEFAULT_HOST_ID = "dts.aliyuncs.com"


class ApiError(Exception):
    """An error answer: HTTP status, error code, message and optional extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def new_request_id() -> str:
    """A request id shaped like the service's: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def render_json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def _element(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _element(name, item, out)
        return
    out.append(f"<{name}>")
    if isinstance(value, Mapping):
        for key, child in value.items():
            _element(str(key), child, out)
    else:
        out.append(escape(_scalar_text(value)))
    out.append(f"</{name}>")


def render_xml(root: str, body: Mapping[str, Any]) -> bytes:
    """XML as the service writes it: arrays become repeated elements named after the key.

    Null values and empty arrays produce no element, as in the service's XML answers.
    """
    out: list[str] = [XML_DECLARATION]
    _element(root, dict(body), out)
    return "".join(out).encode("utf-8")


def render_body(root: str, body: Mapping[str, Any], *, xml: bool) -> tuple[bytes, str]:
    """Encoded body and its Content-Type."""
    if xml:
        return render_xml(root, body), XML_CONTENT_TYPE
    return render_json(body), JSON_CONTENT_TYPE


def error_body(
    code: str, message: str, request_id: str, host_id: str, product: str = "Dts"
) -> dict[str, str]:
    return {
        "RequestId": request_id,
        "HostId": host_id or DEFAULT_HOST_ID,
        "Code": code,
        "Message": message,
        "Recommend": (
            f"https://api.aliyun.com/troubleshoot?q={code}&product={product}&requestId={request_id}"
        ),
    }


def render_error(
    code: str, message: str, request_id: str, host_id: str, *, xml: bool, product: str = "Dts"
) -> tuple[bytes, str]:
    """An error body (`<Error>` root in XML) and its Content-Type."""
    body = error_body(code, message, request_id, host_id, product)
    return render_body("Error", body, xml=xml)
