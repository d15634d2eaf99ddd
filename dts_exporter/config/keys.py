"""How a config key is declared: once, as an annotated dataclass field.

A section of the config file is a frozen dataclass whose fields are its keys. Each field
is `name: Annotated[type, Key(...)] = default`: the name is the key, the type what it
holds (a `Literal` for a choice, a dataclass for a nested section, `tuple[X, ...]` for a
list, `X | None` for an optional value), the `Key` its description and rules, the
default its default (none: the key is required). `declarations` reads them back, for the
parser, the allowed-key sets, and documentation or a schema generated from them.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from typing import Literal

# How a string key is read: plain text, an endpoint (http(s)://host[:port], the scheme
# optional) or a regular expression ("" matching everything).
Form = Literal["text", "endpoint", "regex"]


@dataclass(frozen=True)
class Key:
    """One key's description and what it accepts beyond its type."""

    description: str
    minimum: float = -math.inf
    maximum: float = math.inf
    pattern: re.Pattern[str] | None = None
    hint: str = ""  # said after an invalid value: what a valid one looks like
    form: Form = "text"
    scheme: str = "https"  # for an endpoint written without one


@dataclass(frozen=True)
class Declaration:
    name: str
    kind: object  # the annotation without its Key: float, str | None, a Literal, a dataclass
    key: Key
    default: object  # dataclasses.MISSING for a required key

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


_DECLARED: dict[type, tuple[Declaration, ...]] = {}


def declarations(section: type) -> tuple[Declaration, ...]:
    """The keys of a config section (a dataclass declared as above), in declaration order."""
    if section not in _DECLARED:
        hints = typing.get_type_hints(section, include_extras=True)
        found = []
        for field in dataclasses.fields(section):
            kind, key = typing.get_args(hints[field.name])
            found.append(Declaration(field.name, kind, key, field.default))
        _DECLARED[section] = tuple(found)
    return _DECLARED[section]


def key_names(section: type) -> frozenset[str]:
    """Every key the section may hold."""
    return frozenset(declared.name for declared in declarations(section))
