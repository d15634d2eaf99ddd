from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def init_body() -> dict[str, Any]:
    body: dict[str, Any] = load_fixture("describe_initialization_status.json")
    return body


@pytest.fixture
def modify_body() -> dict[str, Any]:
    body: dict[str, Any] = load_fixture("describe_modify_status.json")
    return body
