"""The identities the simulator accepts: one permanent AccessKey pair plus temporary ones.

Temporary credentials are what the STS, ECS metadata and credentials-URI stand-ins hand
out: an AccessKeyId `STS.` + 28 alphanumerics, a random secret, a long base64-ish
SecurityToken and an expiry on the simulator's clock. Expiry instants are whole seconds,
as the `Expiration` field that announces them. Nothing here logs: secrets live here.
"""

from __future__ import annotations

import base64
import math
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

STS_PREFIX = "STS."
_ALPHANUMERIC = string.ascii_letters + string.digits
# Expired identities are kept this long so a late caller hears "expired", not "not found".
EXPIRED_RETENTION_SECONDS = 24 * 3600


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def new_security_token() -> str:
    """A token shaped like STS's: `CAIS` then several hundred base64 characters."""
    return "CAIS" + base64.b64encode(secrets.token_bytes(480)).decode("ascii")


def utc_text(moment: float) -> str:
    """`YYYY-MM-DDThh:mm:ssZ`, the format of `Expiration` and `LastUpdated`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


@dataclass(frozen=True)
class Identity:
    """One credential: `expires_at` is None for the permanent pair (never expires)."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None
    expires_at: float | None = None
    issued_at: float = 0.0
    issuer: str = "permanent"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def expiration(self) -> str:
        """The expiry as the services write it; empty for the permanent pair."""
        return "" if self.expires_at is None else utc_text(self.expires_at)


class CredentialStore:
    """Thread-safe map of AccessKeyId to Identity."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        security_token: str | None,
        clock: Callable[[], float],
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.permanent = Identity(access_key_id, access_key_secret, security_token)
        self._identities: dict[str, Identity] = {access_key_id: self.permanent}

    def now(self) -> float:
        return self._clock()

    def lookup(self, access_key_id: str) -> Identity | None:
        with self._lock:
            return self._identities.get(access_key_id)

    def issue(self, lifetime: float, issuer: str) -> Identity:
        """New temporary credentials valid for `lifetime` seconds (whole seconds)."""
        now = self._clock()
        identity = Identity(
            access_key_id=STS_PREFIX + _random_text(28),
            access_key_secret=_random_text(44),
            security_token=new_security_token(),
            expires_at=float(math.floor(now + lifetime)),
            issued_at=now,
            issuer=issuer,
        )
        with self._lock:
            self._forget_long_expired(now)
            self._identities[identity.access_key_id] = identity
        return identity

    def _forget_long_expired(self, now: float) -> None:
        horizon = now - EXPIRED_RETENTION_SECONDS
        stale = [
            key
            for key, item in self._identities.items()
            if item.expires_at is not None and item.expires_at < horizon
        ]
        for key in stale:
            del self._identities[key]


class RotatingCredential:
    """Credentials a metadata-like service hands out again until half their life is gone.

    The ECS metadata service and credential sidecars answer with the same credentials for
    a while and rotate them before they expire; the old ones stay valid until their own
    expiry. This mimics that: a fresh Identity once less than half the lifetime remains.
    """

    def __init__(self, store: CredentialStore, issuer: str) -> None:
        self._store = store
        self._issuer = issuer
        self._lock = threading.Lock()
        self._current: Identity | None = None

    def get(self, lifetime: float) -> Identity:
        now = self._store.now()
        with self._lock:
            current = self._current
            if (
                current is None
                or current.expires_at is None
                or current.expires_at - now < lifetime / 2
            ):
                current = self._store.issue(lifetime, self._issuer)
                self._current = current
            return current
