"""The HTTP server: the DTS OpenAPI endpoint at `/`, plus two admin paths for tests.

`handle_api` turns one request into a `Reply` (authentication, actions, paging, faults);
the handler class only moves bytes. Admin paths need no signature:
`GET /_simulator/requests` (accepted requests per action) and `PUT /_simulator/faults`
(a JSON body shaped like a scenario's `faults`; replaces the faults, answers 204).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dts_exporter.errors import ConfigError
from dts_exporter.simulator.auth import Authenticator, header_map, parse_request
from dts_exporter.simulator.demo import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    demo_job_body,
    demo_task_body,
)
from dts_exporter.simulator.render import (
    DEFAULT_HOST_ID,
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    ApiError,
    new_request_id,
    render_body,
    render_error,
    render_json,
)
from dts_exporter.simulator.scenario import JOB_LIST_FIELDS, Fault, Scenario, parse_faults

logger = logging.getLogger("dts_exporter.simulator")

API_VERSION = "2020-01-01"
INIT_ACTION = "DescribeInitializationStatus"
MODIFY_ACTION = "DescribeSynchronizationObjectModifyStatus"
ACTIONS = (INIT_ACTION, MODIFY_ACTION)
ADMIN_PREFIX = "/_simulator/"
MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 60.0
HTML_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
MALFORMED_BODY = b"upstream sent an invalid response: <!-- RequestId pending -->\n"
INTERNAL_ERROR_MESSAGE = "The request processing has failed due to some unknown error."


def _not_found() -> ApiError:
    return ApiError(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False


@dataclass(frozen=True)
class _Call:
    """One authenticated API call being answered."""

    action: str
    params: Mapping[str, str]
    request_id: str
    host_id: str
    xml: bool


def _error_reply(error: ApiError, request_id: str, host_id: str, xml: bool) -> Reply:
    payload, content_type = render_error(error.code, error.message, request_id, host_id, xml=xml)
    return Reply(error.status, payload, content_type, dict(error.headers))


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        limits = f"from {low} to {high}" if high < 2**31 - 1 else f"greater than or equal to {low}"
        raise ApiError(
            400,
            "InvalidParameter",
            f"Specified parameter {name} is not valid: {raw!r}. It must be an integer {limits}.",
        )
    return value


def page_job_body(body: Mapping[str, Any], page_num: int, page_size: int) -> dict[str, Any]:
    """Slice each of the three lists independently; absent lists stay absent."""
    start = (page_num - 1) * page_size
    paged = dict(body)
    for name in JOB_LIST_FIELDS:
        value = body.get(name)
        if isinstance(value, list):
            paged[name] = value[start : start + page_size]
    return paged


def _answer(call: _Call, stored: Mapping[str, Any]) -> Reply:
    body = dict(stored)
    body["RequestId"] = call.request_id
    body.setdefault("Success", True)
    payload, content_type = render_body(f"{call.action}Response", body, xml=call.xml)
    return Reply(200, payload, content_type)


def _business_error(call: _Call, code: str, message: str) -> Reply:
    body = {"RequestId": call.request_id, "Success": False, "ErrCode": code, "ErrMessage": message}
    return _answer(call, body)


def _fault_reply(fault: Fault, call: _Call, normal: Callable[[], Reply]) -> Reply:
    kind = fault.kind
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
        return _business_error(call, "InternalError", INTERNAL_ERROR_MESSAGE)
    return Reply(200, reset=True)  # "reset"


class SimulatorServer(ThreadingHTTPServer):
    """The simulated endpoint; `start_simulator` creates and starts one."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        *,
        authenticator: Authenticator,
        scenario: Scenario | None,
        clock: Callable[[], float],
        demo_offset: float = 0.0,
    ) -> None:
        super().__init__(address, _Handler)
        self.authenticator = authenticator
        self.scenario = scenario
        self._clock = clock
        self._started = clock() - demo_offset
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._faults: dict[str, tuple[Fault, ...]] = dict(scenario.faults) if scenario else {}
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        host = str(self.server_address[0])
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        self.url = f"http://{host}:{self.server_address[1]}"

    # -- public API ---------------------------------------------------------------------

    def serve_in_background(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dts-simulator-{self.server_address[1]}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, drop open keep-alive connections and release the port."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread is not None:
            self.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_faults(self, faults: Mapping[str, Sequence[Fault]]) -> None:
        with self._lock:
            self._faults = {key: tuple(value) for key, value in faults.items()}

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    # -- used by the handler --------------------------------------------------------------

    def count(self, action: str) -> None:
        with self._lock:
            self._counts[action] = self._counts.get(action, 0) + 1

    def faults_for(self, object_id: str) -> tuple[Fault, ...]:
        with self._lock:
            return self._faults.get(object_id, ()) + self._faults.get("*", ())

    def elapsed(self) -> float:
        return self._clock() - self._started

    def job_body(self, job_id: str) -> Mapping[str, Any] | None:
        if self.scenario is not None:
            return self.scenario.jobs.get(job_id)
        return demo_job_body(job_id, self.elapsed())

    def task_body(self, task_id: str) -> Mapping[str, Any] | None:
        if self.scenario is not None:
            return self.scenario.tasks.get(task_id)
        return demo_task_body(task_id, self.elapsed())

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


def _with_faults(
    server: SimulatorServer,
    call: _Call,
    object_id: str,
    page: int | None,
    normal: Callable[[], Reply],
) -> Reply:
    """Latency faults add up; then the first other applicable fault replaces the answer."""
    applicable = [fault for fault in server.faults_for(object_id) if fault.applies_to(page)]
    delay = sum(fault.seconds for fault in applicable if fault.kind == "latency")
    chosen = next((fault for fault in applicable if fault.kind != "latency"), None)
    try:
        reply = normal() if chosen is None else _fault_reply(chosen, call, normal)
    except ApiError as error:
        reply = _error_reply(error, call.request_id, call.host_id, call.xml)
    reply.delay = delay
    return reply


def _describe_initialization_status(server: SimulatorServer, call: _Call) -> Reply:
    job_id = call.params.get("SynchronizationJobId", "")
    if not job_id:
        raise ApiError(
            400,
            "MissingSynchronizationJobId",
            "SynchronizationJobId is mandatory for this action.",
        )
    page_size = _int_param(call.params, "PageSize", 30, 1, 100)
    page_num = _int_param(call.params, "PageNum", 1, 1, 2**31 - 1)

    def normal() -> Reply:
        stored = server.job_body(job_id)
        if stored is None:
            return _business_error(
                call, "InvalidJobId", "The specified synchronization job does not exist."
            )
        return _answer(call, page_job_body(stored, page_num, page_size))

    return _with_faults(server, call, job_id, page_num, normal)


def _describe_modify_status(server: SimulatorServer, call: _Call) -> Reply:
    task_id = call.params.get("TaskId", "")
    if not task_id:
        raise ApiError(400, "MissingTaskId", "TaskId is mandatory for this action.")

    def normal() -> Reply:
        stored = server.task_body(task_id)
        if stored is None:
            return _business_error(call, "InvalidTaskId", "The specified task does not exist.")
        return _answer(call, stored)

    return _with_faults(server, call, task_id, None, normal)


def _wants_xml(params: Mapping[str, str], v3: bool) -> bool:
    requested = params.get("Format", "").strip().lower()
    return requested == "xml" if v3 else requested != "json"


def handle_api(
    server: SimulatorServer,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
) -> Reply:
    """Answer one request to the API path `/` (errors included)."""
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    params = dict(query)
    if headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    xml = _wants_xml(params, "authorization" in headers)
    host_id = headers.get("host") or DEFAULT_HOST_ID
    try:
        if method not in ("GET", "POST"):
            raise ApiError(405, "UnsupportedHTTPMethod", "This http method is not supported.")
        signed = parse_request(method, path, query, params, headers, body)
        if signed.version != API_VERSION:
            raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if signed.action not in ACTIONS:
            raise _not_found()
        server.authenticator.verify(signed)
        server.count(signed.action)
        call = _Call(signed.action, params, request_id, host_id, xml)
        if signed.action == INIT_ACTION:
            return _describe_initialization_status(server, call)
        return _describe_modify_status(server, call)
    except ApiError as error:
        return _error_reply(error, request_id, host_id, xml)


def handle_admin(server: SimulatorServer, method: str, path: str, body: bytes) -> Reply:
    if path == f"{ADMIN_PREFIX}requests" and method == "GET":
        return Reply(200, render_json(server.request_counts()))
    if path == f"{ADMIN_PREFIX}faults" and method == "PUT":
        source = "PUT /_simulator/faults"
        try:
            data = json.loads(body.decode("utf-8") or "{}")
            server.set_faults(parse_faults(data, source))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            message = f"{source}: body is not JSON: {exc}"
            return Reply(400, render_json({"Code": "InvalidFaults", "Message": message}))
        except ConfigError as exc:
            return Reply(400, render_json({"Code": "InvalidFaults", "Message": str(exc)}))
        return Reply(204)
    known = path in (f"{ADMIN_PREFIX}requests", f"{ADMIN_PREFIX}faults")
    status, code = (405, "UnsupportedHTTPMethod") if known else (404, "NotFound")
    return Reply(status, render_json({"Code": code, "Message": f"{method} {path}"}))


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS

    def version_string(self) -> str:
        return "Tengine"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The query string can hold a SecurityToken: log the path only.
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit() or int(raw) > MAX_BODY_BYTES:
            return None
        return self.rfile.read(int(raw))

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _handle(self) -> None:
        request_id = new_request_id()
        split = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            self.close_connection = True
            payload = render_json({"Code": "InvalidRequest", "Message": "Bad request body."})
            self._send(Reply(400, payload), request_id)
            return
        if split.path.startswith(ADMIN_PREFIX):
            self._send(handle_admin(self.server, self.command, split.path, body), request_id)
            return
        if split.path != "/":
            host_id = self.headers.get("Host") or DEFAULT_HOST_ID
            self._send(_error_reply(_not_found(), request_id, host_id, False), request_id)
            return
        headers = header_map(list(self.headers.items()))
        reply = handle_api(
            self.server, self.command, split.path, split.query, headers, body, request_id
        )
        self._send(reply, request_id)

    def _send(self, reply: Reply, request_id: str) -> None:
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.reset:
            self.close_connection = True
            # Linger 0: closing sends a TCP RST instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-acs-request-id", request_id)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.status != 204:
            self.wfile.write(reply.body)


def start_simulator(
    host: str,
    port: int,
    *,
    access_key_id: str = DEMO_ACCESS_KEY_ID,
    access_key_secret: str = DEMO_ACCESS_KEY_SECRET,
    security_token: str | None = None,
    scenario: Scenario | None = None,
    clock: Callable[[], float] = time.time,
    demo_offset: float = 0.0,
) -> SimulatorServer:
    """Bind (port 0 = ephemeral) and serve in a daemon thread; returns at once.

    `demo_offset` starts the built-in demo as if it had been running that many seconds
    (the authentication clock is not shifted).
    """
    authenticator = Authenticator(access_key_id, access_key_secret, security_token, clock)
    server = SimulatorServer(
        (host, port),
        authenticator=authenticator,
        scenario=scenario,
        clock=clock,
        demo_offset=demo_offset,
    )
    server.serve_in_background()
    return server
