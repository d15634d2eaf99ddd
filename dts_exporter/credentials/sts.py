"""STS: AssumeRoleWithOIDC (RRSA on ACK) and AssumeRole (RAM roles, cross-account)."""

from __future__ import annotations

import calendar
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from dts_exporter.base import errors
from dts_exporter.base.credentials import (
    CREDENTIALS_UNAVAILABLE,
    Credentials,
    CredentialsProvider,
)
from dts_exporter.base.errors import DtsApiError
from dts_exporter.wire import rpc, transport

STS_VERSION = "2015-04-01"
DEFAULT_STS_ENDPOINT = "https://sts.aliyuncs.com"
DEFAULT_DURATION_SECONDS = 3600
STS_TIMEOUT_SECONDS = 10.0


def sts_endpoint(env: Mapping[str, str], override: str | None = None) -> str:
    """The config's `sts_endpoint`, else the regional (or VPC) endpoint from the
    environment, else the central one."""
    if override:
        return override.rstrip("/")
    region = env.get("ALIBABA_CLOUD_STS_REGION", "").strip()
    if not region:
        return DEFAULT_STS_ENDPOINT
    vpc = env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "").strip().lower() == "true"
    return f"https://sts{'-vpc' if vpc else ''}.{region}.aliyuncs.com"


def default_session_name() -> str:
    return f"dts-exporter-{uuid.uuid4().hex[:12]}"


def parse_expiration(text: object, action: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        raise DtsApiError(
            errors.INVALID_RESPONSE, f"unparseable Expiration {str(text)[:40]!r}", action=action
        ) from None


def credentials_from(body: Mapping[str, Any], action: str) -> Credentials:
    """The `Credentials` object of an STS answer (or the flat ECS/URI answer)."""
    creds = body.get("Credentials", body)
    if not isinstance(creds, Mapping):
        raise DtsApiError(errors.INVALID_RESPONSE, "Credentials is not an object", action=action)
    missing = [
        key
        for key in ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")
        if not creds.get(key)
    ]
    if missing:
        raise DtsApiError(
            errors.INVALID_RESPONSE, f"answer lacks {', '.join(missing)}", action=action
        )
    return Credentials(
        access_key_id=str(creds["AccessKeyId"]),
        access_key_secret=str(creds["AccessKeySecret"]),
        security_token=str(creds["SecurityToken"]),
        expiration=parse_expiration(creds["Expiration"], action),
    )


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DtsApiError(
            CREDENTIALS_UNAVAILABLE,
            f"cannot read OIDC token file {path}: {exc.strerror or exc}",
            action="AssumeRoleWithOIDC",
        ) from None
    if not token:
        raise DtsApiError(
            CREDENTIALS_UNAVAILABLE, f"OIDC token file {path} is empty", action="AssumeRoleWithOIDC"
        )
    return token


def assume_role_with_oidc(
    session: requests.Session,
    endpoint: str,
    *,
    role_arn: str,
    oidc_provider_arn: str,
    token_file: str,
    session_name: str,
    duration_seconds: int = DEFAULT_DURATION_SECONDS,
) -> Credentials:
    """An unsigned call: the OIDC token (re-read now: Kubernetes rotates it) is the proof."""
    action = "AssumeRoleWithOIDC"
    form = {
        "Action": action,
        "Version": STS_VERSION,
        "Format": "JSON",
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": role_arn,
        "OIDCProviderArn": oidc_provider_arn,
        "OIDCToken": read_token_file(token_file),
        "RoleSessionName": session_name,
        "DurationSeconds": str(duration_seconds),
    }
    answer = transport.send(
        session, "POST", f"{endpoint}/", timeout=STS_TIMEOUT_SECONDS, action=action, data=form
    )
    return credentials_from(transport.decode_response(action, answer.status, answer.body), action)


def assume_role(
    session: requests.Session,
    endpoint: str,
    base: CredentialsProvider,
    *,
    role_arn: str,
    session_name: str,
    duration_seconds: int = DEFAULT_DURATION_SECONDS,
    external_id: str | None = None,
    signature_version: rpc.SignatureVersion = "v3",
) -> Credentials:
    """AssumeRole signed with the base credentials: a RAM role, possibly in another account."""
    action = "AssumeRole"
    params = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": str(duration_seconds),
    }
    if external_id:
        params["ExternalId"] = external_id
    request = rpc.sign(endpoint, action, STS_VERSION, params, base.get(), signature_version)
    answer = transport.send(
        session,
        request.method,
        request.url,
        timeout=STS_TIMEOUT_SECONDS,
        action=action,
        headers=request.headers,
    )
    return credentials_from(transport.decode_response(action, answer.status, answer.body), action)
