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


def quote(value: str, limit: int = 500) -> str:
    """A free-text value as one double-quoted logfmt token (newlines escaped, length capped)."""
    text = value if len(value) <= limit else value[:limit] + "..."
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        match = _EVENT_RE.match(record.getMessage())
        assert match is not None  # the pattern matches any string
        pairs = match.group("pairs").replace("\n", "\\n")
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
