"""One paging loop for every paged action: ask for pages until the lists run short.

A page is "short" when each list it carries has fewer entries than the page size (or it
carries none), or when the total the answer announces has been reached. Any failing page
fails the whole fetch: a half answer is never returned as whole.
"""

from __future__ import annotations

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
    for page in range(1, max_pages + 1):
        body = call(page)
        short = True
        largest = 0
        for key in lists:
            items = list_field(body, key)
            if items is None:
                continue
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
