"""Alibaba Cloud API request signing: RPC signature v1 and ACS3-HMAC-SHA256 (v3).

Pure functions shared by the client (which signs) and the simulator (which verifies),
so the two sides cannot drift apart. Nothing here logs: the inputs include secrets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

V1_METHOD = "HMAC-SHA1"
V1_VERSION = "1.0"
V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent_encode(value: str) -> str:
    """RFC 3986 encoding: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted, percent-encoded `k=v&...`, the form both signature versions sign."""
    return "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)
    )


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign_v1(method: str, params: Mapping[str, str], secret: str) -> str:
    """Signature v1: base64(HMAC-SHA1(secret + "&", string to sign)).

    `params` are all request parameters except `Signature` itself.
    """
    digest = hmac.new(
        f"{secret}&".encode(), v1_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def v3_canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_sha256: str,
) -> str:
    """The canonical request of ACS3-HMAC-SHA256.

    `headers` must be keyed by lower-case names; `signed_headers` lists which of them are
    signed (lower-case). Values are trimmed, as the service does.
    """
    names = sorted(signed_headers)
    header_block = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            header_block,
            ";".join(names),
            payload_sha256,
        ]
    )


def v3_string_to_sign(canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{V3_ALGORITHM}\n{digest}"


def sign_v3(canonical_request: str, secret: str) -> str:
    """Signature v3: hex(HMAC-SHA256(secret, string to sign))."""
    return hmac.new(
        secret.encode(), v3_string_to_sign(canonical_request).encode(), hashlib.sha256
    ).hexdigest()


def v3_authorization(access_key_id: str, signed_headers: Iterable[str], signature: str) -> str:
    names = ";".join(sorted(signed_headers))
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={names},Signature={signature}"


def parse_v3_authorization(value: str) -> tuple[str, list[str], str] | None:
    """Split an `Authorization` header into (access key id, signed headers, signature).

    Returns None when the header is not a well-formed ACS3-HMAC-SHA256 authorization.
    """
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    try:
        credential = fields["Credential"]
        signed = fields["SignedHeaders"]
        signature = fields["Signature"]
    except KeyError:
        return None
    if not credential or not signed or not signature:
        return None
    return credential, signed.split(";"), signature
