"""The HTTP server: it holds the simulator's state, moves bytes and routes by path.

- `/`: the DTS and STS OpenAPI (see `api`).
- `/latest/...`: the ECS instance metadata service; `/credentials-uri`: a credentials URI
  (see `metadata`). These need no signature.
- `/_simulator/...`: admin paths, no signature (see `admin`).

Any other path is 404 `InvalidAction.NotFound`. Requests sent through the simulator as an
HTTP proxy (absolute-form request lines, e.g. `GET http://100.100.100.200/latest/...`)
are routed by their path alone, so a client with a proxy setting reaches the stand-ins.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from dts_exporter.simulator import api
from dts_exporter.simulator.admin import ADMIN_PREFIX, handle_admin
from dts_exporter.simulator.auth import Authenticator, header_map
from dts_exporter.simulator.calls import Reply, error_reply
from dts_exporter.simulator.check_jobs import stored_check_jobs
from dts_exporter.simulator.demo import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, demo_job_body
from dts_exporter.simulator.demo_jobs import DEMO_REGION, demo_check_jobs, demo_dts_jobs
from dts_exporter.simulator.demo_tasks import demo_task_body
from dts_exporter.simulator.flow import THROTTLED_CODE, FlowSettings, ServiceFlow
from dts_exporter.simulator.identities import CredentialStore
from dts_exporter.simulator.job_state import find_detail
from dts_exporter.simulator.metadata import (
    CREDENTIALS_URI_PATH,
    METADATA_PREFIX,
    MetadataService,
    MetadataSettings,
)
from dts_exporter.simulator.render import DEFAULT_HOST_ID, new_request_id, render_json
from dts_exporter.simulator.scenario import Fault, Scenario
from dts_exporter.simulator.sts import StsService, StsSettings

logger = logging.getLogger("dts_exporter.simulator")

MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 60.0


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
        sts: StsSettings | None = None,
        metadata: MetadataSettings | None = None,
        flow_control: FlowSettings | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.authenticator = authenticator
        self.credentials: CredentialStore = authenticator.store
        self.sts = StsService(sts or StsSettings(), self.credentials)
        self.metadata = MetadataService(
            metadata or MetadataSettings(), self.credentials, clock, self.count
        )
        self.scenario = scenario
        self._clock = clock
        self._started = clock() - demo_offset
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._faults: dict[str, tuple[Fault, ...]] = dict(scenario.faults) if scenario else {}
        self.flow = ServiceFlow(
            flow_control or (scenario.flow_control if scenario else None), time.monotonic
        )
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

    def set_flow_control(self, settings: FlowSettings | None) -> None:
        self.flow.configure(settings)

    # -- used by the handler --------------------------------------------------------------

    def count(self, action: str) -> None:
        with self._lock:
            self._counts[action] = self._counts.get(action, 0) + 1

    def admit(self, region: str, action: str) -> bool:
        """The flow control's verdict; a throttled call is counted as `<action>:Throttling.User`."""
        if self.flow.admit(region, action):
            return True
        self.count(f"{action}:{THROTTLED_CODE}")
        return False

    def faults_for(self, object_id: str, *, wildcard: bool = True) -> tuple[Fault, ...]:
        with self._lock:
            extra = self._faults.get("*", ()) if wildcard else ()
            return self._faults.get(object_id, ()) + extra

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

    def dts_jobs(self, region: str) -> Sequence[Mapping[str, Any]]:
        if self.scenario is not None:
            return self.scenario.dts_jobs.get(region, ())
        return demo_dts_jobs(region, self._clock(), self.elapsed())

    def job_detail(self, instance_id: str, job_id: str) -> Mapping[str, Any] | None:
        if self.scenario is not None:
            entries = [entry for listed in self.scenario.dts_jobs.values() for entry in listed]
            return find_detail(self.scenario.dts_job_details, entries, instance_id, job_id)
        return find_detail({}, self.dts_jobs(DEMO_REGION), instance_id, job_id)

    def check_jobs(self, instance_id: str | None) -> Sequence[Mapping[str, Any]]:
        if self.scenario is not None:
            return stored_check_jobs(self.scenario.check_jobs, instance_id)
        return demo_check_jobs(instance_id, self._clock(), self.elapsed())

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


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms Nagle stall

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
        headers = header_map(list(self.headers.items()))
        if split.path.startswith(ADMIN_PREFIX):
            self._send(handle_admin(self.server, self.command, split.path, body), request_id)
            return
        if split.path.startswith(METADATA_PREFIX):
            reply = self.server.metadata.handle_metadata(self.command, split.path, headers)
            self._send(reply, request_id)
            return
        if split.path == CREDENTIALS_URI_PATH:
            self._send(self.server.metadata.handle_credentials_uri(self.command), request_id)
            return
        if split.path != "/":
            host_id = headers.get("host") or DEFAULT_HOST_ID
            self._send(error_reply(api.not_found(), request_id, host_id, False), request_id)
            return
        # Looked up on the module at each request, so a test can wrap it.
        reply = api.handle_api(
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
        if reply.status == 204:
            return
        if reply.drip <= 0:
            self.wfile.write(reply.body)
            return
        self.close_connection = True
        for index in range(len(reply.body)):  # a byte at a time, until the client gives up
            self.wfile.write(reply.body[index : index + 1])
            self.wfile.flush()
            time.sleep(reply.drip)


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
    role_arn: str | None = None,
    extra_role_arns: Sequence[str] = (),
    oidc_provider_arn: str | None = None,
    oidc_token_file: str | None = None,
    ecs_role_name: str | None = None,
    metadata_require_token: bool = True,
    sts_duration_seconds: float | None = None,
    flow_control: FlowSettings | None = None,
) -> SimulatorServer:
    """Bind (port 0 = ephemeral) and serve in a daemon thread; returns at once.

    `demo_offset` starts the built-in demo as if it had been running that many seconds
    (the authentication clock is not shifted). `role_arn` is the role AssumeRoleWithOIDC
    and AssumeRole accept (AssumeRole also any of `extra_role_arns`, for cross-account
    roles); `oidc_provider_arn` and `oidc_token_file` (re-read on every request) complete
    RRSA. `ecs_role_name` is the RAM role the ECS metadata service lists;
    `metadata_require_token=False` also accepts metadata requests without a session token.
    `sts_duration_seconds` overrides the lifetime of every temporary credential issued
    (STS, ECS metadata, credentials URI), e.g. a few seconds to test expiry and refresh.
    `flow_control` (else the scenario's) throttles DTS calls past a rate (see `flow`).
    """
    if sts_duration_seconds is not None and not sts_duration_seconds > 0:
        raise ValueError(f"sts_duration_seconds must be > 0, got {sts_duration_seconds!r}")
    extra = (extra_role_arns,) if isinstance(extra_role_arns, str) else tuple(extra_role_arns)
    store = CredentialStore(access_key_id, access_key_secret, security_token, clock)
    server = SimulatorServer(
        (host, port),
        authenticator=Authenticator(store, clock),
        scenario=scenario,
        clock=clock,
        demo_offset=demo_offset,
        sts=StsSettings(
            role_arn=role_arn,
            extra_role_arns=extra,
            oidc_provider_arn=oidc_provider_arn,
            oidc_token_file=oidc_token_file,
            duration_override=sts_duration_seconds,
        ),
        metadata=MetadataSettings(
            role_name=ecs_role_name,
            require_token=metadata_require_token,
            duration_override=sts_duration_seconds,
        ),
        flow_control=flow_control,
    )
    server.serve_in_background()
    return server
