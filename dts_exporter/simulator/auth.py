"""Request authentication as the service applies it: signature v1 (RPC) and v3 (ACS3).

`parse_request` extracts what was signed (raising `IncompleteSignature` when the request
cannot be a signed request at all); `Authenticator.verify` then checks, in order, the
access key (any identity of the CredentialStore: the permanent pair or temporary STS
credentials), the timestamp window, the signature, the nonce and the security token
(`InvalidSecurityToken.MalFormed` when missing, `.Mismatch` when wrong, `.Expired` once
temporary credentials have expired).
Nothing here logs: the inputs include the AccessKey secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from dts_exporter.simulator.identities import CredentialStore, Identity
from dts_exporter.simulator.render import ApiError
from dts_exporter.wire import signing

TIMESTAMP_WINDOW_SECONDS = 15 * 60
V1_REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
)
V3_REQUIRED_HEADERS = (
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$")
_INCOMPLETE = "The request signature does not conform to Aliyun standards."


def _same(left: str, right: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input."""
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))


def _incomplete(detail: str) -> ApiError:
    return ApiError(400, "IncompleteSignature", f"{_INCOMPLETE} {detail}")


@dataclass(frozen=True)
class SignedRequest:
    """What a request claims and what the server computed from it (secret-free)."""

    style: str  # "v1" or "v3"
    action: str
    version: str
    access_key_id: str
    signature: str
    nonce: str
    timestamp: str
    security_token: str | None
    string_to_sign: str
    method: str = "POST"
    v1_params: Mapping[str, str] | None = None
    v3_canonical_request: str = ""
    payload_matches: bool = True


def header_map(items: list[tuple[str, str]]) -> dict[str, str]:
    """Headers keyed by lower-case name; repeated headers joined as the SDK signs them."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.lower(), []).append(value.strip())
    return {name: ",".join(sorted(values)) for name, values in grouped.items()}


def parse_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    params: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> SignedRequest:
    """Classify and parse a request. `params` is query merged with a form body.

    Raises ApiError(IncompleteSignature) when signing material is missing or malformed.
    """
    if "authorization" in headers:
        return _parse_v3(method, path, query, headers, body)
    return _parse_v1(method, params)


def _parse_v1(method: str, params: Mapping[str, str]) -> SignedRequest:
    for name in V1_REQUIRED:
        if not params.get(name):
            raise _incomplete(f"Parameter {name} is missing.")
    if params["SignatureMethod"] != signing.V1_METHOD:
        raise _incomplete(f"SignatureMethod must be {signing.V1_METHOD}.")
    if params["SignatureVersion"] != signing.V1_VERSION:
        raise _incomplete(f"SignatureVersion must be {signing.V1_VERSION}.")
    signed = {key: value for key, value in params.items() if key != "Signature"}
    return SignedRequest(
        style="v1",
        action=params.get("Action", ""),
        version=params.get("Version", ""),
        access_key_id=params["AccessKeyId"],
        signature=params["Signature"],
        nonce=params["SignatureNonce"],
        timestamp=params["Timestamp"],
        security_token=params.get("SecurityToken"),
        string_to_sign=signing.v1_string_to_sign(method, signed),
        method=method,
        v1_params=signed,
    )


def _parse_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> SignedRequest:
    parsed = signing.parse_v3_authorization(headers["authorization"])
    if parsed is None:
        raise _incomplete(
            "Authorization must be 'ACS3-HMAC-SHA256 Credential=<AccessKeyId>,"
            "SignedHeaders=<a;b>,Signature=<hex>'."
        )
    access_key_id, signed_headers, signature = parsed
    for name in V3_REQUIRED_HEADERS:
        if not headers.get(name):
            raise _incomplete(f"Header {name} is missing.")
    signed = {name.lower() for name in signed_headers}
    for name in sorted(headers):
        if (name == "host" or name.startswith("x-acs-")) and name not in signed:
            raise _incomplete(f"Header {name} is not signed.")
    if "host" not in signed:
        raise _incomplete("Header host is not signed.")
    claimed_hash = headers["x-acs-content-sha256"]
    canonical = signing.v3_canonical_request(method, path, query, headers, signed, claimed_hash)
    return SignedRequest(
        style="v3",
        action=headers["x-acs-action"],
        version=headers["x-acs-version"],
        access_key_id=access_key_id,
        signature=signature,
        nonce=headers["x-acs-signature-nonce"],
        timestamp=headers["x-acs-date"],
        security_token=headers.get("x-acs-security-token"),
        string_to_sign=signing.v3_string_to_sign(canonical),
        method=method,
        v3_canonical_request=canonical,
        payload_matches=_same(claimed_hash.lower(), hashlib.sha256(body).hexdigest()),
    )


def parse_timestamp(value: str) -> float | None:
    """Seconds since the epoch of a `YYYY-MM-DDThh:mm:ssZ` value, None if malformed."""
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None
    return moment.timestamp()


class NonceCache:
    """Nonces seen within the last `ttl` seconds; thread-safe."""

    def __init__(self, ttl: float = TIMESTAMP_WINDOW_SECONDS) -> None:
        self._ttl = ttl
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, nonce: str, now: float) -> bool:
        """Record `nonce`; False when it was already seen and has not expired."""
        with self._lock:
            while self._expiry:
                oldest = next(iter(self._expiry))
                if self._expiry[oldest] > now:
                    break
                del self._expiry[oldest]
            if nonce in self._expiry:
                return False
            self._expiry[nonce] = now + self._ttl
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


class Authenticator:
    """Verifies parsed requests against the identities of a CredentialStore."""

    def __init__(self, store: CredentialStore, clock: Callable[[], float]) -> None:
        self.store = store
        self._clock = clock
        self._nonces = NonceCache()

    @staticmethod
    def _expected_signature(request: SignedRequest, secret: str) -> str:
        if request.v1_params is not None:
            return signing.sign_v1(request.method, request.v1_params, secret)
        return signing.sign_v3(request.v3_canonical_request, secret)

    def verify(self, request: SignedRequest) -> Identity:
        """The identity that signed the request; ApiError unless authentic, fresh, no replay."""
        identity = self.store.lookup(request.access_key_id)
        if identity is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        now = self._clock()
        moment = parse_timestamp(request.timestamp)
        if moment is None:
            raise ApiError(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        if abs(now - moment) > TIMESTAMP_WINDOW_SECONDS:
            raise ApiError(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        if not request.payload_matches:
            raise ApiError(
                400,
                "SignatureDoesNotMatch",
                "Specified header x-acs-content-sha256 is not matched with the request body.",
            )
        expected = self._expected_signature(request, identity.access_key_secret)
        if not _same(expected, request.signature):
            raise ApiError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{request.string_to_sign}",
            )
        if not self._nonces.add(request.nonce, now):
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        _check_token(identity, request.security_token, now)
        return identity


def _check_token(identity: Identity, token: str | None, now: float) -> None:
    """Temporary credentials (and a permanent pair configured with one) need their token."""
    if identity.security_token is None:
        if token:
            raise ApiError(
                400,
                "InvalidSecurityToken.Mismatch",
                "Specified SecurityToken mismatch with the AccessKey.",
            )
        return
    if not token:
        raise ApiError(
            400, "InvalidSecurityToken.MalFormed", "Specified SecurityToken is malformed."
        )
    if not _same(token, identity.security_token):
        raise ApiError(
            400,
            "InvalidSecurityToken.Mismatch",
            "Specified SecurityToken mismatch with the AccessKey.",
        )
    if identity.expired(now):
        raise ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
