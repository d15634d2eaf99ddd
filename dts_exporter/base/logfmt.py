"""Logging set-up: one logfmt line per event, as Prometheus exporters log."""

from __future__ import annotations

import logging
import re
import sys
import time

# "event text key=value key=value": the event text becomes msg="...", the pairs follow.
_EVENT_RE = re.compile(r"^(?P<event>.*?)(?P<pairs>(?: [a-z_]+=\S.*)?)$", re.DOTALL)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


# Control characters (C0, DEL, C1) and Unicode line/paragraph separators: a value from
# outside must not start a line of its own, move the cursor or colour a terminal.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What a value may be without quotes: no space, `=`, quote, backslash or control character.
_BARE_RE = re.compile(r"[A-Za-z0-9_.:/@+,*-]*")


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """Every control character as `\\n`, `\\r`, `\\t`, `\\xNN` or `\\uNNNN`."""
    return _CONTROL_RE.sub(_escape_control, text)


def quote(value: str, limit: int = 500) -> str:
    """A free-text value as one double-quoted logfmt token (control characters escaped,
    length capped)."""
    text = value if len(value) <= limit else value[:limit] + "..."
    escaped = escape_controls(text.replace("\\", "\\\\").replace('"', '\\"'))
    return f'"{escaped}"'


def value(text: str, limit: int = 200) -> str:
    """A value from outside (an id, a code, a request id): bare when it is one plain token,
    else quoted, so it cannot forge another key=value pair or carry control characters."""
    return text if len(text) <= limit and _BARE_RE.fullmatch(text) else quote(text, limit)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        match = _EVENT_RE.match(record.getMessage())
        assert match is not None  # the pattern matches any string
        pairs = escape_controls(match.group("pairs"))
        line = (
            f"ts={stamp}.{int(record.msecs):03d}Z level={record.levelname.lower()} "
            f"logger={record.name} msg={quote(match.group('event'))}{pairs}"
        )
        if record.exc_info:
            line += " exc=" + quote(self.formatException(record.exc_info), limit=4000)
        return line


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # urllib3 logs full request URLs (with signatures) at debug level: keep it quiet.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
