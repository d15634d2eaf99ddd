"""A stand-in for Alibaba Cloud STS (`sts.aliyuncs.com`, API version 2015-04-01).

Served on the simulator's API path `/`, told apart from DTS by `Version=2015-04-01`:

- `AssumeRoleWithOIDC` (RRSA): unsigned; `RoleArn`, `OIDCProviderArn`, `OIDCToken`,
  `RoleSessionName`, optional `DurationSeconds` (900-43200) and `Policy`. Valid when the
  role and provider are the configured ones and the token equals the current (stripped)
  content of the configured token file, re-read on every request.
- `AssumeRole`: signed (v1 or v3) by any identity the simulator accepts; `RoleArn` (the
  configured role or one of the extra roles), `RoleSessionName`, optional
  `DurationSeconds`, `Policy`, `ExternalId`.

Both issue temporary credentials into the CredentialStore, valid for `DurationSeconds`
(default 3600) unless the simulator overrides every lifetime (`sts_duration_seconds`).
Errors: 400 `MissingParameter`, `InvalidParameter.DurationSeconds`,
`InvalidParameter.RoleSessionName`, `AuthenticationFail.OIDCToken.Invalid`; 404
`EntityNotExist.Role`, `EntityNotExist.OIDCProvider` (plus the signature errors of DTS for
AssumeRole). Error bodies are DTS's, with `product=Sts` in `Recommend`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.identities import CredentialStore, Identity
from dts_exporter.simulator.render import ApiError

STS_VERSION = "2015-04-01"
OIDC_ACTION = "AssumeRoleWithOIDC"
ASSUME_ROLE_ACTION = "AssumeRole"
STS_ACTIONS = (OIDC_ACTION, ASSUME_ROLE_ACTION)
DEFAULT_DURATION_SECONDS = 3600
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200
OIDC_SUBJECT = "system:serviceaccount:monitoring:dts-exporter"
OIDC_ISSUER = (
    "https://oidc-ack-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/"
    "c4d8e2f61a9b74c03b5e8d1f2a6c9e7b0"
)
OIDC_CLIENT_IDS = "sts.aliyuncs.com"
_SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")


@dataclass(frozen=True)
class StsSettings:
    """What the STS stand-in accepts; None disables the matching flow."""

    role_arn: str | None = None
    extra_role_arns: tuple[str, ...] = ()
    oidc_provider_arn: str | None = None
    oidc_token_file: str | None = None
    duration_override: float | None = None


def _missing(name: str) -> ApiError:
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied.",
    )


def _required(params: Mapping[str, str], names: Sequence[str]) -> None:
    for name in names:
        if not params.get(name, "").strip():
            raise _missing(name)


def _duration(params: Mapping[str, str]) -> int:
    raw = params.get("DurationSeconds", "").strip()
    if not raw:
        return DEFAULT_DURATION_SECONDS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not MIN_DURATION_SECONDS <= value <= MAX_DURATION_SECONDS:
        raise ApiError(
            400,
            "InvalidParameter.DurationSeconds",
            "The Min/Max value of DurationSeconds is 15min/12hr.",
        )
    return value


def _session_name(params: Mapping[str, str]) -> str:
    name = params["RoleSessionName"]
    if not _SESSION_NAME.match(name):
        raise ApiError(
            400,
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        )
    return name


def _role_not_found(role_arn: str) -> ApiError:
    return ApiError(404, "EntityNotExist.Role", f"The role not exists: {role_arn}.")


def _read_token(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def assumed_role_user(role_arn: str, session: str) -> dict[str, str]:
    """`AssumedRoleUser`: a stable numeric role id and the assumed-role ARN of the session."""
    role_id = str(int(hashlib.sha256(role_arn.encode()).hexdigest()[:15], 16))[:17]
    arn = role_arn.replace(":role/", ":assumed-role/", 1)
    return {"AssumedRoleId": f"{role_id}:{session}", "Arn": f"{arn}/{session}"}


def credentials_body(identity: Identity) -> dict[str, str]:
    return {
        "AccessKeyId": identity.access_key_id,
        "AccessKeySecret": identity.access_key_secret,
        "SecurityToken": identity.security_token or "",
        "Expiration": identity.expiration,
    }


class StsService:
    """Validates STS calls and issues credentials; the server renders, counts and faults."""

    def __init__(self, settings: StsSettings, store: CredentialStore) -> None:
        self.settings = settings
        self._store = store

    def _lifetime(self, requested: int) -> float:
        override = self.settings.duration_override
        return float(requested) if override is None else override

    def assume_role_with_oidc(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The answer body (without RequestId); raises ApiError when refused."""
        _required(params, ("RoleArn", "OIDCProviderArn", "OIDCToken", "RoleSessionName"))
        duration = _duration(params)
        session = _session_name(params)
        role_arn = params["RoleArn"]
        if role_arn != self.settings.role_arn:
            raise _role_not_found(role_arn)
        provider = params["OIDCProviderArn"]
        if provider != self.settings.oidc_provider_arn:
            raise ApiError(
                404, "EntityNotExist.OIDCProvider", f"The OIDCProvider not exists: {provider}."
            )
        expected = _read_token(self.settings.oidc_token_file)
        if not expected or params["OIDCToken"].strip() != expected:
            raise ApiError(
                400,
                "AuthenticationFail.OIDCToken.Invalid",
                "The OIDC token is invalid: it does not match the token of the provider.",
            )
        identity = self._store.issue(self._lifetime(duration), OIDC_ACTION)
        return {
            "OIDCTokenInfo": {
                "Subject": OIDC_SUBJECT,
                "Issuer": OIDC_ISSUER,
                "ClientIds": OIDC_CLIENT_IDS,
            },
            "AssumedRoleUser": assumed_role_user(role_arn, session),
            "Credentials": credentials_body(identity),
        }

    def assume_role(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The answer body (without RequestId) of an already authenticated AssumeRole."""
        _required(params, ("RoleArn", "RoleSessionName"))
        duration = _duration(params)
        session = _session_name(params)
        role_arn = params["RoleArn"]
        known = {self.settings.role_arn, *self.settings.extra_role_arns} - {None}
        if role_arn not in known:
            raise _role_not_found(role_arn)
        identity = self._store.issue(self._lifetime(duration), ASSUME_ROLE_ACTION)
        return {
            "AssumedRoleUser": assumed_role_user(role_arn, session),
            "Credentials": credentials_body(identity),
        }
