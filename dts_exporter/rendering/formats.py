"""How prometheus-client's encoders write lines, learnt from the encoders themselves: one
`Format` per encoder (format, version, escaping) renders a gauge family's HELP/TYPE and its
sample lines, and a table's labels once, so `rendering` can reuse and assemble them."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import partial

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from dts_exporter.actions.tables import TABLE, TableProgress

Encoder = Callable[[Collector], bytes]


class _Listed(Collector):
    def __init__(self, families: Iterable[Family]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Family]:
        return iter(self._families)


class Format:
    """One encoder (a format, version and escaping): its headers and sample lines."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.tail = encoder(_Listed(()))  # b"" for text, b"# EOF\n" for OpenMetrics
        self._headers: dict[tuple[str, str], bytes] = {}
        self.derives = self._derives()

    def plain(self, families: Iterable[Family]) -> bytes:
        """The families as the encoder renders them, without the final tail."""
        body = self.encoder(_Listed(families))
        if not body.endswith(self.tail):
            raise ValueError("the encoder's output does not end as an empty exposition's")
        return body[: len(body) - len(self.tail)]

    def header(self, name: str, documentation: str) -> bytes:
        """A gauge family's HELP and TYPE lines."""
        key = (name, documentation)
        header = self._headers.get(key)
        if header is None:
            if len(self._headers) >= 4096:  # bounded whatever the notes and names
                self._headers.clear()
            header = self._headers[key] = self.plain([Family(name, documentation, "gauge")])
        return header

    def lines(self, family: Family) -> bytes:
        """A gauge family's sample lines as the encoder renders them (no HELP/TYPE)."""
        body = self.plain([family])
        header = self.header(family.name, family.documentation)
        if not body.startswith(header):
            raise ValueError(f"{family.name}: the encoder's header is not a gauge's")
        return body[len(header) :]

    def _derives(self) -> bool:
        """Whether a gauge line is its name, its labels as the encoder writes them, a space
        and `floatToGoString(value)`; tried on awkward labels and values."""
        labels = ('q"uote\\back\nnew\x01', "é")
        for value in (0.0, -0.0, 1.5, 1e21, -3.0, math.inf, math.nan):
            family = GaugeMetricFamily(_PROBE, "", labels=("a", "b"))
            family.add_metric(labels, 0.0)
            family.add_metric(labels, value)
            zero, line, _ = self.lines(family).split(b"\n")
            if not zero.startswith(_PROBE.encode() + b"{") or not zero.endswith(b" 0.0"):
                return False  # a name escaped (escaping=dots), say
            if line != zero[:-3] + go_value(value).encode():
                return False
        return True

    def label_parts(self, job_id: str, tables: Sequence[TableProgress]) -> list[bytes]:
        """Per table, its TABLE labels as the encoder writes them (between name and value)."""
        family = GaugeMetricFamily(_PROBE, "", labels=TABLE)
        for t in tables:
            family.add_metric((job_id, t.source_db, t.dest_db, t.table), 0.0)
        prefix, suffix = _PROBE.encode(), b" 0.0"
        parts = []
        for line in self.lines(family).split(b"\n")[:-1]:
            if not (line.startswith(prefix) and line.endswith(suffix)):
                raise ValueError("a table's labels are not between its name and value")
            parts.append(line[len(prefix) : -len(suffix)])
        return parts


_PROBE = "dts_exporter_rendering_probe"
go_value: Callable[[float], str] = floatToGoString  # how both formats write a value
_formats: OrderedDict[Hashable, Format] = OrderedDict()
_formats_lock = threading.Lock()


def format_key(encoder: Encoder) -> Hashable:
    """What tells encoders apart: `choose_encoder` answers partials of two functions."""
    if isinstance(encoder, partial):
        return (encoder.func, encoder.args, tuple(sorted(encoder.keywords.items())))
    return encoder


def format_for(encoder: Encoder) -> tuple[Hashable, Format]:
    """The `Format` of an encoder (made once, a few kept) and the key telling it apart."""
    key = format_key(encoder)
    with _formats_lock:
        fmt = _formats.get(key)
        if fmt is None:
            fmt = _formats[key] = Format(encoder)
            while len(_formats) > 8:
                _formats.popitem(last=False)
        return key, fmt
