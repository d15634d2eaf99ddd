"""Reading the loose values of DTS answers, shared by every action's parser.

The service is loose with types: numbers come as strings, ints or floats; fields may be
missing, empty or null; status values beyond the documented ones occur. A missing or
unusable scalar becomes None (and is noted in `problems`, never silently invented); a
structure that is not what the API documents raises DtsApiError(InvalidResponse).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError, describe_kind

MISSING_STATUS = "Unknown"

_DTS_CODE_RE = re.compile(r"\bDTS-\d{4,}\b")
# Bounded repetitions: the unbounded form took seconds on hostile messages such as
# "a.a.a.…a.BBBB…" (quadratic backtracking); real package segments and class names are short.
_EXCEPTION_RE = re.compile(r"\b(?:[a-z_]\w{0,63}\.){1,16}[A-Z]\w{0,100}(?:Exception|Error)\b")
# Only the start of a message is searched for a code: DTS puts it there, and messages can be
# as long as the whole answer.
_CODE_SEARCH_CHARS = 8192
_STATUS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
# Statuses that match _STATUS_RE, accepted by the fast path without the regex.
_KNOWN_STATUSES = frozenset(
    ("NotStarted", "Prechecking", "PrecheckFailed", "Migrating", "Failed", "Finished", "Success")
)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def list_field(body: Mapping[str, Any], key: str) -> list[Any] | None:
    """A list-valued field; None when absent or null.

    Tolerates the XML-to-JSON wrapping some Alibaba APIs use (`{"Item": [...]}`).
    """
    value = unwrap(body.get(key))
    if value is None or value == "":
        return None
    if not isinstance(value, list):
        raise DtsApiError(
            errors.INVALID_RESPONSE, f"{key} is {describe_kind(value)}, expected a list"
        )
    return value


def unwrap(value: object) -> object:
    """`{"Item": [...]}` or `{"Item": {...}}` -> the list (XML-to-JSON wrapping); else as is."""
    if isinstance(value, Mapping) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list):
            return inner
        if isinstance(inner, Mapping):
            return [inner]
    return value


def struct(
    body: Mapping[str, Any], key: str, problems: list[str], where: str = ""
) -> Mapping[str, Any] | None:
    """An object-valued field; None when absent, noted (at `where`) when it is not one."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        path = f"{where}.{key}" if where else key
        problems.append(f"{path}: {describe_kind(value)} is not an object")
        return None
    return value


def clean_text(text: str) -> str:
    """Text that UTF-8 can encode: a JSON escape such as `\\ud800` decodes to a lone
    surrogate, which would make the exposition (and so the whole scrape) fail."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def error_code(message: str) -> str:
    """A bounded code from a free-text error message: `DTS-1020042`, a Java exception
    class, or "" when nothing recognisable is there."""
    if not message:
        return ""
    head = message[:_CODE_SEARCH_CHARS]
    match = _DTS_CODE_RE.search(head) or _EXCEPTION_RE.search(head)
    return match.group(0) if match else "Other"


class Fields:
    """Reads scalar fields of one entry, noting unusable values in `problems`."""

    def __init__(self, entry: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.entry = entry
        self.where = where
        self.problems = problems

    def text(self, key: str) -> str:
        value = self.entry.get(key)
        if value is None:
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                return clean_text(str(value)).strip()
            except ValueError:  # an integer with more digits than str() converts
                pass
        self.problems.append(f"{self.where}.{key}: {describe_kind(value)} is not text")
        return ""

    def status(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return MISSING_STATUS
        if not _STATUS_RE.match(value):
            self.problems.append(f"{self.where}.{key}: unexpected status {value[:40]!r}")
            return "Other"
        return value

    def flag(self, key: str) -> bool | None:
        """A boolean, as JSON's true/false or the strings "true"/"false"."""
        value = self.entry.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        self.problems.append(f"{self.where}.{key}: {describe_kind(value)} is not true or false")
        return None

    def number(self, key: str) -> float | None:
        value = self.entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        result: float | None = None
        if isinstance(value, bool):
            result = None
        elif isinstance(value, (int, float)):
            try:
                result = float(value)
            except OverflowError:  # an integer beyond any float
                result = None
        elif isinstance(value, str):
            try:
                result = float(value.strip())
            except (ValueError, OverflowError):
                result = None
        if result is None or not math.isfinite(result):
            self.problems.append(f"{self.where}.{key}: {describe_kind(value)} is not a number")
            return None
        return result


# -- the fast path for well-formed entries ------------------------------------------------
#
# Nearly every entry is plain JSON strings. The helpers below read those directly, without
# building a `Fields` (and its location text) per entry; anything else (a missing status
# aside) raises `IrregularError`, or ValueError for a number that does not parse, and the
# entry is read again by `Fields`, which notes the problem. Same values, same problems.


class IrregularError(Exception):
    """An entry the fast path leaves to `Fields`."""


def plain_text(value: object) -> str:
    if type(value) is str:
        return clean_text(value).strip()
    if value is None:
        return ""
    raise IrregularError


def plain_own(value: object) -> str:
    """Like `plain_text`, a copy of its own: a record that kept a string of the decoded
    answer would pin the allocator's block it sits in, one per page, so the memory of the
    raw answers (far larger than the records) could not be reused once they are dropped."""
    text = plain_text(value)
    return text.encode().decode() if text else text


def plain_label(value: object) -> str:
    """Like `plain_text`, interned: database names and statuses repeat on every table, and
    each is then held once, not once per table and series."""
    if type(value) is str:
        return sys.intern(clean_text(value).strip())
    if value is None:
        return ""
    raise IrregularError


def plain_status(value: object) -> str:
    text = plain_label(value)
    if not text:
        return MISSING_STATUS
    if text in _KNOWN_STATUSES or _STATUS_RE.match(text):
        return text
    raise IrregularError


def plain_number(value: object) -> float | None:
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
        result = float(text)  # ValueError: left to Fields
    elif value is None:
        return None
    else:
        raise IrregularError
    if not math.isfinite(result):
        raise IrregularError
    return result


def entries(
    items: list[Any] | None, where: str, problems: list[str]
) -> Iterable[tuple[int, Mapping[str, Any]]]:
    """The object entries of a list with their index; anything else is noted."""
    for index, item in enumerate(items or []):
        if type(item) is dict or isinstance(item, Mapping):
            yield index, item
        else:
            problems.append(f"{where}[{index}]: {describe_kind(item)} is not an object")


def dedupe(
    items: Iterable[T], key: Callable[[T], K], better: Callable[[T, T], bool]
) -> tuple[list[T], list[K]]:
    """Merge entries with the same key deterministically; return them and the repeated keys."""
    kept: dict[K, T] = {}
    repeated: list[K] = []
    for item in items:  # fresh records, one per entry: `is` tells a repeat from the first
        k = key(item)
        old = kept.setdefault(k, item)
        if old is not item:
            if k not in repeated:
                repeated.append(k)
            if better(item, old):
                kept[k] = item
    return list(kept.values()), repeated


def keep_later(new: object, old: object) -> bool:
    """For `dedupe`: a repeated entry replaces the earlier one."""
    return True
