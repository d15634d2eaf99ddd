"""What every simulated action shares: the reply, parameters, answers and injected faults.

Parameter errors are 400 `MissingParameter` (a mandatory parameter is absent) or 400
`InvalidParameter` (a value outside its documented range or set); parameters an action
does not know are ignored, as the service does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dts_exporter.simulator import hostile
from dts_exporter.simulator.render import (
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    ApiError,
    render_body,
    render_error,
)
from dts_exporter.simulator.scenario import HOSTILE_FAULT_KINDS, Fault

HTML_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
MALFORMED_BODY = b"upstream sent an invalid response: <!-- RequestId pending -->\n"
INTERNAL_ERROR_MESSAGE = "The request processing has failed due to some unknown error."
MAX_INT = 2**31 - 1


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    drip: float = 0.0  # seconds between two bytes of the body; 0: all at once


@dataclass(frozen=True)
class Call:
    """One API call being answered (already authenticated when the action needs it)."""

    action: str
    params: Mapping[str, str]
    request_id: str
    host_id: str
    xml: bool
    product: str = "Dts"


def error_reply(
    error: ApiError, request_id: str, host_id: str, xml: bool, product: str = "Dts"
) -> Reply:
    payload, content_type = render_error(
        error.code, error.message, request_id, host_id, xml=xml, product=product
    )
    return Reply(error.status, payload, content_type, dict(error.headers))


def _checked_int(
    params: Mapping[str, str], name: str, default: int, accept: Callable[[int], bool], rule: str
) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise invalid_parameter(name, raw, rule) from None
    if not accept(value):
        raise invalid_parameter(name, raw, rule)
    return value


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high]; 400 InvalidParameter otherwise."""
    limits = f"from {low} to {high}" if high < MAX_INT else f"greater than or equal to {low}"
    rule = f"It must be an integer {limits}"
    return _checked_int(params, name, default, lambda value: low <= value <= high, rule)


def choice_param(params: Mapping[str, str], name: str, default: int, allowed: Sequence[int]) -> int:
    """An integer parameter that takes one of a few documented values (e.g. PageSize)."""
    rule = f"It must be one of {', '.join(str(item) for item in allowed)}"
    return _checked_int(params, name, default, lambda value: value in allowed, rule)


def missing_parameter(name: str) -> ApiError:
    """400 MissingParameter, as the service answers a call without a mandatory parameter."""
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied.",
    )


def invalid_parameter(name: str, raw: str, rule: str) -> ApiError:
    """400 InvalidParameter for a value outside the parameter's documented range or set."""
    return ApiError(
        400, "InvalidParameter", f"Specified parameter {name} is not valid: {raw!r}. {rule}."
    )


def bool_param(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A Boolean parameter: `true` or `false` (any case); another value is InvalidParameter."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise invalid_parameter(name, raw, "It must be true or false")
    return value == "true"


def paged_list(
    matching: Sequence[Mapping[str, Any]], page_number: int, page_size: int, name: str
) -> dict[str, Any]:
    """A list answer paged by PageNumber and PageSize (DescribeDtsJobs, DescribeCheckJobs)."""
    start = (page_number - 1) * page_size
    page = [dict(entry) for entry in matching[start : start + page_size]]
    return {
        "Success": True,
        "HttpStatusCode": 200,
        "TotalRecordCount": len(matching),
        "PageNumber": page_number,
        "PageRecordCount": len(page),
        name: page,
    }


def answer(call: Call, stored: Mapping[str, Any], *, default_success: bool = True) -> Reply:
    """A 200 answer: the body with this call's RequestId (and `Success` unless present)."""
    body = dict(stored)
    body["RequestId"] = call.request_id
    if default_success:
        body.setdefault("Success", True)
    payload, content_type = render_body(f"{call.action}Response", body, xml=call.xml)
    return Reply(200, payload, content_type)


def business_error(call: Call, code: str, message: str) -> Reply:
    body = {"RequestId": call.request_id, "Success": False, "ErrCode": code, "ErrMessage": message}
    return answer(call, body)


def _hostile_reply(kind: str, call: Call, normal: Callable[[], Reply]) -> Reply:
    """What a hostile or broken endpoint answers (see `hostile`)."""
    if kind == "redirect":
        return Reply(302, headers={"Location": hostile.REDIRECT_LOCATION})
    if kind == "deep_json":
        return Reply(200, hostile.deep_json())
    if kind == "gzip_bomb":
        return Reply(200, hostile.gzip_bomb(), headers={"Content-Encoding": "gzip"})
    if kind == "huge_body":
        return Reply(200, hostile.huge_body())
    reply = normal()
    if kind == "drip":
        reply.drip = hostile.DRIP_INTERVAL_SECONDS
    elif reply.status == 200 and not call.xml:
        raw = call.params.get("PageSize", "")
        size = int(raw) if raw.isdigit() else 30  # DescribeInitializationStatus's default
        if kind == "oversize_page":
            reply.body = hostile.oversize_page(reply.body, size)
        else:  # repeat_page
            key = (call.action, *sorted(f"{k}={v}" for k, v in call.params.items() if "Id" in k))
            reply.body = hostile.repeat_page(key, reply.body, size)
    return reply


def _fault_reply(fault: Fault, call: Call, normal: Callable[[], Reply]) -> Reply:
    kind = fault.kind
    if kind in HOSTILE_FAULT_KINDS:
        return _hostile_reply(kind, call, normal)
    if kind == "throttling":
        headers = {}
        if fault.retry_after_ms is not None:
            headers["x-acs-retry-after"] = str(fault.retry_after_ms)
        raise ApiError(
            400, "Throttling.User", "Request was denied due to user flow control.", headers
        )
    if kind == "internal_error":
        raise ApiError(500, "InternalError", INTERNAL_ERROR_MESSAGE)
    if kind == "service_unavailable":
        raise ApiError(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    if kind == "malformed":
        return Reply(200, MALFORMED_BODY, XML_CONTENT_TYPE if call.xml else JSON_CONTENT_TYPE)
    if kind == "truncated":
        reply = normal()
        reply.body = reply.body[: len(reply.body) // 2]
        return reply
    if kind == "html":
        return Reply(502, HTML_BAD_GATEWAY, "text/html")
    if kind == "success_false":
        return business_error(call, "InternalError", INTERNAL_ERROR_MESSAGE)
    return Reply(200, reset=True)  # "reset"


def with_faults(
    faults: Sequence[Fault], call: Call, page: int | None, normal: Callable[[], Reply]
) -> Reply:
    """Latency faults add up; then the first other applicable fault replaces the answer.

    Errors raised by `normal` (validation, business rules) become error replies too.
    """
    applicable = [fault for fault in faults if fault.applies_to(page)]
    delay = sum(fault.seconds for fault in applicable if fault.kind == "latency")
    chosen = next((fault for fault in applicable if fault.kind != "latency"), None)
    try:
        reply = normal() if chosen is None else _fault_reply(chosen, call, normal)
    except ApiError as error:
        reply = error_reply(error, call.request_id, call.host_id, call.xml, call.product)
    reply.delay = delay
    return reply
