"""The default credential chain, in the order of the official SDK's default provider:

config key pair > environment > RRSA/OIDC > CLI profile > credentials.ini > ECS RAM role
> credentials URI; then, if the config names a `ram_role_arn`, that role is assumed with
whatever the chain supplied (cross-account access).

The first source that yields credentials is kept for the life of the process, so a
transient failure never makes the exporter flip to another identity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from dts_exporter.base.credentials import (
    CREDENTIALS_UNAVAILABLE,
    INVALID_CREDENTIALS_SOURCE,
    Credentials,
    CredentialsError,
    CredentialsProvider,
    StaticProvider,
)
from dts_exporter.base.errors import DtsApiError
from dts_exporter.credentials import files, instance, sts
from dts_exporter.credentials.refreshing import RefreshingProvider, RefreshObserver
from dts_exporter.wire import rpc


@dataclass(frozen=True)
class ChainSettings:
    """What the config file says about credentials; every field is optional."""

    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""
    ram_role_arn: str = ""
    role_session_name: str = ""
    external_id: str = ""
    duration_seconds: int = sts.DEFAULT_DURATION_SECONDS
    sts_endpoint: str | None = None
    ecs_metadata_endpoint: str | None = None
    signature_version: rpc.SignatureVersion = "v3"

    def __repr__(self) -> str:
        return (
            f"ChainSettings(access_key_id={self.access_key_id!r}, "
            f"ram_role_arn={self.ram_role_arn!r})"
        )


class Chain:
    """Tries candidates in order until one works; then sticks to it."""

    def __init__(self, candidates: list[CredentialsProvider], skipped: list[str]) -> None:
        self._candidates = candidates
        self._skipped = skipped
        self._chosen: CredentialsProvider | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        chosen = self._chosen
        if chosen is not None:
            return chosen.name
        return "default chain (" + ", then ".join(c.name for c in self._candidates) + ")"

    def get(self) -> Credentials:
        chosen = self._chosen
        if chosen is not None:
            return chosen.get()
        with self._lock:
            if self._chosen is not None:
                return self._chosen.get()
            failures: list[DtsApiError] = []
            for candidate in self._candidates:
                try:
                    credentials = candidate.get()
                except DtsApiError as exc:
                    failures.append(exc)
                    continue
                self._chosen = candidate
                return credentials
        reasons = [*self._skipped, *(f"{e.message or e.code}" for e in failures)]
        code = failures[0].code if failures else CREDENTIALS_UNAVAILABLE
        raise CredentialsError(code, "no credentials: " + "; ".join(reasons))


class _Builder:
    def __init__(
        self,
        settings: ChainSettings,
        env: Mapping[str, str],
        session: requests.Session,
        observer: RefreshObserver | None,
    ) -> None:
        self.settings = settings
        self.env = env
        self.session = session
        self.observer = observer
        self.sts = sts.sts_endpoint(env, settings.sts_endpoint)

    def refreshing(self, name: str, fetch: Callable[[], Credentials]) -> RefreshingProvider:
        return RefreshingProvider(name, fetch, observer=self.observer)

    def oidc(
        self, name: str, role_arn: str, provider_arn: str, token_file: str, session_name: str
    ) -> RefreshingProvider:
        session_name = session_name or sts.default_session_name()
        duration = self.settings.duration_seconds
        return self.refreshing(
            name,
            lambda: sts.assume_role_with_oidc(
                self.session,
                self.sts,
                role_arn=role_arn,
                oidc_provider_arn=provider_arn,
                token_file=token_file,
                session_name=session_name,
                duration_seconds=duration,
            ),
        )

    def assume(
        self,
        name: str,
        base: CredentialsProvider,
        role_arn: str,
        session_name: str,
        external_id: str,
        duration: int,
    ) -> RefreshingProvider:
        session_name = session_name or sts.default_session_name()
        return self.refreshing(
            name,
            lambda: sts.assume_role(
                self.session,
                self.sts,
                base,
                role_arn=role_arn,
                session_name=session_name,
                duration_seconds=duration,
                external_id=external_id or None,
                signature_version=self.settings.signature_version,
            ),
        )

    def ecs(self, name: str, role_name: str) -> RefreshingProvider:
        endpoint = (
            self.settings.ecs_metadata_endpoint
            or self.env.get("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", "").strip()
            or instance.DEFAULT_METADATA_ENDPOINT
        )
        imdsv1_disabled = self.env.get("ALIBABA_CLOUD_IMDSV1_DISABLED", "").lower() == "true"
        return self.refreshing(
            name,
            lambda: instance.ecs_role_credentials(
                self.session, endpoint, role_name or None, imdsv1_disabled=imdsv1_disabled
            ),
        )

    def from_source(self, source: files.Source) -> CredentialsProvider:
        if source.kind == "access_key":
            _require(source, source.access_key_id, source.access_key_secret)
            return StaticProvider(
                Credentials(source.access_key_id, source.access_key_secret), source.origin
            )
        if source.kind == "sts_token":
            _require(source, source.access_key_id, source.access_key_secret, source.security_token)
            return StaticProvider(
                Credentials(source.access_key_id, source.access_key_secret, source.security_token),
                source.origin,
            )
        if source.kind == "ram_role_arn":
            assert source.base is not None
            _require(source, source.role_arn)
            return self.assume(
                source.origin,
                self.from_source(source.base),
                source.role_arn,
                source.role_session_name,
                source.external_id,
                source.duration_seconds,
            )
        if source.kind == "oidc_role_arn":
            _require(source, source.role_arn, source.oidc_provider_arn, source.oidc_token_file)
            return self.oidc(
                source.origin,
                source.role_arn,
                source.oidc_provider_arn,
                source.oidc_token_file,
                source.role_session_name,
            )
        return self.ecs(source.origin, source.role_name)


def _require(source: files.Source, *values: str) -> None:
    if not all(values):
        raise CredentialsError(
            INVALID_CREDENTIALS_SOURCE, f"{source.origin}: incomplete {source.kind} settings"
        )


def build_chain(
    settings: ChainSettings,
    env: Mapping[str, str],
    home: Path,
    session: requests.Session,
    observer: RefreshObserver | None = None,
) -> tuple[CredentialsProvider, list[str]]:
    """The provider to use, and the names of the sources it will try, in order.

    Raises CredentialsError (InvalidCredentialsSource) for a broken profile or INI file.
    """
    b = _Builder(settings, env, session, observer)
    candidates: list[CredentialsProvider] = []
    skipped: list[str] = []

    def get(name: str) -> str:
        return env.get(name, "").strip()

    if settings.access_key_id or settings.access_key_secret:
        if not (settings.access_key_id and settings.access_key_secret):
            raise CredentialsError(
                INVALID_CREDENTIALS_SOURCE,
                "credentials: access_key_id and access_key_secret go together",
            )
        token = settings.security_token or None
        candidates.append(
            StaticProvider(
                Credentials(settings.access_key_id, settings.access_key_secret, token), "config"
            )
        )
    else:
        if get("ALIBABA_CLOUD_ACCESS_KEY_ID") and get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
            creds = Credentials(
                get("ALIBABA_CLOUD_ACCESS_KEY_ID"),
                get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
                get("ALIBABA_CLOUD_SECURITY_TOKEN") or None,
            )
            candidates.append(StaticProvider(creds, "environment"))
        else:
            skipped.append("ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET not set")
        oidc = [
            get(n)
            for n in (
                "ALIBABA_CLOUD_ROLE_ARN",
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            )
        ]
        if all(oidc):
            candidates.append(
                b.oidc(
                    "rrsa_oidc", oidc[0], oidc[1], oidc[2], get("ALIBABA_CLOUD_ROLE_SESSION_NAME")
                )
            )
        else:
            skipped.append("RRSA/OIDC environment not set")
        for reader in (files.cli_profile, files.ini_file):
            source, reason = reader(env, home)
            if source is None:
                skipped.append(reason)
            else:
                candidates.append(b.from_source(source))
        if get("ALIBABA_CLOUD_ECS_METADATA_DISABLED").lower() == "true":
            skipped.append("ECS metadata disabled")
        else:
            candidates.append(b.ecs("ecs_ram_role", get("ALIBABA_CLOUD_ECS_METADATA")))
        if get("ALIBABA_CLOUD_CREDENTIALS_URI"):
            uri = get("ALIBABA_CLOUD_CREDENTIALS_URI")
            candidates.append(
                b.refreshing("credentials_uri", lambda: instance.uri_credentials(session, uri))
            )
        else:
            skipped.append("ALIBABA_CLOUD_CREDENTIALS_URI not set")

    chain = Chain(candidates, skipped)
    names = [c.name for c in candidates]
    if not settings.ram_role_arn:
        return chain, names
    role = b.assume(
        "ram_role_arn",
        chain,
        settings.ram_role_arn,
        settings.role_session_name,
        settings.external_id,
        settings.duration_seconds,
    )
    return role, names
