"""Where the exporter's AccessKey comes from.

Only the environment is read today; the provider interface leaves room for the rest of
the official chain. Secrets are kept out of reprs so they cannot leak into logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


class CredentialsProvider(Protocol):
    """Something that hands out current credentials; `name` says which source it is."""

    name: str

    def get(self) -> Credentials: ...


class StaticProvider:
    def __init__(self, credentials: Credentials, name: str = "static") -> None:
        self._credentials = credentials
        self.name = name

    def get(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return (
            f"StaticProvider(name={self.name!r}, access_key_id={self._credentials.access_key_id!r})"
        )


def from_environment(env: Mapping[str, str]) -> StaticProvider | None:
    """Credentials from ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET (+ optional SECURITY_TOKEN)."""
    key_id = env.get(ENV_ACCESS_KEY_ID, "").strip()
    secret = env.get(ENV_ACCESS_KEY_SECRET, "").strip()
    if not key_id or not secret:
        return None
    token = env.get(ENV_SECURITY_TOKEN, "").strip() or None
    return StaticProvider(Credentials(key_id, secret, token), name="environment")
