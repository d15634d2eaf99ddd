"""Credentials from the host: the ECS RAM role (metadata service) or a credentials URI."""

from __future__ import annotations

import requests

from dts_exporter.base import errors
from dts_exporter.base.credentials import CREDENTIALS_UNAVAILABLE, Credentials
from dts_exporter.base.errors import DtsApiError
from dts_exporter.credentials.sts import credentials_from
from dts_exporter.wire import transport

DEFAULT_METADATA_ENDPOINT = "http://100.100.100.200"
METADATA_TIMEOUT_SECONDS = 1.0
TOKEN_TTL_SECONDS = "21600"
_ROLE_PATH = "/latest/meta-data/ram/security-credentials/"


def ecs_role_credentials(
    session: requests.Session,
    endpoint: str,
    role_name: str | None,
    *,
    imdsv1_disabled: bool = False,
) -> Credentials:
    """IMDSv2 first: a session token, then the role's credentials with it."""
    action = "EcsRamRole"
    base = endpoint.rstrip("/")
    headers: dict[str, str] = {}
    try:
        answer = transport.send(
            session,
            "PUT",
            f"{base}/latest/api/token",
            timeout=METADATA_TIMEOUT_SECONDS,
            action=action,
            headers={"X-aliyun-ecs-metadata-token-ttl-seconds": TOKEN_TTL_SECONDS},
        )
        if answer.status != 200:
            raise DtsApiError(f"HTTP{answer.status}", "metadata token refused", action=action)
        headers["X-aliyun-ecs-metadata-token"] = answer.body.decode("utf-8", "replace").strip()
    except DtsApiError:
        if imdsv1_disabled:
            raise
    role = role_name or _first_role(session, base, headers)
    answer = transport.send(
        session,
        "GET",
        f"{base}{_ROLE_PATH}{role}",
        timeout=METADATA_TIMEOUT_SECONDS,
        action=action,
        headers=headers,
    )
    body = transport.decode_response(action, answer.status, answer.body)
    if body.get("Code") not in (None, "Success"):
        raise DtsApiError(
            transport.bounded_code(body.get("Code")), "metadata refused", action=action
        )
    return credentials_from(body, action)


def _first_role(session: requests.Session, base: str, headers: dict[str, str]) -> str:
    answer = transport.send(
        session,
        "GET",
        f"{base}{_ROLE_PATH}",
        timeout=METADATA_TIMEOUT_SECONDS,
        action="EcsRamRole",
        headers=headers,
    )
    roles = answer.body.decode("utf-8", "replace").split()
    if answer.status != 200 or not roles:
        raise DtsApiError(
            CREDENTIALS_UNAVAILABLE,
            f"no RAM role attached to this instance (HTTP {answer.status})",
            action="EcsRamRole",
        )
    return roles[0]


def uri_credentials(session: requests.Session, uri: str) -> Credentials:
    action = "CredentialsURI"
    answer = transport.send(session, "GET", uri, timeout=5.0, action=action)
    body = transport.decode_response(action, answer.status, answer.body)
    if body.get("Code") != "Success":
        raise DtsApiError(
            transport.bounded_code(body.get("Code"))
            if body.get("Code")
            else errors.INVALID_RESPONSE,
            "credentials URI did not answer Code: Success",
            action=action,
        )
    return credentials_from(body, action)
