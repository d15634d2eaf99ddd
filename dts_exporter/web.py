"""The exporter's HTTP endpoints: /metrics, /healthz and a landing page."""

from __future__ import annotations

import gzip
import html
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector

from dts_exporter import __version__
from dts_exporter.base.api import ID_RE, REGION_RE
from dts_exporter.base.errors import ConfigError
from dts_exporter.base.logfmt import quote
from dts_exporter.rendering import encode
from dts_exporter.scrape import ProbeRefusedError
from dts_exporter.webconfig import WebConfig
from dts_exporter.webserver import (
    CLIENT_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    DISCONNECTED,
    BoundedServer,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 9881
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_PORT}"
# The shortest scrape timeout taken from X-Prometheus-Scrape-Timeout-Seconds, in seconds.
MIN_SCRAPE_TIMEOUT = 1.0
# The longest /probe query string, in bytes: room for probe_max_task_ids at its maximum
# (200) of the longest ids (128 bytes); a longer one is answered 414.
MAX_PROBE_QUERY = 32_768


def parse_listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (all interfaces) or `[IPv6]:PORT` -> (host, port)."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ConfigError(f"listen address {value!r}: expected HOST:PORT, e.g. :{DEFAULT_PORT}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"listen address {value!r}: write IPv6 addresses as [ADDR]:PORT")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"listen address {value!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


# What POST /-/reload calls: re-reads the config; (ok, one-line message).
Reloader = Callable[[], tuple[bool, str]]


class Scrapes(Protocol):
    """What the server serves; `timeout` is Prometheus's scrape timeout less the offset,
    when the scraper announced one."""

    def metrics(self, timeout: float | None) -> Collector: ...

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> Collector: ...


class _Server(BoundedServer):
    scrapes: Scrapes
    timeout_offset: float
    web_config: WebConfig | None
    reloader: Reloader | None  # None: the lifecycle API is off

    def __init__(
        self, address: tuple[str, int], max_connections: int = DEFAULT_MAX_CONNECTIONS
    ) -> None:
        super().__init__(address, _Handler, max_connections)


class _Server6(_Server):
    address_family = socket.AF_INET6


class ExporterServer:
    """Serves a registry over HTTP(S) in a background thread."""

    def __init__(
        self,
        scrapes: Scrapes,
        host: str,
        port: int,
        *,
        timeout_offset: float = 0.5,
        web_config: WebConfig | None = None,
        reloader: Reloader | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        server_class: type[_Server] = _Server6 if ":" in host else _Server
        try:
            self._server = server_class((host, port), max_connections)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        self._server.scrapes = scrapes
        self._server.timeout_offset = timeout_offset
        self._server.web_config = web_config
        self._server.tls = web_config.ssl_context() if web_config is not None else None
        self._server.reloader = reloader
        # A short poll: shutdown() waits for the loop to notice, at most this long.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address bound: 0.0.0.0 (or ::) when listening on all interfaces."""
        return str(self._server.server_address[0])

    @property
    def all_interfaces(self) -> bool:
        return self.host in ("", "0.0.0.0", "::")

    def url(self, host: str | None = None) -> str:
        """The base URL; by default one a local client reaches (loopback for all interfaces),
        `url(server.host)` the address really bound."""
        bound = self.host
        shown = host or ("127.0.0.1" if bound in ("", "0.0.0.0") else bound)
        if ":" in shown:
            shown = f"[{shown}]"
        scheme = "https" if self._server.tls is not None else "http"
        return f"{scheme}://{shown}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def swap(self, scrapes: Scrapes) -> None:
        """Serve another exporter from now on (a reloaded config)."""
        self._server.scrapes = scrapes

    def close(self, grace_seconds: float = 0.0) -> bool:
        """Stop accepting, let requests in flight finish for up to `grace_seconds`, close.
        Returns False when some were still running."""
        self._server.shutdown()
        finished = self._server.wait_idle(grace_seconds)
        self._server.server_close()
        return finished


_LANDING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dts-exporter</title></head>
<body>
<h1>dts-exporter {version}</h1>
<p>Prometheus exporter for Alibaba Cloud DTS synchronization jobs.</p>
<ul>
<li><a href="metrics">metrics</a></li>
<li><a href="healthz">healthz</a></li>
<li>one job, blackbox-style:
<code>probe?job_id=&lt;SynchronizationJobId&gt;[&amp;task_id=&lt;TaskId&gt;]</code></li>
</ul>
</body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = f"dts-exporter/{__version__}"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK hold the body back ~40 ms on every keep-alive answer.
    disable_nagle_algorithm = True

    timeout = CLIENT_TIMEOUT_SECONDS  # a client idle this long is dropped (slowloris)

    def handle(self) -> None:
        try:
            super().handle()
        except DISCONNECTED:  # the client hung up before its answer was written
            path = urlsplit(getattr(self, "path", "")).path
            log.debug("client disconnected client=%s path=%s", self.client_address[0], quote(path))

    def _authorized(self) -> bool:
        web_config = self.server.web_config
        if web_config is None or web_config.authorize(self.headers.get("Authorization")):
            return True
        self._send(
            401,
            b"401 Unauthorized\n",
            "text/plain; charset=utf-8",
            extra={"WWW-Authenticate": 'Basic realm="dts-exporter", charset="UTF-8"'},
        )
        return False

    def do_GET(self) -> None:
        with self.server.answering():
            self._get()

    def _get(self) -> None:
        if not self._authorized():
            return
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._expose(lambda: self.server.scrapes.metrics(self._scrape_timeout()))
        elif path == "/probe":
            self._probe()
        elif path == "/-/reload":
            self._send(405, b"405 use POST\n", "text/plain; charset=utf-8", allow="POST")
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/":
            body = _LANDING.format(version=html.escape(__version__)).encode()
            self._send(200, body, "text/html; charset=utf-8")
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _method_not_allowed(self) -> None:
        self._send(405, b"405 method not allowed\n", "text/plain; charset=utf-8", allow="GET, HEAD")

    def do_POST(self) -> None:
        with self.server.answering():
            self._post()

    def _post(self) -> None:
        if not self._authorized():
            return
        if urlsplit(self.path).path != "/-/reload":
            self._method_not_allowed()
            return
        reloader = self.server.reloader
        if reloader is None:  # as Prometheus answers without --web.enable-lifecycle
            self._send(403, b"Lifecycle API is not enabled.\n", "text/plain; charset=utf-8")
            return
        ok, message = reloader()
        status = 200 if ok else 500
        self._send(status, f"{message}\n".encode(), "text/plain; charset=utf-8")

    def do_PUT(self) -> None:
        self._method_not_allowed()

    def do_DELETE(self) -> None:
        self._method_not_allowed()

    def _probe(self) -> None:
        query = urlsplit(self.path).query
        if len(query) > MAX_PROBE_QUERY:
            message = f"414 probe query too long: {len(query)} bytes, at most {MAX_PROBE_QUERY}\n"
            self._send(414, message.encode(), "text/plain; charset=utf-8")
            return
        params = parse_qs(query)
        # `target` as blackbox_exporter names it, so the Prometheus Operator's Probe works
        job_ids = params.get("job_id", []) + params.get("target", [])
        task_ids = list(dict.fromkeys(params.get("task_id", [])))
        regions = params.get("region", [])
        problem = ""
        if len(job_ids) != 1 or not ID_RE.match(job_ids[0]):
            problem = "probe needs exactly one valid job_id=<SynchronizationJobId>"
        elif any(not ID_RE.match(task) for task in task_ids):
            problem = "task_id must be a TaskId (letters, digits, - _ . *)"
        elif len(regions) > 1 or any(not REGION_RE.match(region) for region in regions):
            problem = "region must be one region id, e.g. cn-hangzhou"
        if problem:
            self._send(400, f"400 {problem}\n".encode(), "text/plain; charset=utf-8")
            return
        region = regions[0] if regions else None
        timeout = self._scrape_timeout()
        try:  # collected before answering: a refused probe is an HTTP error, not a body
            collector = self.server.scrapes.probe(job_ids[0], task_ids, region, timeout)
        except ProbeRefusedError as exc:
            log.debug("probe refused status=%d reason=%s", exc.status, quote(exc.message))
            body = f"{exc.status} {exc.message}\n".encode()
            self._send(exc.status, body, "text/plain; charset=utf-8")
            return
        self._expose(lambda: collector)

    def _expose(self, scrape: Callable[[], Collector]) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        try:
            body = encode(scrape(), encoder)  # unchanged ids' lines reused
        except Exception:  # never expected: the collector does not raise; keep serving
            log.exception("metrics exposition failed")
            self._send(500, b"500 metrics exposition failed\n", "text/plain; charset=utf-8")
            return
        encoding = None
        if _gzip_wanted(self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body, compresslevel=5)
            encoding = "gzip"
        self._send(200, body, content_type, encoding=encoding)

    def _scrape_timeout(self) -> float | None:
        """Prometheus's scrape timeout less the offset, as blackbox_exporter does; an
        announced timeout below MIN_SCRAPE_TIMEOUT counts as that (a client announcing
        milliseconds would only collect Timeouts)."""
        raw = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        if raw is None:
            return None
        try:
            announced = float(raw)
        except ValueError:
            log.debug("ignoring a bad X-Prometheus-Scrape-Timeout-Seconds value=%s", quote(raw))
            return None
        if not announced > 0:  # also rejects NaN
            return None
        if announced < MIN_SCRAPE_TIMEOUT:
            log.debug("raising a short X-Prometheus-Scrape-Timeout-Seconds value=%s", quote(raw))
            announced = MIN_SCRAPE_TIMEOUT
        offset = self.server.timeout_offset
        return announced - offset if announced > 2 * offset else announced / 2

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        encoding: str | None = None,
        allow: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http request client=%s line=%s", self.client_address[0], quote(format % args))


def _gzip_wanted(accept_encoding: str) -> bool:
    """prometheus-client's negotiation (gzip named as such, not x-gzip), and a gzip the
    client refuses with q=0 is not sent."""
    if not gzip_accepted(accept_encoding):
        return False
    for part in accept_encoding.split(","):
        coding, *params = (item.strip() for item in part.split(";"))
        if coding.lower() != "gzip":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False
