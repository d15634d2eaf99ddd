"""Log lines cannot be forged: values from an API answer are quoted when needed and no raw
control character reaches the log."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import LogfmtFormatter, quote, value
from dts_exporter.collection.statelog import StateLog

# Any control character but none is allowed in a log line (the line's own newline aside).
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    logger = logging.getLogger("dts_exporter.collection")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def pairs(line: str) -> list[str]:
    """The keys of a logfmt line, quoted values skipped."""
    return re.findall(r'(?:^| )([a-z_]+)=(?:"(?:[^"\\]|\\.)*"|\S*)', line)


def test_an_answer_cannot_forge_pairs_or_carry_control_characters(
    logged: io.StringIO,
) -> None:
    state = StateLog()
    error = DtsApiError(
        "Throttling.User",
        "slow down\x1b[2J\u2028now",
        http_status=400,
        request_id="x code=Forged\r\x1b[31m",
    )
    state.result(("DescribeDtsJobs", "dts job=1", "\x85"), error)
    state.result(("DescribeDtsJobs", "dts job=1", "\x85"), None)  # recovered
    lines = logged.getvalue().splitlines()
    assert len(lines) == 2
    failed, recovered = lines
    assert not RAW_CONTROL.search(logged.getvalue().replace("\n", ""))
    assert pairs(failed).count("code") == 1
    assert pairs(failed)[-6:] == [
        "job_id",
        "task_id",
        "code",
        "http_status",
        "request_id",
        "message",
    ]
    assert " code=Throttling.User " in failed
    assert 'request_id="x code=Forged\\r\\x1b[31m"' in failed
    assert 'job_id="dts job=1" task_id="\\x85"' in failed
    assert 'message="slow down\\x1b[2J\\u2028now"' in failed
    assert "previous_code=Throttling.User" in recovered


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a\nb\rc\td", '"a\\nb\\rc\\td"'),
        ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
        ("\x85\x9f", '"\\x85\\x9f"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ('say "hi" \\', '"say \\"hi\\" \\\\"'),
        ("caf\u00e9 \u4e2d", '"caf\u00e9 \u4e2d"'),  # printable text is kept as is
    ],
)
def test_quote_escapes_every_control_character(raw: str, escaped: str) -> None:
    assert quote(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Throttling.User", "Throttling.User"),
        ("dts-a1_b.2", "dts-a1_b.2"),
        ("", ""),
        ("a b", '"a b"'),
        ("k=v", '"k=v"'),
        ('"', '"\\""'),
        ("\x1b", '"\\x1b"'),
    ],
)
def test_value_is_bare_only_when_it_is_one_plain_token(raw: str, shown: str) -> None:
    assert value(raw) == shown
