"""Stand-ins for the ECS instance metadata service and a credentials URI (no signatures).

ECS metadata (`http://100.100.100.200` on a real instance), paths under `/latest/`:

- `PUT /latest/api/token` with `X-aliyun-ecs-metadata-token-ttl-seconds: 1..21600`:
  200, a random token (text) valid that many seconds; missing or invalid TTL: 400.
- `GET /latest/meta-data/ram/security-credentials/`: 200, the configured role name
  (text, no newline); 404 when no role is configured.
- `GET /latest/meta-data/ram/security-credentials/<role>`: 200 JSON `{AccessKeyId,
  AccessKeySecret, SecurityToken, Expiration, LastUpdated, Code: "Success"}`; 404 for
  another role. Credentials live 21600 s (or `sts_duration_seconds`) and are handed out
  again until less than half their life remains, as the real service rotates them.

Both GET paths need `X-aliyun-ecs-metadata-token` with a valid token (else 401) when the
simulator requires tokens (IMDSv2 hardened mode, the default); otherwise a request without
the header is accepted (IMDSv1), but a wrong token is still 401. Other paths under
`/latest/` answer 404, other methods 405.

Credentials URI: `GET /credentials-uri` answers what `ALIBABA_CLOUD_CREDENTIALS_URI`
points at: `{Code: "Success", AccessKeyId, AccessKeySecret, SecurityToken, Expiration,
LastUpdated}`, credentials living 3600 s (or `sts_duration_seconds`).

Every credential handed out is registered in the CredentialStore, so it signs DTS calls.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dts_exporter.simulator.calls import Reply
from dts_exporter.simulator.identities import CredentialStore, RotatingCredential, utc_text
from dts_exporter.simulator.render import render_json

METADATA_PREFIX = "/latest/"
TOKEN_PATH = "/latest/api/token"
ROLES_PATH = "/latest/meta-data/ram/security-credentials/"
CREDENTIALS_URI_PATH = "/credentials-uri"
TTL_HEADER = "x-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aliyun-ecs-metadata-token"
MAX_TOKEN_TTL = 21600
ECS_CREDENTIALS_SECONDS = 21600.0
URI_CREDENTIALS_SECONDS = 3600.0
TEXT_CONTENT_TYPE = "text/plain;charset=utf-8"
COUNT_TOKEN = "ecs-metadata-token"
COUNT_CREDENTIALS = "ecs-metadata-credentials"
COUNT_URI = "credentials-uri"


@dataclass(frozen=True)
class MetadataSettings:
    role_name: str | None = None
    require_token: bool = True
    duration_override: float | None = None


def _text(status: int, text: str) -> Reply:
    return Reply(status, text.encode("utf-8"), TEXT_CONTENT_TYPE)


def _not_found() -> Reply:
    return _text(404, "Not Found")


class MetadataService:
    """Answers metadata and credentials-URI requests; `count` records successful answers."""

    def __init__(
        self,
        settings: MetadataSettings,
        store: CredentialStore,
        clock: Callable[[], float],
        count: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._count = count
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._ecs = RotatingCredential(store, "ecs-metadata")
        self._uri = RotatingCredential(store, "credentials-uri")

    def _lifetime(self, default: float) -> float:
        override = self.settings.duration_override
        return default if override is None else override

    # -- ECS metadata -----------------------------------------------------------------------

    def handle_metadata(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        if path == TOKEN_PATH:
            if method != "PUT":
                return _text(405, "Method Not Allowed")
            return self._issue_token(headers)
        if not path.startswith(ROLES_PATH):
            return _not_found()
        if method != "GET":
            return _text(405, "Method Not Allowed")
        if not self._token_accepted(headers):
            return _text(401, "Unauthorized")
        role = path[len(ROLES_PATH) :]
        configured = self.settings.role_name
        if not role:
            return _not_found() if not configured else _text(200, configured)
        if role != configured:
            return _not_found()
        identity = self._ecs.get(self._lifetime(ECS_CREDENTIALS_SECONDS))
        self._count(COUNT_CREDENTIALS)
        body = {
            "AccessKeyId": identity.access_key_id,
            "AccessKeySecret": identity.access_key_secret,
            "Expiration": identity.expiration,
            "SecurityToken": identity.security_token or "",
            "LastUpdated": utc_text(identity.issued_at),
            "Code": "Success",
        }
        return Reply(200, render_json(body))

    def _issue_token(self, headers: Mapping[str, str]) -> Reply:
        raw = headers.get(TTL_HEADER, "").strip()
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOKEN_TTL:
            return _text(400, "Bad Request")
        token = secrets.token_urlsafe(40)
        now = self._clock()
        with self._lock:
            self._tokens = {key: until for key, until in self._tokens.items() if until > now}
            self._tokens[token] = now + int(raw)
        self._count(COUNT_TOKEN)
        return _text(200, token)

    def _token_accepted(self, headers: Mapping[str, str]) -> bool:
        token = headers.get(TOKEN_HEADER)
        if token is None:
            return not self.settings.require_token
        with self._lock:
            until = self._tokens.get(token.strip())
        return until is not None and self._clock() < until

    # -- credentials URI ----------------------------------------------------------------------

    def handle_credentials_uri(self, method: str) -> Reply:
        if method != "GET":
            return _text(405, "Method Not Allowed")
        identity = self._uri.get(self._lifetime(URI_CREDENTIALS_SECONDS))
        self._count(COUNT_URI)
        body = {
            "Code": "Success",
            "AccessKeyId": identity.access_key_id,
            "AccessKeySecret": identity.access_key_secret,
            "SecurityToken": identity.security_token or "",
            "Expiration": identity.expiration,
            "LastUpdated": utc_text(identity.issued_at),
        }
        return Reply(200, render_json(body))
