"""One paging loop for every paged action: ask for pages until the lists run short.

A page is "short" when each list it carries has fewer entries than the page size (or it
carries none), or when the total the answer announces has been reached. Any failing page
fails the whole fetch: a half answer is never returned as whole. So does a page with more
entries than asked for, or one that repeats the previous page (a service ignoring PageNum
would otherwise be paged to `max_pages`, each page counted again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.fields import Fields, list_field

# Asks for one page by number (1-based) and returns its decoded body.
PageCall = Callable[[int], Mapping[str, Any]]


def fetch_pages(
    call: PageCall,
    lists: Sequence[str],
    page_size: int,
    *,
    max_pages: int,
    action: str,
    total_field: str | None = None,
) -> dict[str, Any]:
    """Every page's `lists` concatenated, with the last page's RequestId and `PageCount`."""
    merged: dict[str, Any] = {}
    seen = 0
    previous: str | None = None
    for page in range(1, max_pages + 1):
        body = call(page)
        page_lists = {key: list_field(body, key) for key in lists}
        fingerprint = _fingerprint(page_lists)
        if fingerprint is not None and fingerprint == previous:
            raise DtsApiError(
                errors.INVALID_RESPONSE,
                f"page {page} of {action} repeats page {page - 1}; refusing to page further",
                action=action,
            )
        previous = fingerprint
        short = True
        largest = 0
        for key, items in page_lists.items():
            if items is None:
                continue
            if len(items) > page_size:
                raise DtsApiError(
                    errors.INVALID_RESPONSE,
                    f"page {page} of {action} has {len(items)} entries, "
                    f"more than the PageSize of {page_size}",
                    action=action,
                )
            merged.setdefault(key, []).extend(items)
            largest = max(largest, len(items))
            short = short and len(items) < page_size
        seen += largest
        merged["RequestId"] = body.get("RequestId")
        merged["Success"] = True
        if total_field is not None:
            total = Fields(body, "", []).number(total_field)
            merged[total_field] = body.get(total_field)  # as sent: the parser judges it
            if total is not None and seen >= total:
                short = True
        if short:
            merged["PageCount"] = page
            return merged
    raise DtsApiError(
        errors.INVALID_RESPONSE,
        f"more than {max_pages} pages of {page_size}; refusing to page further",
        action=action,
    )


def _fingerprint(page_lists: Mapping[str, Sequence[Any] | None]) -> str | None:
    """A digest of a page's entries, or None for a page without any (an empty page ends
    paging anyway, and two empty pages are no repeat)."""
    if not any(page_lists.values()):
        return None
    dump = json.dumps(page_lists, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(dump.encode()).hexdigest()
