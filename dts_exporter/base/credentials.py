"""Credentials, the provider interface, and the error a provider raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from dts_exporter.base.errors import DtsApiError

CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable"
INVALID_CREDENTIALS_SOURCE = "InvalidCredentialsSource"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expiration: float | None = None  # Unix seconds; None for long-lived keys


class CredentialsProvider(Protocol):
    """Hands out current credentials; `name` says which source supplied them."""

    @property
    def name(self) -> str: ...

    def get(self) -> Credentials: ...


class CredentialsError(DtsApiError):
    """No usable credentials: `code` is the source's error code or one of ours."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, action="credentials")


class StaticProvider:
    def __init__(self, credentials: Credentials, name: str = "static") -> None:
        self._credentials = credentials
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def get(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        key = self._credentials.access_key_id
        return f"StaticProvider(name={self._name!r}, access_key_id={key!r})"
