"""The credential chain: which source wins, file formats, refresh ahead of expiry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dts_exporter.base.credentials import Credentials, CredentialsError
from dts_exporter.base.errors import DtsApiError
from dts_exporter.credentials import ChainSettings, build_chain
from dts_exporter.credentials.files import cli_profile, ini_file
from dts_exporter.credentials.refreshing import RefreshingProvider
from dts_exporter.wire.transport import new_session

NO_ECS = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}


def chain(env: dict[str, str], home: Path, **settings: object) -> tuple[object, list[str]]:
    return build_chain(ChainSettings(**settings), {**NO_ECS, **env}, home, new_session(4))  # type: ignore[arg-type]


def write_cli(home: Path, profiles: list[dict[str, str]], current: str = "default") -> None:
    (home / ".aliyun").mkdir(parents=True, exist_ok=True)
    (home / ".aliyun" / "config.json").write_text(
        json.dumps({"current": current, "profiles": profiles})
    )


def test_nothing_configured(tmp_path: Path) -> None:
    provider, sources = chain({}, tmp_path)
    assert sources == []
    with pytest.raises(CredentialsError) as info:
        provider.get()  # type: ignore[attr-defined]
    assert info.value.code == "CredentialsUnavailable"
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET not set" in info.value.message


def test_environment_comes_before_files(tmp_path: Path) -> None:
    write_cli(
        tmp_path,
        [{"name": "default", "mode": "AK", "access_key_id": "cli", "access_key_secret": "s"}],
    )
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s2"}
    provider, sources = chain(env, tmp_path)
    assert sources[:2] == ["environment", "cli_profile:default"]
    assert provider.get().access_key_id == "env"  # type: ignore[attr-defined]
    assert provider.name == "environment"  # type: ignore[attr-defined]


def test_config_key_pair_wins_over_everything(tmp_path: Path) -> None:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s2"}
    provider, sources = chain(env, tmp_path, access_key_id="cfg", access_key_secret="x")
    assert sources == ["config"]
    assert provider.get().access_key_id == "cfg"  # type: ignore[attr-defined]


def test_cli_profile_selected_by_environment(tmp_path: Path) -> None:
    write_cli(
        tmp_path,
        [
            {"name": "default", "mode": "AK", "access_key_id": "a", "access_key_secret": "s"},
            {
                "name": "prod",
                "mode": "StsToken",
                "access_key_id": "b",
                "access_key_secret": "s",
                "sts_token": "t",
            },
        ],
    )
    source, _ = cli_profile({"ALIBABA_CLOUD_PROFILE": "prod"}, tmp_path)
    assert source is not None and source.kind == "sts_token" and source.security_token == "t"
    source, _ = cli_profile({}, tmp_path)
    assert source is not None and source.access_key_id == "a"
    assert cli_profile({"ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true"}, tmp_path)[0] is None


def test_cli_profile_modes(tmp_path: Path) -> None:
    write_cli(
        tmp_path,
        [
            {"name": "base", "mode": "AK", "access_key_id": "a", "access_key_secret": "s"},
            {
                "name": "role",
                "mode": "RamRoleArn",
                "access_key_id": "a",
                "access_key_secret": "s",
                "ram_role_arn": "acs:ram::1:role/r",
                "ram_session_name": "sess",
            },
            {
                "name": "chained",
                "mode": "ChainableRamRoleArn",
                "source_profile": "base",
                "ram_role_arn": "acs:ram::2:role/x",
            },
            {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "myrole"},
            {
                "name": "oidc",
                "mode": "OIDC",
                "ram_role_arn": "acs:ram::1:role/r",
                "oidc_provider_arn": "acs:ram::1:oidc-provider/p",
                "oidc_token_file": "/t",
            },
            {"name": "sso", "mode": "CloudSSO"},
        ],
    )
    kinds = {}
    for name in ("role", "chained", "ecs", "oidc"):
        source, _ = cli_profile({"ALIBABA_CLOUD_PROFILE": name}, tmp_path)
        assert source is not None
        kinds[name] = source.kind
    assert kinds == {
        "role": "ram_role_arn",
        "chained": "ram_role_arn",
        "ecs": "ecs_ram_role",
        "oidc": "oidc_role_arn",
    }
    chained, _ = cli_profile({"ALIBABA_CLOUD_PROFILE": "chained"}, tmp_path)
    assert chained is not None and chained.base is not None and chained.base.access_key_id == "a"
    with pytest.raises(CredentialsError) as info:
        cli_profile({"ALIBABA_CLOUD_PROFILE": "sso"}, tmp_path)
    assert "mode 'CloudSSO'" in info.value.message


def test_broken_cli_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text("{not json")
    with pytest.raises(CredentialsError) as info:
        chain({}, tmp_path)
    assert info.value.code == "InvalidCredentialsSource"
    assert "config.json: unreadable" in info.value.message


def test_ini_file_types(tmp_path: Path) -> None:
    ini = tmp_path / "creds.ini"
    ini.write_text(
        "[default]\ntype = access_key\naccess_key_id = ini-id\naccess_key_secret = ini-secret\n"
        "[role]\ntype = ram_role_arn\naccess_key_id = a\naccess_key_secret = s\n"
        "role_arn = acs:ram::1:role/r\nrole_session_name = x\n"
        "[box]\ntype = ecs_ram_role\nrole_name = r\n"
    )
    env = {"ALIBABA_CLOUD_CREDENTIALS_FILE": str(ini)}
    source, _ = ini_file(env, tmp_path)
    assert source is not None and (source.kind, source.access_key_id) == ("access_key", "ini-id")
    source, _ = ini_file({**env, "ALIBABA_CLOUD_PROFILE": "role"}, tmp_path)
    assert (
        source is not None
        and source.kind == "ram_role_arn"
        and source.role_arn == "acs:ram::1:role/r"
    )
    source, reason = ini_file({**env, "ALIBABA_CLOUD_PROFILE": "nope"}, tmp_path)
    assert source is None and "section [nope]" in reason
    provider, _ = chain(env, tmp_path)
    assert provider.get().access_key_id == "ini-id"  # type: ignore[attr-defined]
    assert provider.name == "credentials_ini:default"  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_ahead_of_expiry_and_failure_handling() -> None:
    clock = Clock()
    calls: list[str] = []
    outcomes: list[object] = []
    seen: list[tuple[str, str]] = []

    def fetch() -> Credentials:
        outcome = outcomes.pop(0)
        if isinstance(outcome, DtsApiError):
            raise outcome
        calls.append("fetch")
        return Credentials(f"STS.{len(calls)}", "s", "t", expiration=clock.now + 400)

    provider = RefreshingProvider(
        "p", fetch, clock=clock, observer=lambda n, c: seen.append((n, c))
    )
    outcomes.append("ok")
    assert provider.get().access_key_id == "STS.1"
    clock.now += 250  # 150 s left: more than a quarter of the 400 s lifetime -> cached
    assert provider.get().access_key_id == "STS.1"
    clock.now += 60  # 90 s left: refresh
    outcomes.append("ok")
    assert provider.get().access_key_id == "STS.2"
    clock.now += 350  # 50 s left; the refresh fails but the old credentials still work
    outcomes.append(DtsApiError("AuthenticationFail.OIDCToken.Invalid", "bad token"))
    assert provider.get().access_key_id == "STS.2"
    clock.now += 60  # expired; refresh fails again: no credentials
    outcomes.append(DtsApiError("AuthenticationFail.OIDCToken.Invalid", "bad token"))
    with pytest.raises(CredentialsError) as info:
        provider.get()
    assert info.value.code == "AuthenticationFail.OIDCToken.Invalid"
    outcomes.append("ok")  # the next scrape retries and recovers
    assert provider.get().access_key_id == "STS.3"
    assert [c for _, c in seen] == [
        "Success",
        "Success",
        "AuthenticationFail.OIDCToken.Invalid",
        "AuthenticationFail.OIDCToken.Invalid",
        "Success",
    ]


def test_reprs_hold_no_secrets(tmp_path: Path) -> None:
    creds = Credentials("id", "very-secret", "very-token")
    assert "very-secret" not in repr(creds) and "very-token" not in repr(creds)
    provider, _ = chain(
        {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "very-secret"},
        tmp_path,
    )
    assert "very-secret" not in repr(provider)
    assert "very-secret" not in repr(
        ChainSettings(access_key_id="id", access_key_secret="very-secret")
    )
