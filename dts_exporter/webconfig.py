"""The exporter-toolkit web configuration file (`--web.config.file`), as Go exporters take it.

```yaml
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt                          # optional
  client_auth_type: RequireAndVerifyClientCert    # default NoClientCert
  min_version: TLS12                              # TLS12 (default) | TLS13
  max_version: TLS13                              # optional
basic_auth_users:
  alice: $2y$10$...                               # bcrypt hashes (htpasswd -nBC 10 alice)
```

Relative paths are resolved against the directory of the config file. Validation is strict:
unknown keys, wrong types, missing or unreadable files and certificates that do not load
are refused with a `ConfigError` naming the file and the key path
(`web.yml: tls_server_config.cert_file: file not found: /etc/x/server.crt`). An empty file,
or an empty `tls_server_config`, means plain HTTP, as in exporter-toolkit.

`client_auth_type` is mapped onto what Python's `ssl` module can do; OpenSSL through
Python cannot accept a client certificate without verifying it, so two Go policies are
approximated (stricter than Go, never looser):

- `NoClientCert` (default): no certificate is asked for (`CERT_NONE`); a
  `client_ca_file` with it is an error, as in Go.
- `RequestClientCert`: with `client_ca_file`, asked for and verified if given
  (`CERT_OPTIONAL`; Go does not verify it); without one, not asked for.
- `RequireAnyClientCert`: required and verified against `client_ca_file`
  (`CERT_REQUIRED`; Go requires one but does not verify it).
- `VerifyClientCertIfGiven`: verified against `client_ca_file` if given (`CERT_OPTIONAL`).
- `RequireAndVerifyClientCert`: required and verified (`CERT_REQUIRED`).

The policies that verify (the last three) need `client_ca_file`.

Certificates are read when the file is loaded (to fail early) and again by each
`ssl_context()` call; the exporter calls it once when it starts listening, so replaced
certificates take effect on restart (exporter-toolkit re-reads them on every handshake).

`min_version`/`max_version` TLS10 and TLS11 are refused when the file is loaded: Python's
`ssl` and OpenSSL's default security level refuse them anyway, and accepting the key
without effect would mislead.

`authorize()` checks an `Authorization: Basic` header against the bcrypt hashes, with a
cache of successful logins and a bound on concurrent bcrypt runs (`basicauth`).
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dts_exporter.base.documents import read_document, readable_by_others, require_regular_file
from dts_exporter.base.errors import ConfigError, describe_kind
from dts_exporter.basicauth import BasicAuth

log = logging.getLogger("dts_exporter.web")

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# Policies whose certificates are verified here, and so need client_ca_file.
_VERIFYING = ("RequireAnyClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TOP_KEYS = ("tls_server_config", "basic_auth_users")
_TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "min_version",
    "max_version",
)
# exporter-toolkit keys that dts-exporter does not implement: refused with a clear word.
_UNSUPPORTED = {
    "http_server_config": "HTTP/2 and header settings",
    "rate_limit": "rate limiting",
    "cipher_suites": "cipher suite selection",
    "curve_preferences": "curve selection",
    "prefer_server_cipher_suites": "cipher suite preference",
    "client_allowed_sans": "client SAN filtering",
    "cert": "inline certificates (use cert_file)",
    "key": "inline keys (use key_file)",
    "client_ca": "inline client CAs (use client_ca_file)",
}
_BCRYPT_RE = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
_UNSUPPORTED_VERSIONS = ("TLS10", "TLS11")


@dataclass(frozen=True)
class TlsServerConfig:
    cert_file: str  # absolute paths
    key_file: str
    client_ca_file: str | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass(frozen=True)
class WebConfig:
    """A validated web configuration. No TLS and no users: plain HTTP, open to all."""

    source: str = ""
    tls: TlsServerConfig | None = None
    # (user, bcrypt hash) pairs: never in the repr.
    basic_auth_users: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    _auth: BasicAuth = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_auth", BasicAuth(self.basic_auth_users))

    def __repr__(self) -> str:
        users = [user for user, _ in self.basic_auth_users]
        return f"WebConfig(source={self.source!r}, tls={self.tls!r}, basic_auth_users={users!r})"

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(user for user, _ in self.basic_auth_users)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A server-side context for the listening socket, or None for plain HTTP."""
        if self.tls is None:
            return None
        return _build_context(self.tls, self.source)

    def authorize(self, authorization_header: str | None) -> bool:
        """True when no users are configured, or the header is `Basic` with a user and
        password that match one of the bcrypt hashes (see `basicauth`)."""
        return self._auth.check(authorization_header)


def _no_password() -> str:
    # An encrypted key must fail to load, never prompt on the terminal.
    return ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _build_context(tls: TlsServerConfig, source: str) -> ssl.SSLContext:
    where = f"{source}: tls_server_config"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.minimum_version = TLS_VERSIONS[tls.min_version]
        if tls.max_version is not None:
            context.maximum_version = TLS_VERSIONS[tls.max_version]
    except (ValueError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{where}.min_version: not supported here: {_one_line(str(exc))}"
        ) from None
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_password)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"{where}: cannot load cert_file {tls.cert_file} with key_file {tls.key_file}: "
            f"{_one_line(getattr(exc, 'strerror', None) or str(exc))}"
        ) from None
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{where}.client_ca_file: cannot load {tls.client_ca_file}: "
                f"{_one_line(getattr(exc, 'strerror', None) or str(exc))}"
            ) from None
    policy = tls.client_auth_type
    if policy in ("RequireAnyClientCert", "RequireAndVerifyClientCert"):
        context.verify_mode = ssl.CERT_REQUIRED
    elif policy == "VerifyClientCertIfGiven" or (
        policy == "RequestClientCert" and tls.client_ca_file is not None
    ):
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


# -- loading ----------------------------------------------------------------------------------


class _Node:
    """One node of the document with its key path, for one-line errors."""

    def __init__(self, source: str, path: str, value: object) -> None:
        self.source = source
        self.path = path
        self.value = value

    def fail(self, problem: str) -> ConfigError:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return ConfigError(f"{where}: {_one_line(problem)}")

    def child(self, key: str) -> _Node:
        assert isinstance(self.value, Mapping)
        path = f"{self.path}.{key}" if self.path else key
        return _Node(self.source, path, self.value.get(key))

    def mapping(self, allowed: tuple[str, ...]) -> _Node:
        if not isinstance(self.value, Mapping):
            raise self.fail(f"expected a mapping, got {_kind_of(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {_kind_of(key)} {key!r}")
            if key in _UNSUPPORTED:
                raise self.child(key).fail(
                    f"{_UNSUPPORTED[key]} is not supported by dts-exporter "
                    f"(supported here: {', '.join(allowed)})"
                )
            if key not in allowed:
                raise self.child(key).fail(f"unknown key (allowed: {', '.join(allowed)})")
        return self

    def string(self) -> str | None:
        if self.value is None:
            return None
        if not isinstance(self.value, str):
            raise self.fail(f"expected a string, got {_kind_of(self.value)}")
        if not self.value.strip():
            raise self.fail("must not be empty")
        return self.value

    def choice(self, choices: tuple[str, ...]) -> str | None:
        value = self.string()
        if value is not None and value not in choices:
            raise self.fail(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def file(self, base: Path) -> str | None:
        value = self.string()
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = base / path
        if not path.exists():
            raise self.fail(f"file not found: {path}")
        if not path.is_file():
            raise self.fail(f"not a regular file: {path}")
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise self.fail(f"cannot read {path}: {exc.strerror or exc}") from None
        return str(path)


def load_web_config(path: str) -> WebConfig:
    """Read and validate a web configuration file; every problem is one `ConfigError` line."""
    name = str(path)
    file = Path(path)
    require_regular_file(path, "web config file")
    data = read_document(file)
    return parse_web_config(data, source=name, base=file.resolve().parent)


def key_file_warnings(config: WebConfig) -> list[str]:
    """The TLS private key should be readable by its owner only."""
    if config.tls is None:
        return []
    key = config.tls.key_file
    mode = readable_by_others(key)
    if mode is not None:
        return [
            f"{key} (tls_server_config.key_file of {config.source}) is readable by group or "
            f"others (mode {mode:o}); run chmod 600 {key}"
        ]
    return []


def parse_web_config(data: object, *, source: str = "web config", base: Path) -> WebConfig:
    """Validate an already-decoded document; relative file names are taken from `base`."""
    if data is None:
        return WebConfig(source=source)
    top = _Node(source, "", data).mapping(_TOP_KEYS)
    tls = _tls(top.child("tls_server_config"), base)
    users = _users(top.child("basic_auth_users"))
    config = WebConfig(source=source, tls=tls, basic_auth_users=users)
    config.ssl_context()  # the certificates and keys must load now, not at the first scrape
    return config


def _tls(node: _Node, base: Path) -> TlsServerConfig | None:
    if node.value is None:
        return None
    node.mapping(_TLS_KEYS)
    assert isinstance(node.value, Mapping)
    if not node.value:
        return None  # an empty section: plain HTTP, as exporter-toolkit does
    cert = node.child("cert_file").file(base)
    key = node.child("key_file").file(base)
    if cert is None:
        raise node.child("cert_file").fail("missing (required with key_file)")
    if key is None:
        raise node.child("key_file").fail("missing (required with cert_file)")
    ca = node.child("client_ca_file").file(base)
    auth_node = node.child("client_auth_type")
    auth = auth_node.choice(CLIENT_AUTH_TYPES) or "NoClientCert"
    if ca is not None and auth == "NoClientCert":
        raise node.child("client_ca_file").fail(
            "set without a client_auth_type that uses it "
            "(e.g. client_auth_type: RequireAndVerifyClientCert)"
        )
    if ca is None and auth in _VERIFYING:
        raise node.child("client_ca_file").fail(f"missing (required by client_auth_type {auth})")
    versions = tuple(TLS_VERSIONS)
    min_node = node.child("min_version")
    min_version = min_node.choice(versions) or "TLS12"
    max_node = node.child("max_version")
    max_version = max_node.choice(versions)
    for version_node, version in ((min_node, min_version), (max_node, max_version)):
        if version in _UNSUPPORTED_VERSIONS:
            raise version_node.fail(
                f"{version} is not supported by this Python/OpenSSL; use TLS12 or TLS13"
            )
    if max_version is not None and versions.index(max_version) < versions.index(min_version):
        raise max_node.fail(f"{max_version} is below min_version {min_version}")
    return TlsServerConfig(
        cert_file=cert,
        key_file=key,
        client_ca_file=ca,
        client_auth_type=auth,
        min_version=min_version,
        max_version=max_version,
    )


def _users(node: _Node) -> tuple[tuple[str, bytes], ...]:
    if node.value is None:
        return ()
    if not isinstance(node.value, Mapping):
        raise node.fail(
            f"expected a mapping of user name to bcrypt hash, got {_kind_of(node.value)}"
        )
    users: list[tuple[str, bytes]] = []
    for user, hashed in node.value.items():
        if not isinstance(user, str) or not user:
            raise node.fail(f"user names must be non-empty strings, got {user!r}")
        entry = node.child(user)
        if ":" in user:
            raise entry.fail("a user name cannot contain ':' (Basic authentication splits on it)")
        if not isinstance(hashed, str):
            # Never echo the value: it may be a password typed in by mistake.
            raise entry.fail(f"expected a bcrypt hash string, got {_kind_of(hashed)}")
        match = _BCRYPT_RE.match(hashed.strip())
        if match is None:
            raise entry.fail(
                "not a bcrypt hash (expected $2y$<cost>$ and 53 characters, "
                "e.g. from htpasswd -nBC 10 USER)"
            )
        if not 4 <= int(match.group(1)) <= 31:
            raise entry.fail(f"bcrypt cost {int(match.group(1))} is outside 4-31")
        users.append((user, hashed.strip().encode("ascii")))
    return tuple(users)


def _kind_of(value: object) -> str:
    return describe_kind(value, mapping="a mapping")
