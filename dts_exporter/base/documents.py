"""Reading the YAML (or JSON) files users write: the config, the web config, scenarios.

Every problem is one `ConfigError` line naming the file: unreadable, not UTF-8, or not
valid YAML (with the line and column).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import yaml

from dts_exporter.base.errors import ConfigError


def read_document(path: str | Path, what: str = "file") -> object:
    """The decoded document at `path`; `what` names it in errors ("scenario file")."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: {what} is not UTF-8 text") from None
    if text.lstrip().startswith(("{", "[")):
        try:  # JSON as JSON: YAML rejects some valid JSON (tab indentation)
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # YAML flow style starts with a brace too; let YAML judge
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
        raise ConfigError(f"{name}: invalid YAML{where}: {problem}") from None


def require_regular_file(path: str | Path, what: str = "config file") -> None:
    """A FIFO or device would block the reader (and a reload holding its lock): refused."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # reading it says what is wrong
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{what} {path} is not a regular file")


def readable_by_others(path: str | Path) -> int | None:
    """The permission bits of a file that its group or others may read, else None (also
    when it cannot be inspected: reading it says what is wrong)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return mode & 0o777 if mode & 0o077 else None
