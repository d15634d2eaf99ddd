"""Rendered exposition reused per id: a scrape's CPU grows with what changed, not the fleet.

`Renderer.families` turns a snapshot into the families `build_families` makes, but one id
at a time (`exposition.units`): an id whose record is the same object as last time and whose
other inputs are equal (a settled id, a result not due, a job's unchanged info labels) keeps
its families and the sample lines already rendered for them. `encode` renders families
with prometheus-client's own encoder (text 0.0.4 or OpenMetrics, as `choose_encoder`
picked): each merged family once as HELP/TYPE, then every id's lines in id order, exactly
as the encoder would render the whole family; families of other collectors (process
metrics, the exporter's own) are rendered by the encoder as they are.

A changed id's per-table lines are reused per table: a table equal to the one last rendered
(zeros of the same sign) keeps its five lines, so 10% of tables moving re-renders 10% of
the lines. Lines come from the encoder (an id's family alone, header cut off; a table's
labels once, then name + labels + `floatToGoString(value)` where `Format.derives` found
the encoder writes lines so). Kept per id and format: one chunk per per-table family and
each table's offset in it. Ids absent from a render are dropped (probes: a capacity).
"""

from __future__ import annotations

import math
import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from dts_exporter.actions.tables import TABLE, TABLE_SERIES, TableFamily, TableProgress
from dts_exporter.base.families import DEFAULT_OPTIONS, Builder, Options
from dts_exporter.exposition import Unit, add_exporter, build_families, noted, units
from dts_exporter.rendering.formats import Encoder, Format, format_for, go_value
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot

FORMATS_KEPT = 2  # encoders whose lines an entry keeps (text and OpenMetrics, say)
_TABLE_INDEX = {metric.name: index for index, (metric, _) in enumerate(TABLE_SERIES)}


V = TypeVar("V")


def _put(kept: dict[Hashable, V], key: Hashable, value: V) -> None:
    """Keep `value` under `key`, dropping the oldest format's beyond FORMATS_KEPT."""
    while len(kept) >= FORMATS_KEPT and key not in kept:
        del kept[next(iter(kept))]
    kept[key] = value


@dataclass(frozen=True)
class _Tables:
    """A unit's per-table lines in one format: per TABLE_SERIES metric one chunk holding
    every table's line (none when its value is missing) and where each table's starts."""

    tables: Sequence[TableProgress]  # in the order rendered
    index: dict[TableProgress, int]  # a table -> its place in `tables`
    chunks: list[bytes]
    offsets: list[array[int]]  # per metric, len(tables) + 1 starts in the chunk


class _Entry:
    """One unit's families and, per format, their rendered lines."""

    def __init__(self, unit: Unit, families: list[Family], before: _Entry | None) -> None:
        self.unit = unit
        self.families = families
        self.chunks: dict[Hashable, list[bytes | None]] = {}
        self.tabled: dict[Hashable, _Tables] = {}
        # The unit's previous tables: a table that did not change keeps its lines.
        self.before: dict[Hashable, _Tables] = {}
        if before is not None:
            for key, done in (*before.before.items(), *before.tabled.items()):
                _put(self.before, key, done)
        self.tables = _tables(families)

    def pieces(self, index: int, key: Hashable, fmt: Format, counter: Renderer) -> list[bytes]:
        family = self.families[index]
        if self.tables is not None and isinstance(family, TableFamily):
            done = self.tabled.get(key)
            if done is None:
                done = self._render_tables(key, fmt, counter)
                _put(self.tabled, key, done)
                self.before.pop(key, None)
            return [done.chunks[_TABLE_INDEX[family.name]]]
        chunks = self.chunks.get(key)
        if chunks is None:
            chunks = [None] * len(self.families)
            _put(self.chunks, key, chunks)
        chunk = chunks[index]
        if chunk is None:
            chunk = chunks[index] = fmt.lines(family)
            counter.fresh_rows += chunk.count(b"\n")
        return [chunk]

    def _render_tables(self, key: Hashable, fmt: Format, counter: Renderer) -> _Tables:
        assert self.tables is not None
        job_id, tables = self.tables
        old = self.before.get(key)
        # Runs of tables found in the same order last time: (first, last + 1, its first
        # there); a table not found (or with a zero of the other sign) is (i, i + 1, -1).
        runs: list[tuple[int, int, int]] = []
        missed: list[TableProgress] = []
        for i, table in enumerate(tables):
            j = -1
            if old is not None:
                j = old.index.get(table, -1)
                seen = old.tables[j] if j >= 0 else table
                if seen is not table and not _same_zeros(seen, table):
                    j = -1
            if j < 0:
                missed.append(table)
                runs.append((i, i + 1, -1))
            elif runs and runs[-1][2] >= 0 and runs[-1][2] + runs[-1][1] - runs[-1][0] == j:
                runs[-1] = (runs[-1][0], i + 1, runs[-1][2])
            else:
                runs.append((i, i + 1, j))
        rows, made = _fresh_rows(fmt, job_id, missed)
        counter.fresh_rows += made
        chunks: list[bytes] = []
        offsets: list[array[int]] = []
        for m in range(len(TABLE_SERIES)):
            pieces: list[bytes] = []
            starts = array("Q")
            at = 0
            fresh = iter(rows)
            for first, end, j in runs:
                if j < 0:
                    starts.append(at)
                    line = next(fresh)[m]
                    if line is not None:
                        pieces.append(line)
                        at += len(line)
                    continue
                assert old is not None
                before = old.offsets[m]
                base = before[j]
                pieces.append(old.chunks[m][base : before[j + end - first]])
                starts.extend(at + before[r] - base for r in range(j, j + end - first))
                at += before[j + end - first] - base
            starts.append(at)
            chunks.append(b"".join(pieces))
            offsets.append(starts)
        return _Tables(tables, {t: i for i, t in enumerate(tables)}, chunks, offsets)


def _fresh_rows(
    fmt: Format, job_id: str, fresh: Sequence[TableProgress]
) -> tuple[list[tuple[bytes | None, ...]], int]:
    """Each table's line per TABLE_SERIES metric (None: no value), and how many lines.

    The encoder renders every line, or (when `fmt.derives`) one line of each table's
    labels, from which a metric's line is its name, those labels and its value."""
    parts = fmt.label_parts(job_id, fresh) if fmt.derives else None
    columns: list[list[bytes | None]] = []
    for metric, read in TABLE_SERIES:
        column: list[bytes | None]
        if parts is not None and metric.labels == TABLE:
            name = metric.name.encode()
            column = []
            for part, table in zip(parts, fresh, strict=True):
                value = read(table)
                if value is None:
                    column.append(None)
                else:
                    column.append(b"%s%s %s\n" % (name, part, go_value(value).encode()))
        else:
            family = TableFamily(metric)
            family.add_tables(job_id, fresh)
            lines = iter(fmt.lines(family).split(b"\n")[:-1])  # escaped values hold no \n
            column = [next(lines) + b"\n" if read(t) is not None else None for t in fresh]
        columns.append(column)
    made = sum(line is not None for column in columns for line in column)
    return list(zip(*columns, strict=True)), made


def _tables(families: Sequence[Family]) -> tuple[str, Sequence[TableProgress]] | None:
    """The (job id, tables) every per-table family of the unit is made from, when they
    share one (as `initialization` makes them); otherwise None: rendered per family."""
    found: tuple[str, Sequence[TableProgress]] | None = None
    for family in families:
        if not isinstance(family, TableFamily):
            continue
        parts = family._parts
        if family._added or len(parts) != 1:
            return None
        if found is None:
            found = parts[0]
        elif found[0] != parts[0][0] or found[1] is not parts[0][1]:
            return None
    return found


def _same_zeros(a: TableProgress, b: TableProgress) -> bool:
    """Equal tables render alike unless a zero's sign differs (0.0 == -0.0, not in text)."""
    if a.total_rows and a.finished_rows and a.used_time_seconds:
        return True  # no zero (nor None) to tell apart: the common case, made quick
    for x, y in (
        (a.total_rows, b.total_rows),
        (a.finished_rows, b.finished_rows),
        (a.used_time_seconds, b.used_time_seconds),
    ):
        if x == 0 and y is not None and math.copysign(1.0, x) != math.copysign(1.0, y):
            return False
    return True


def _same_inputs(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    if a != b:
        return False
    return all(
        not (isinstance(x, float) and isinstance(y, float) and x == 0)
        or math.copysign(1.0, x) == math.copysign(1.0, y)
        for x, y in zip(a, b, strict=True)
    )


class CachedFamily(Family):
    """A gauge family made of per-id parts; `encode` renders it from cached lines. Its
    `samples` are those of its parts, so any other consumer sees the ordinary family."""

    def __init__(self, renderer: Renderer, name: str, documentation: str) -> None:
        self.parts: list[tuple[_Entry, int]] = []
        self.renderer = renderer
        super().__init__(name, documentation, "gauge")

    @property
    def samples(self) -> list[Sample]:
        return [s for entry, index in self.parts for s in entry.families[index].samples]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:  # Metric.__init__ sets []
        if value:
            raise TypeError("a cached family's samples come from its parts")

    def render(self, out: list[bytes], key: Hashable, fmt: Format) -> None:
        with self.renderer.lock:
            out.append(fmt.header(self.name, self.documentation))
            for entry, index in self.parts:
                out.extend(entry.pieces(index, key, fmt, self.renderer))


class Renderer:
    """Families per snapshot whose rendered lines are reused per id; one per endpoint.

    `fresh_rows` counts the sample lines rendered anew (not reused) since it was made.
    Without `capacity`, each render keeps only the ids it saw; with it, the most recently
    rendered `capacity` ids (probes of different jobs take turns)."""

    def __init__(self, capacity: int | None = None) -> None:
        self.lock = threading.Lock()
        self.fresh_rows = 0
        self.rebuilt_units = 0
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, ...], _Entry] = OrderedDict()

    def families(
        self, snapshot: Snapshot, stats: ApiStats | None, options: Options = DEFAULT_OPTIONS
    ) -> list[Family]:
        """The families `build_families` makes, with every id's part reused when unchanged."""
        entries = self._entries_for(units(snapshot, options))
        merged: dict[str, CachedFamily] = {}
        for entry in entries:
            for index, family in enumerate(entry.families):
                if family.type != "gauge" or family.unit:
                    return build_families(snapshot, stats, options)
                cached = merged.get(family.name)
                if cached is None:
                    cached = merged[family.name] = CachedFamily(
                        self, family.name, family.documentation
                    )
                cached.parts.append((entry, index))
        exporter = Builder()
        add_exporter(exporter, snapshot, stats)
        own = exporter.families()
        if any(family.name in merged for family in own):  # never so today: stay correct
            return build_families(snapshot, stats, options)
        return noted([*merged.values(), *own], options)

    def __len__(self) -> int:
        with self.lock:
            return len(self._entries)

    def _entries_for(self, unit_list: Sequence[Unit]) -> list[_Entry]:
        out: list[tuple[tuple[str, ...], _Entry]] = []
        seen: dict[tuple[str, ...], int] = {}
        with self.lock:
            for unit in unit_list:
                key = unit.key
                count = seen[key] = seen.get(key, 0) + 1
                if count > 1:  # the same id twice: each occurrence its own entry
                    key = (*key, f"#{count}")
                old = self._entries.get(key)
                if (
                    old is not None
                    and old.unit.record is unit.record
                    and _same_inputs(old.unit.inputs, unit.inputs)
                ):
                    out.append((key, old))
                    continue
                b = Builder()
                unit.add(b)
                self.rebuilt_units += 1
                out.append((key, _Entry(unit, b.families(), old)))
            if self._capacity is None:
                self._entries = OrderedDict(out)
            else:
                for key, entry in out:
                    self._entries.pop(key, None)
                    self._entries[key] = entry
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
        return [entry for _, entry in out]


def encode(collector: Collector, encoder: Encoder) -> bytes:
    """What `encoder(collector)` returns, with cached families rendered from their lines."""
    key, fmt = format_for(encoder)
    out: list[bytes] = []
    plain: list[Family] = []
    for family in collector.collect():
        if isinstance(family, CachedFamily):
            if plain:
                out.append(fmt.plain(plain))
                plain = []
            family.render(out, key, fmt)
        else:
            plain.append(family)
    if plain:
        out.append(fmt.plain(plain))
    out.append(fmt.tail)
    return b"".join(out)
