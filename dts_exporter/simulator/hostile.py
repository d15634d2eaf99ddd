"""Answers a hostile or broken endpoint gives: the bodies behind the simulator's hostile
fault kinds (`redirect`, `drip`, `oversize_page`, `repeat_page`, `deep_json`,
`gzip_bomb`, `huge_body`).

They exist so that tests and the soak can attack the exporter the way a proxy, a
misrouted DNS name or a service bug would, on loopback. The large bodies are built once
and kept: the simulator serves them many times.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
from typing import Any

# Where a `redirect` answer points: loopback port 9 (discard), so nothing leaves the host.
REDIRECT_LOCATION = "http://127.0.0.1:9/stolen"
# Seconds between two bytes of a `drip` answer.
DRIP_INTERVAL_SECONDS = 0.2
# How deep a `deep_json` answer nests (far past Python's recursion limit).
DEEP_JSON_LEVELS = 100_000
# What a `gzip_bomb` answer inflates to, and how large a `huge_body` answer is.
GZIP_BOMB_BYTES = 256 * 1024 * 1024
HUGE_BODY_BYTES = 100 * 1024 * 1024


def _lists(body: dict[str, Any]) -> list[str]:
    return [key for key, value in body.items() if isinstance(value, list) and value]


def oversize_page(payload: bytes, page_size: int) -> bytes:
    """The page with each non-empty list stretched past `page_size` entries."""
    body = json.loads(payload)
    for key in _lists(body):
        items = body[key]
        body[key] = [items[i % len(items)] for i in range(page_size + 1)]
    return json.dumps(body, separators=(",", ":")).encode()


_first_pages: dict[tuple[str, ...], bytes] = {}
_first_pages_lock = threading.Lock()


def repeat_page(key: tuple[str, ...], payload: bytes, page_size: int) -> bytes:
    """A full page that is the same whatever PageNum asks (a service ignoring PageNum):
    the first page seen for `key` (action and object), each non-empty list holding its
    first entry `page_size` times."""
    with _first_pages_lock:
        if key in _first_pages:
            return _first_pages[key]
    body = json.loads(payload)
    for name in _lists(body):
        body[name] = [body[name][0]] * page_size
    body.pop("RequestId", None)  # the same bytes on every page
    page = json.dumps(body, separators=(",", ":")).encode()
    with _first_pages_lock:
        if len(_first_pages) >= 1000:  # a simulator answers a bounded set of objects
            _first_pages.clear()
        return _first_pages.setdefault(key, page)


@functools.cache
def deep_json() -> bytes:
    return b'{"a":' * DEEP_JSON_LEVELS + b"1" + b"}" * DEEP_JSON_LEVELS


@functools.cache
def gzip_bomb() -> bytes:
    """A small gzip body that inflates to GZIP_BOMB_BYTES of spaces."""
    chunk = b" " * (1024 * 1024)
    compressor = gzip.compress(chunk * 16, compresslevel=9)  # 16 MiB per member
    return compressor * (GZIP_BOMB_BYTES // (16 * 1024 * 1024))


@functools.cache
def huge_body() -> bytes:
    """A well-formed JSON answer of HUGE_BODY_BYTES."""
    head, tail = b'{"RequestId":"huge","Pad":"', b'"}'
    return head + b"a" * (HUGE_BODY_BYTES - len(head) - len(tail)) + tail
