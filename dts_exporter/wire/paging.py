"""One paging loop for every paged action: ask for pages until the lists run short.

A page is "short" when each list it carries has fewer entries than the page size (or it
carries none), or when the total the answer announces has been reached. Any failing page
fails the whole fetch: a half answer is never returned as whole. So does a page with more
entries than asked for, or one that repeats the previous page (a service ignoring PageNum
would otherwise be paged to `max_pages`, each page counted again).

Pipelined: the answer carries no page count, but an id rarely changes its number of pages
between two collections. With `Paging(expected=N, workers=...)` (N: the pages the id had
last time) pages 2..N are handed to the idle workers of the pool while this thread asks
for page 1, so N pages cost one round trip of wall time instead of N. The pages are then
judged in order exactly as one after another: paging goes on past N while the last page
is full, and pages past a short one (the id shrank) are discarded, or never asked for when
not started yet.

Only idle workers get pages (topped up before each page this thread asks for): while the
pool has queued work, pages ahead would only take turns from it and leave this thread
waiting, so a busy collection pages as before and only its tail is pipelined. A page no
worker has started is asked for by this thread itself (taken back from the queue), so a
fetch never waits for a queued page: `workers` may be the very pool this fetch runs on, and
the calls in flight stay within its workers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.fields import Fields, list_field

# Asks for one page by number (1-based) and returns its decoded body.
PageCall = Callable[[int], Mapping[str, Any]]

P = ParamSpec("P")
T = TypeVar("T")


class Workers(ThreadPoolExecutor):
    """A thread pool that knows how many of its workers have nothing to do."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._size = max_workers
        self._changed = threading.Condition()  # a task has finished
        self._outstanding = 0  # submitted, not done: queued or running

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._changed:
            self._outstanding += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def idle(self) -> int:
        """Workers neither running nor about to run anything (no work is queued)."""
        with self._changed:
            return max(0, self._size - self._outstanding)

    def wait(self, future: Future[Any], *, or_idle: bool) -> None:
        """Until `future` is done or, with `or_idle`, a worker is idle."""
        with self._changed:
            self._changed.wait_for(
                lambda: future.done() or (or_idle and self._outstanding < self._size)
            )

    def _finished(self, _future: object) -> None:
        with self._changed:
            self._outstanding -= 1
            self._changed.notify_all()


@dataclass(frozen=True)
class Paging:
    """How one fetch pages: `expected` pages (what the id had last time), those past the
    first handed to idle `workers`; without workers, one page after another."""

    expected: int = 1
    workers: Workers | None = None


ONE_AT_A_TIME = Paging()


def fetch_pages(
    call: PageCall,
    lists: Sequence[str],
    page_size: int,
    *,
    max_pages: int,
    action: str,
    total_field: str | None = None,
    paging: Paging = ONE_AT_A_TIME,
) -> dict[str, Any]:
    """Every page's `lists` concatenated, with the last page's RequestId and `PageCount`."""
    ahead = _Ahead(call, paging, max_pages)
    try:
        return _merge(ahead, lists, page_size, max_pages, action, total_field)
    finally:
        ahead.discard()  # pages past the end, or after a failure: not asked for if not begun


def _merge(
    ahead: _Ahead,
    lists: Sequence[str],
    page_size: int,
    max_pages: int,
    action: str,
    total_field: str | None,
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    seen = 0
    previous: str | None = None
    for page in range(1, max_pages + 1):
        body = ahead.page(page)
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


class _Ahead:
    """The pages asked for ahead of time, handed out in order."""

    def __init__(self, call: PageCall, paging: Paging, max_pages: int) -> None:
        self._call = call
        self._workers = paging.workers
        self._last = min(paging.expected, max_pages)  # the last page to ask for ahead
        self._next = 2  # the first page neither handed out nor asked for here
        self._futures: dict[int, Future[Mapping[str, Any]]] = {}

    def page(self, number: int) -> Mapping[str, Any]:
        """Page `number`: its answer if handed out ahead, else asked for now, here. A page
        still queued is taken back and asked for here rather than waited for."""
        self._next = max(self._next, number + 1)
        self._top_up()
        future = self._futures.pop(number, None)
        if future is None or future.cancel():
            return self._call(number)
        while self._workers is not None and not future.done():
            # A worker freed while this page runs elsewhere gets the next page meanwhile.
            self._workers.wait(future, or_idle=self._next <= self._last)
            self._top_up()
        return future.result()

    def _top_up(self) -> None:
        """Hand the next expected pages to the workers that are idle now."""
        workers = self._workers
        while workers is not None and self._next <= self._last and workers.idle() > 0:
            try:
                self._futures[self._next] = workers.submit(self._call, self._next)
            except RuntimeError:  # the pool is shutting down: the rest one after another
                self._last = 0
                return
            self._next += 1

    def discard(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()


def _fingerprint(page_lists: Mapping[str, Sequence[Any] | None]) -> str | None:
    """A digest of a page's entries, or None for a page without any (an empty page ends
    paging anyway, and two empty pages are no repeat)."""
    if not any(page_lists.values()):
        return None
    dump = json.dumps(page_lists, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(dump.encode()).hexdigest()
