"""What every per-id action module provides, so the collector and exposition can walk them.

An action module holds its request parameters and paging, the parsing of its answer into a
typed record, its metric declarations, and the function that turns a record into metric
families; at its end it describes itself with one `Action`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from dts_exporter.base.families import Builder, Metric, Options
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import Paging

Scope = Literal["job", "task"]


class Parsed(Protocol):
    """A parsed answer: the fields that were present but unusable are in `problems`."""

    @property
    def problems(self) -> tuple[str, ...]: ...


R = TypeVar("R", bound=Parsed)
R_co = TypeVar("R_co", covariant=True)


class Fetch(Protocol[R_co]):
    """Calls the API (all pages) and parses the answer; raises DtsApiError. `paging` says
    how many pages to ask for at once (a paged action's; others ignore it)."""

    def __call__(
        self, client: DtsClient, target: Target, deadline: float | None, paging: Paging = ..., /
    ) -> R_co: ...


def _no_notes(record: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return ()


def _one_page(record: object) -> int:
    return 1


@dataclass(frozen=True)
class Action(Generic[R]):
    name: str  # the API action
    scope: Scope  # called once per job, or once per modify task
    metrics: tuple[Metric, ...]  # what `families` may add
    # Calls the API (all pages) and parses the answer; raises DtsApiError.
    fetch: Fetch[R]
    # Nothing left to move: re-checked only every settled_refresh_seconds.
    settled: Callable[[R], bool]
    # Adds the record's series for the target.
    families: Callable[[Builder, Target, R, Options], None]
    # One line for `dts-exporter check`.
    summary: Callable[[R], str]
    # Further notes worth one log line when they change: (what, notes).
    notes: Callable[[R], tuple[tuple[str, tuple[str, ...]], ...]] = field(default=_no_notes)
    # The pages the record took: the id's next fetch asks for that many at once.
    pages: Callable[[R], int] = field(default=_one_page)
