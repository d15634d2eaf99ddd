"""The exporter-toolkit web config: strict validation, and real TLS, mTLS and basic auth
through a minimal HTTPS server that uses `ssl_context()` and `authorize()` the way the
exporter's HTTP server does."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests

from dts_exporter.base.errors import ConfigError
from dts_exporter.webconfig import WebConfig, load_web_config
from tests.pki import ALICE_HASH, BOB_HASH, Pki, bcrypt_hash, new_key, write_key


def write(dir: Path, text: str, name: str = "web.yml") -> Path:
    path = dir / name
    path.write_text(text, encoding="utf-8")
    return path


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- validation ---------------------------------------------------------------------------


def test_empty_file_and_empty_tls_section_mean_plain_http(tmp_path: Path) -> None:
    for text in ("", "tls_server_config: {}\n", "tls_server_config:\nbasic_auth_users: {}\n"):
        config = load_web_config(str(write(tmp_path, text)))
        assert config.tls is None
        assert config.ssl_context() is None
        assert config.authorize(None) is True
        assert config.authorize("Basic garbage") is True


def test_relative_paths_resolve_against_the_config_directory(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The config lives in the PKI directory and names the files relatively; the current
    # directory is elsewhere.
    path = write(
        pki.dir,
        "tls_server_config:\n"
        "  cert_file: server.crt\n"
        "  key_file: ./server.key\n"
        "  client_ca_file: ca.crt\n"
        "  client_auth_type: RequireAndVerifyClientCert\n"
        "  min_version: TLS13\n",
    )
    # Loaded by a relative name from the parent directory: the files are still found
    # next to the config, not in the current directory.
    monkeypatch.chdir(pki.dir.parent)
    config = load_web_config(f"{pki.dir.name}/{path.name}")
    assert config.tls is not None
    assert config.tls.cert_file == str(pki.server_cert)
    assert config.tls.key_file == str(pki.server_key)
    assert config.tls.client_ca_file == str(pki.ca)
    context = config.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


@pytest.mark.parametrize(
    ("policy", "with_ca", "mode"),
    [
        ("NoClientCert", False, ssl.CERT_NONE),
        ("RequestClientCert", False, ssl.CERT_NONE),
        ("RequestClientCert", True, ssl.CERT_OPTIONAL),
        ("RequireAnyClientCert", True, ssl.CERT_REQUIRED),
        ("VerifyClientCertIfGiven", True, ssl.CERT_OPTIONAL),
        ("RequireAndVerifyClientCert", True, ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_policies(pki: Pki, policy: str, with_ca: bool, mode: ssl.VerifyMode) -> None:
    ca = f"  client_ca_file: {pki.ca}\n" if with_ca else ""
    path = write(
        pki.dir,
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"{ca}  client_auth_type: {policy}\n",
        name=f"web-{policy}-{with_ca}.yml",
    )
    context = load_web_config(str(path)).ssl_context()
    assert context is not None
    assert context.verify_mode == mode
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2  # exporter-toolkit's default


def _tls(pki: Pki, extra: str = "") -> str:
    return (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n{extra}"
    )


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_web_config(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


def test_validation_errors(pki: Pki, tmp_path: Path) -> None:
    garbage = write(tmp_path, "not a certificate\n", "garbage.pem")
    other_key = write_key(new_key(), tmp_path / "other.key")
    encrypted = write_key(new_key(), tmp_path / "encrypted.key", password=b"sesame")
    cases: list[tuple[str, str]] = [
        ("- a list\n", "expected a mapping, got a list"),
        ("tls_server_config: [1]\n", "tls_server_config: expected a mapping, got a list"),
        (
            "tls_config: {}\n",
            "tls_config: unknown key (allowed: tls_server_config, basic_auth_users)",
        ),
        (
            "http_server_config: {http2: false}\n",
            "http_server_config: HTTP/2 and header settings is not supported by dts-exporter "
            "(supported here: tls_server_config, basic_auth_users)",
        ),
        (
            _tls(pki, "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
            "tls_server_config.cipher_suites: cipher suite selection is not supported by "
            "dts-exporter (supported here: cert_file, key_file, client_ca_file, "
            "client_auth_type, min_version, max_version)",
        ),
        (
            _tls(pki, "  certfile: x\n"),
            "tls_server_config.certfile: unknown key (allowed: cert_file, key_file, "
            "client_ca_file, client_auth_type, min_version, max_version)",
        ),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            f"tls_server_config.cert_file: file not found: {tmp_path / 'missing.crt'}",
        ),
        (
            f"tls_server_config:\n  cert_file: {pki.server_cert}\n",
            "tls_server_config.key_file: missing (required with cert_file)",
        ),
        (
            f"tls_server_config:\n  key_file: {pki.server_key}\n",
            "tls_server_config.cert_file: missing (required with key_file)",
        ),
        (
            f"tls_server_config:\n  cert_file: {tmp_path}\n  key_file: {pki.server_key}\n",
            f"tls_server_config.cert_file: not a regular file: {tmp_path}",
        ),
        (
            "tls_server_config:\n  cert_file: 42\n",
            "tls_server_config.cert_file: expected a string, got a number",
        ),
        (
            "tls_server_config:\n  cert_file: ''\n",
            "tls_server_config.cert_file: must not be empty",
        ),
        (
            _tls(pki, "  client_auth_type: RequireClientCertPlease\n"),
            "tls_server_config.client_auth_type: expected one of NoClientCert, "
            "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
            "RequireAndVerifyClientCert, got 'RequireClientCertPlease'",
        ),
        (
            _tls(pki, f"  client_ca_file: {pki.ca}\n"),
            "tls_server_config.client_ca_file: set without a client_auth_type that uses it "
            "(e.g. client_auth_type: RequireAndVerifyClientCert)",
        ),
        (
            _tls(pki, "  client_auth_type: RequireAndVerifyClientCert\n"),
            "tls_server_config.client_ca_file: missing (required by client_auth_type "
            "RequireAndVerifyClientCert)",
        ),
        (
            _tls(pki, "  client_auth_type: RequireAnyClientCert\n"),
            "tls_server_config.client_ca_file: missing (required by client_auth_type "
            "RequireAnyClientCert)",
        ),
        (
            _tls(pki, "  min_version: TLS1.2\n"),
            "tls_server_config.min_version: expected one of TLS10, TLS11, TLS12, TLS13, "
            "got 'TLS1.2'",
        ),
        (
            _tls(pki, "  min_version: TLS13\n  max_version: TLS12\n"),
            "tls_server_config.max_version: TLS12 is below min_version TLS13",
        ),
        (
            "basic_auth_users: [alice]\n",
            "basic_auth_users: expected a mapping of user name to bcrypt hash, got a list",
        ),
        (
            "basic_auth_users:\n  alice: wonderland\n",
            "basic_auth_users.alice: not a bcrypt hash (expected $2y$<cost>$ and 53 "
            "characters, e.g. from htpasswd -nBC 10 USER)",
        ),
        (
            "basic_auth_users:\n  alice: 12345\n",
            "basic_auth_users.alice: expected a bcrypt hash string, got a number",
        ),
        (
            f"basic_auth_users:\n  'a:b': '{ALICE_HASH}'\n",
            "basic_auth_users.a:b: a user name cannot contain ':' (Basic authentication "
            "splits on it)",
        ),
        (
            f"basic_auth_users:\n  42: '{ALICE_HASH}'\n",
            "basic_auth_users: user names must be non-empty strings, got 42",
        ),
        (
            "basic_auth_users:\n  alice: '$2y$03$" + "a" * 53 + "'\n",
            "basic_auth_users.alice: bcrypt cost 3 is outside 4-31",
        ),
        ("tls_server_config: {cert_file: [\n", "invalid YAML at line 2, column 1"),
    ]
    for index, (text, expected) in enumerate(cases):
        message = _error(write(tmp_path, text, f"case{index}.yml"))
        assert message.startswith(expected), (text, message)
        assert "wonderland" not in message or "wonderland" in expected

    # Files that exist but do not load.
    loaded: list[tuple[str, str]] = [
        (
            f"tls_server_config:\n  cert_file: {garbage}\n  key_file: {pki.server_key}\n",
            f"tls_server_config: cannot load cert_file {garbage} with key_file {pki.server_key}: ",
        ),
        (
            f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {other_key}\n",
            f"tls_server_config: cannot load cert_file {pki.server_cert} with key_file "
            f"{other_key}: ",
        ),
        (
            f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {encrypted}\n",
            f"tls_server_config: cannot load cert_file {pki.server_cert} with key_file "
            f"{encrypted}: ",
        ),
        (
            _tls(
                pki,
                f"  client_ca_file: {garbage}\n  client_auth_type: VerifyClientCertIfGiven\n",
            ),
            f"tls_server_config.client_ca_file: cannot load {garbage}: ",
        ),
    ]
    for index, (text, expected) in enumerate(loaded):
        message = _error(write(tmp_path, text, f"load{index}.yml"))
        assert message.startswith(expected), (text, message)
        assert len(message) > len(expected)  # the SSL library's reason follows

    assert _error(tmp_path / "absent.yml").startswith("cannot read file: No such file")
    (tmp_path / "binary.yml").write_bytes(b"\xff\xfe\x00")
    assert _error(tmp_path / "binary.yml") == "file is not UTF-8 text"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "locked.key"
    key.write_bytes(pki.server_key.read_bytes())
    key.chmod(0)
    message = _error(
        write(tmp_path, f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {key}\n")
    )
    assert message == f"tls_server_config.key_file: cannot read {key}: Permission denied"


def test_password_hashes_never_in_repr_or_errors(tmp_path: Path) -> None:
    config = load_web_config(
        str(write(tmp_path, f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n  bob: '{BOB_HASH}'\n"))
    )
    assert config.users == ("alice", "bob")
    for text in (repr(config), str(config)):
        assert "alice" in text
        assert ALICE_HASH not in text and BOB_HASH not in text and "$2" not in text


# -- authorize ----------------------------------------------------------------------------


@pytest.fixture
def users(tmp_path: Path) -> WebConfig:
    return load_web_config(
        str(write(tmp_path, f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n  bob: '{BOB_HASH}'\n"))
    )


def test_authorize(users: WebConfig) -> None:
    assert users.authorize(basic("alice", "wonderland"))
    assert users.authorize(basic("bob", "builder"))  # a $2y$ hash
    assert users.authorize("basic " + basic("alice", "wonderland")[6:])  # scheme is any case
    rejected = [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer abc",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"alice-no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        basic("alice", "Wonderland"),
        basic("alice", ""),
        basic("bob", "wonderland"),  # another user's password
        basic("carol", "wonderland"),  # no such user
        basic("", "wonderland"),
        basic("alice", "wonderland" * 10),  # over bcrypt's 72 bytes: refused, not truncated
    ]
    for header in rejected:
        assert users.authorize(header) is False, header


def test_successful_checks_are_cached(users: WebConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return bool(real(password, hashed))

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    for _ in range(5):
        assert users.authorize(basic("alice", "wonderland"))
    assert len(calls) == 1
    for _ in range(3):  # failures are not cached, and a cached success does not leak to them
        assert not users.authorize(basic("alice", "wonderland!"))
        assert not users.authorize(basic("bob", "wonderland"))
    assert len(calls) == 7
    assert users.authorize(basic("bob", "builder"))
    assert users.authorize(basic("bob", "builder"))
    assert len(calls) == 8
    # Unknown users cost a bcrypt run as well (no timing oracle for user names).
    assert not users.authorize(basic("mallory", "x"))
    assert len(calls) == 9


def test_cache_makes_repeated_scrapes_cheap_at_cost_10(tmp_path: Path) -> None:
    config = load_web_config(
        str(write(tmp_path, f"basic_auth_users:\n  alice: '{bcrypt_hash('s3cret', cost=10)}'\n"))
    )
    header = basic("alice", "s3cret")
    started = time.perf_counter()
    assert config.authorize(header)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        assert config.authorize(header)
    repeated = (time.perf_counter() - started) / 100
    assert first > 0.01  # bcrypt really ran
    assert repeated < first / 20


# -- real TLS -----------------------------------------------------------------------------


class _TlsServer(ThreadingHTTPServer):
    """A minimal exporter-like HTTPS server: the TLS handshake happens in the request's own
    thread (a client that never finishes its handshake blocks no one else), and every
    request is checked with `authorize()`."""

    daemon_threads = True
    web: WebConfig
    context: ssl.SSLContext | None

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        if self.context is not None:
            try:
                request.settimeout(5)
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _TlsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self.server.web.authorize(self.headers.get("Authorization")):
            body = b"Unauthorized\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="dts-exporter"')
        else:
            body = b"dts_up 1\n"
            self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[_TlsServer] = []

    def start(config: WebConfig) -> str:
        server = _TlsServer(("127.0.0.1", 0), _Handler)
        server.web = config
        server.context = config.ssl_context()
        # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        scheme = "https" if server.context is not None else "http"
        return f"{scheme}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _config(pki: Pki, text: str) -> WebConfig:
    return load_web_config(str(write(pki.dir, text, f"web-{time.monotonic_ns()}.yml")))


def test_tls_with_basic_auth(pki: Pki, serve: Any) -> None:
    url = serve(_config(pki, _tls(pki) + f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n"))
    ok = requests.get(
        url, headers={"Authorization": basic("alice", "wonderland")}, verify=str(pki.ca), timeout=5
    )
    assert ok.status_code == 200
    assert ok.text == "dts_up 1\n"
    # requests' own basic auth, and by host name (the SAN has both)
    by_name = url.replace("127.0.0.1", "localhost")
    assert (
        requests.get(
            by_name, auth=("alice", "wonderland"), verify=str(pki.ca), timeout=5
        ).status_code
        == 200
    )
    wrong = requests.get(url, auth=("alice", "nope"), verify=str(pki.ca), timeout=5)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    none = requests.get(url, verify=str(pki.ca), timeout=5)
    assert none.status_code == 401
    assert none.headers["WWW-Authenticate"].startswith("Basic")
    # A client that does not trust the CA refuses the server.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=str(pki.other_ca), timeout=5)

    # Plain HTTP to the TLS port fails cleanly, and the server keeps serving.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url.replace("https://", "http://"), timeout=5)
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = raw.recv(4096)  # a TLS alert, or nothing
        except ConnectionResetError:
            answer = b""
        assert b"HTTP/1.1" not in answer  # never an HTTP answer in clear text
    assert (
        requests.get(url, auth=("alice", "wonderland"), verify=str(pki.ca), timeout=5).status_code
        == 200
    )


def test_tls_version_floor(pki: Pki, serve: Any) -> None:
    url = serve(_config(pki, _tls(pki, "  min_version: TLS13\n")))
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    client = ssl.create_default_context(cafile=str(pki.ca))
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError), socket.create_connection((host, port), timeout=5) as raw:
        client.wrap_socket(raw, server_hostname=host)
    assert requests.get(url, verify=str(pki.ca), timeout=5).status_code == 200


def _mtls_refused(url: str, pki: Pki, cert: tuple[str, str] | None) -> None:
    # Depending on the TLS version the refusal comes during the handshake or as an alert on
    # the first read; either way the request never gets an HTTP answer.
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(url, verify=str(pki.ca), cert=cert, timeout=5)


@pytest.mark.parametrize("version", ["TLS12", "TLS13"])
def test_mutual_tls(pki: Pki, serve: Any, version: str) -> None:
    url = serve(
        _config(
            pki,
            _tls(
                pki,
                f"  client_ca_file: {pki.ca}\n  client_auth_type: RequireAndVerifyClientCert\n"
                f"  min_version: {version}\n  max_version: {version}\n",
            ),
        )
    )
    good = (str(pki.client_cert), str(pki.client_key))
    assert requests.get(url, verify=str(pki.ca), cert=good, timeout=5).status_code == 200
    _mtls_refused(url, pki, None)
    _mtls_refused(url, pki, (str(pki.other_client_cert), str(pki.other_client_key)))
    # the server certificate is no client certificate (wrong extended key usage)
    _mtls_refused(url, pki, (str(pki.server_cert), str(pki.server_key)))
    assert requests.get(url, verify=str(pki.ca), cert=good, timeout=5).status_code == 200


def test_mutual_tls_and_basic_auth_together(pki: Pki, serve: Any) -> None:
    url = serve(
        _config(
            pki,
            _tls(
                pki, f"  client_ca_file: {pki.ca}\n  client_auth_type: RequireAndVerifyClientCert\n"
            )
            + f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n",
        )
    )
    good = (str(pki.client_cert), str(pki.client_key))
    assert requests.get(url, verify=str(pki.ca), cert=good, timeout=5).status_code == 401
    assert (
        requests.get(
            url, verify=str(pki.ca), cert=good, auth=("alice", "wonderland"), timeout=5
        ).status_code
        == 200
    )
    _mtls_refused(url, pki, None)


def test_verify_client_cert_if_given(pki: Pki, serve: Any) -> None:
    url = serve(
        _config(
            pki,
            _tls(pki, f"  client_ca_file: {pki.ca}\n  client_auth_type: VerifyClientCertIfGiven\n"),
        )
    )
    assert requests.get(url, verify=str(pki.ca), timeout=5).status_code == 200
    good = (str(pki.client_cert), str(pki.client_key))
    assert requests.get(url, verify=str(pki.ca), cert=good, timeout=5).status_code == 200
    _mtls_refused(url, pki, (str(pki.other_client_cert), str(pki.other_client_key)))


def test_plain_http_with_basic_auth(pki: Pki, serve: Any) -> None:
    url = serve(_config(pki, f"basic_auth_users:\n  alice: '{ALICE_HASH}'\n"))
    assert url.startswith("http://")
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=("alice", "wonderland"), timeout=5).status_code == 200
