from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

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


def make_tables(count: int, *, db: str = "shop", status: str = "Migrating") -> list[dict[str, Any]]:
    """`count` DataInitializationDetails entries, values as strings as the service sends."""
    return [
        {
            "SourceOwnerDBName": db,
            "DestinationOwnerDBName": db,
            "TableName": f"t{i:05d}",
            "Status": status,
            "TotalRowNum": str(1000 + i),
            "FinishRowNum": str(500 + i),
            "UsedTime": "12.0",
        }
        for i in range(count)
    ]


def write_scenario(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


class Scrape:
    """One collection of a registry, read many times (each registry read is a new scrape)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.values = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in registry.collect()
            for s in family.samples
        }

    @classmethod
    def from_text(cls, text: str) -> Scrape:
        scrape = cls.__new__(cls)
        scrape.values = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        return scrape

    def get(self, metric: str, /, **labels: str) -> float | None:
        return self.values.get((metric, frozenset(labels.items())))
