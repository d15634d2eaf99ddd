"""HTTP basic auth against bcrypt hashes, as exporter-toolkit checks `basic_auth_users`.

bcrypt at cost 10 takes ~50 ms, so successful (user, password) pairs are remembered in
memory, keyed by a keyed hash of the password (never the password itself), and later
scrapes with the same credentials cost a hash, not a bcrypt run. At most
`BCRYPT_CONCURRENCY` bcrypt checks run at once in the process; a check that finds none free
within `BCRYPT_WAIT_SECONDS` is refused, so guessed passwords cannot take the CPU from
scrapes. An unknown user costs a bcrypt run too, so timing does not tell which user names
exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import bcrypt

from dts_exporter.base.logfmt import quote

log = logging.getLogger("dts_exporter.web")

_CACHE_SIZE = 256
# bcrypt checks at once (one core at most), and how long a check waits for its turn.
BCRYPT_CONCURRENCY = 1
BCRYPT_WAIT_SECONDS = 1.0
_BCRYPT_SLOTS = threading.BoundedSemaphore(BCRYPT_CONCURRENCY)  # shared across reloads


class BasicAuth:
    """The configured (user, bcrypt hash) pairs; no users: everyone is let in."""

    def __init__(self, users: Sequence[tuple[str, bytes]]) -> None:
        self._users = tuple(users)
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        self._key = os.urandom(32)

    def check(self, authorization_header: str | None) -> bool:
        """True when no users are configured, or the header is `Basic` with a user and
        password that match one of the bcrypt hashes."""
        if not self._users:
            return True
        credentials = _parse_basic(authorization_header)
        if credentials is None:
            return False
        user, password = credentials
        # Constant-time lookup: every name is compared, whether or not one matched.
        found: bytes | None = None
        user_bytes = user.encode("utf-8")
        for name, hashed in self._users:
            if hmac.compare_digest(name.encode("utf-8"), user_bytes) and found is None:
                found = hashed
        password_bytes = password.encode("utf-8")
        key = hmac.new(self._key, user_bytes + b"\0" + password_bytes, hashlib.sha256).digest()
        if found is not None:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return True
        if not _BCRYPT_SLOTS.acquire(timeout=BCRYPT_WAIT_SECONDS):
            log.debug("password check refused: bcrypt busy user=%s", quote(user))
            return False
        try:
            ok = _checkpw(password_bytes, found if found is not None else self._users[0][1])
        finally:
            _BCRYPT_SLOTS.release()
        if not (ok and found is not None):
            return False
        with self._lock:
            self._cache[key] = None
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return True


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:  # longer than 72 bytes (bcrypt would truncate), or a bad hash
        return False


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password
