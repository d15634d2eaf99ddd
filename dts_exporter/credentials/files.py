"""Credential sources described in files: the Alibaba Cloud CLI profile and credentials.ini."""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dts_exporter.base.credentials import INVALID_CREDENTIALS_SOURCE, CredentialsError


@dataclass(frozen=True)
class Source:
    """One way of obtaining credentials, as a file describes it."""

    kind: str  # access_key | sts_token | ram_role_arn | ecs_ram_role | oidc_role_arn
    origin: str  # e.g. "cli_profile:prod" or "credentials_ini:default"
    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    role_arn: str = ""
    role_session_name: str = ""
    oidc_provider_arn: str = ""
    oidc_token_file: str = ""
    role_name: str = ""
    external_id: str = ""
    duration_seconds: int = 3600
    base: Source | None = None  # the source a chained RamRoleArn profile assumes the role with


def _truthy(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() == "true"


def cli_profile(env: Mapping[str, str], home: Path) -> tuple[Source | None, str]:
    """The CLI's current profile (or ALIBABA_CLOUD_PROFILE), and why not when there is none."""
    if _truthy(env, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"):
        return None, "CLI profile disabled"
    path = home / ".aliyun" / "config.json"
    if not path.is_file():
        return None, f"no {path}"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(INVALID_CREDENTIALS_SOURCE, f"{path}: unreadable: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("profiles"), list):
        raise CredentialsError(INVALID_CREDENTIALS_SOURCE, f"{path}: no 'profiles' list")
    name = env.get("ALIBABA_CLOUD_PROFILE", "").strip() or str(config.get("current") or "")
    profiles = {p.get("name"): p for p in config["profiles"] if isinstance(p, dict)}
    if name not in profiles:
        return None, f"profile {name!r} not in {path}"
    return _cli_source(path, profiles, name, depth=0), ""


def _cli_source(path: Path, profiles: Mapping[Any, Any], name: str, depth: int) -> Source:
    profile = profiles.get(name)
    if not isinstance(profile, dict):
        raise CredentialsError(INVALID_CREDENTIALS_SOURCE, f"{path}: profile {name!r} not found")
    origin = f"cli_profile:{name}"
    mode = str(profile.get("mode") or "AK")

    def text(key: str) -> str:
        return str(profile.get(key) or "").strip()

    duration = int(profile.get("expired_seconds") or 3600)
    if mode == "AK":
        return Source("access_key", origin, text("access_key_id"), text("access_key_secret"))
    if mode == "StsToken":
        return Source(
            "sts_token", origin, text("access_key_id"), text("access_key_secret"), text("sts_token")
        )
    if mode in ("RamRoleArn", "ChainableRamRoleArn"):
        # RamRoleArn assumes the role with its own key pair; the chainable mode with
        # whatever its source_profile yields.
        if mode == "RamRoleArn":
            base = Source("access_key", origin, text("access_key_id"), text("access_key_secret"))
        elif depth > 5:
            raise CredentialsError(INVALID_CREDENTIALS_SOURCE, f"{path}: source_profile loop")
        else:
            base = _cli_source(path, profiles, text("source_profile"), depth + 1)
        return Source(
            "ram_role_arn",
            origin,
            role_arn=text("ram_role_arn"),
            role_session_name=text("ram_session_name"),
            external_id=text("external_id"),
            duration_seconds=duration,
            base=base,
        )
    if mode == "EcsRamRole":
        return Source("ecs_ram_role", origin, role_name=text("ram_role_name"))
    if mode == "OIDC":
        return Source(
            "oidc_role_arn",
            origin,
            role_arn=text("ram_role_arn"),
            oidc_provider_arn=text("oidc_provider_arn"),
            oidc_token_file=text("oidc_token_file"),
            role_session_name=text("role_session_name"),
            duration_seconds=duration,
        )
    raise CredentialsError(
        INVALID_CREDENTIALS_SOURCE,
        f"{path}: profile {name!r} has mode {mode!r}, which dts-exporter does not support "
        "(AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC)",
    )


def ini_file(env: Mapping[str, str], home: Path) -> tuple[Source | None, str]:
    """A section of credentials.ini (ALIBABA_CLOUD_CREDENTIALS_FILE or the default path)."""
    path = Path(
        env.get("ALIBABA_CLOUD_CREDENTIALS_FILE", "").strip()
        or home / ".alibabacloud" / "credentials.ini"
    )
    if not path.is_file():
        return None, f"no {path}"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        raise CredentialsError(INVALID_CREDENTIALS_SOURCE, f"{path}: unreadable: {exc}") from None
    name = env.get("ALIBABA_CLOUD_PROFILE", "").strip() or "default"
    if not parser.has_section(name):
        return None, f"section [{name}] not in {path}"
    section = parser[name]
    origin = f"credentials_ini:{name}"

    def text(key: str) -> str:
        return section.get(key, "").strip().strip('"')

    kind = text("type") or "access_key"
    if kind == "access_key":
        return Source("access_key", origin, text("access_key_id"), text("access_key_secret")), ""
    if kind == "ram_role_arn":
        base = Source("access_key", origin, text("access_key_id"), text("access_key_secret"))
        source = Source(
            "ram_role_arn",
            origin,
            role_arn=text("role_arn"),
            role_session_name=text("role_session_name"),
            base=base,
        )
        return source, ""
    if kind == "oidc_role_arn":
        source = Source(
            "oidc_role_arn",
            origin,
            role_arn=text("role_arn"),
            oidc_provider_arn=text("oidc_provider_arn"),
            oidc_token_file=text("oidc_token_file_path"),
            role_session_name=text("role_session_name"),
        )
        return source, ""
    if kind == "ecs_ram_role":
        return Source("ecs_ram_role", origin, role_name=text("role_name")), ""
    raise CredentialsError(
        INVALID_CREDENTIALS_SOURCE,
        f"{path}: [{name}] has type {kind!r} (access_key, ram_role_arn, oidc_role_arn, "
        "ecs_ram_role are supported)",
    )
