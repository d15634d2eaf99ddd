"""Signs simulator requests (v1 or v3) with one credential, on a clock the test moves."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from dts_exporter.simulator import SimulatorServer
from dts_exporter.wire import signing

STS_VERSION = "2015-04-01"
DTS_VERSION = "2020-01-01"


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass
class Clock:
    """The simulator's clock: wall time at creation plus an offset the test moves."""

    base: float = field(default_factory=time.time)
    offset: float = 0.0

    def __call__(self) -> float:
        return self.base + self.offset


@dataclass
class Signer:
    """Signs requests (v1 or v3) with one credential, on the simulator's clock."""

    server: SimulatorServer
    clock: Clock
    access_key_id: str
    secret: str
    token: str | None = None

    def v1(
        self,
        action: str,
        extra: Mapping[str, str] | None = None,
        *,
        version: str = DTS_VERSION,
        secret: str | None = None,
        send_token: bool = True,
    ) -> requests.Response:
        params = {
            "Action": action,
            "Version": version,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": utc(self.clock()),
            **(extra or {}),
        }
        if self.token is not None and send_token:
            params["SecurityToken"] = self.token
        params["Signature"] = signing.sign_v1("POST", params, secret or self.secret)
        return requests.post(self.server.url + "/", params=params, timeout=10)

    def v3(
        self,
        action: str,
        query: Mapping[str, str] | None = None,
        *,
        version: str = DTS_VERSION,
        secret: str | None = None,
        send_token: bool = True,
    ) -> requests.Response:
        headers = {
            "host": urlsplit(self.server.url).netloc,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": utc(self.clock()),
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
        }
        if self.token is not None and send_token:
            headers["x-acs-security-token"] = self.token
        names = list(headers)
        canonical = signing.v3_canonical_request(
            "POST", "/", dict(query or {}), headers, names, headers["x-acs-content-sha256"]
        )
        signature = signing.sign_v3(canonical, secret or self.secret)
        headers["Authorization"] = signing.v3_authorization(self.access_key_id, names, signature)
        return requests.post(self.server.url + "/", params=query, headers=headers, timeout=10)

    def call(self, style: str, action: str, params: Mapping[str, str], **kw: Any) -> Any:
        send = self.v1 if style == "v1" else self.v3
        return send(action, params, **kw)

    def with_credentials(self, credentials: Mapping[str, str]) -> Signer:
        return Signer(
            self.server,
            self.clock,
            credentials["AccessKeyId"],
            credentials["AccessKeySecret"],
            credentials["SecurityToken"],
        )
