"""Signed Alibaba Cloud RPC requests, signature v1 (HMAC-SHA1) or v3 (ACS3-HMAC-SHA256).

Builds what to send; sending is `transport.send`. v3 is the official SDK's default: the
action travels in `x-acs-action`, parameters stay in the query, and `host` plus every
`x-acs-*` header is signed. v1 puts everything in the query with `Format=JSON`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

from dts_exporter.base.credentials import Credentials
from dts_exporter.wire import signing

SignatureVersion = Literal["v1", "v3"]


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    headers: dict[str, str]

    def __repr__(self) -> str:  # the URL and headers carry signatures and tokens
        return f"SignedRequest(method={self.method!r}, host={urlsplit(self.url).netloc!r})"


def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    endpoint: str,
    action: str,
    version: str,
    params: Mapping[str, str],
    credentials: Credentials,
    signature_version: SignatureVersion = "v3",
) -> SignedRequest:
    """A POST of `action` to `endpoint` (scheme://host[:port]) with a fresh nonce."""
    base = endpoint.rstrip("/")
    if signature_version == "v1":
        query = {
            "Action": action,
            "Version": version,
            "Format": "JSON",
            "AccessKeyId": credentials.access_key_id,
            "SignatureMethod": signing.V1_METHOD,
            "SignatureVersion": signing.V1_VERSION,
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": _timestamp(),
            **params,
        }
        if credentials.security_token:
            query["SecurityToken"] = credentials.security_token
        query["Signature"] = signing.sign_v1("POST", query, credentials.access_key_secret)
        return SignedRequest("POST", f"{base}/?{signing.canonical_query(query)}", {})

    query = dict(params)
    headers = {
        "host": urlsplit(base).netloc,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": _timestamp(),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": signing.EMPTY_SHA256,
    }
    if credentials.security_token:
        headers["x-acs-security-token"] = credentials.security_token
    canonical = signing.v3_canonical_request(
        "POST", "/", query, headers, headers.keys(), signing.EMPTY_SHA256
    )
    headers["Authorization"] = signing.v3_authorization(
        credentials.access_key_id,
        headers.keys(),
        signing.sign_v3(canonical, credentials.access_key_secret),
    )
    suffix = f"?{signing.canonical_query(query)}" if query else ""
    return SignedRequest("POST", f"{base}/{suffix}", headers)
