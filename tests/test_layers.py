"""The package's floors: a module imports only from floors below its own (or its own
folder), so the wire layer knows nothing of credentials or config, fetching nothing of
exposing, and the simulator nothing of the exporter but the shared vocabulary."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dts_exporter"

# Bottom to top. A name is a folder or a module of the package.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"__init__"}),  # the version
    frozenset({"base"}),  # shared vocabulary
    frozenset({"wire"}),  # signed HTTP calls
    frozenset({"basicauth"}),  # checking basic-auth credentials
    frozenset({"credentials", "config", "webconfig"}),
    frozenset({"actions", "selfmetrics"}),  # one module per DTS action; self-metrics
    frozenset({"snapshot"}),  # what fetching hands exposing
    frozenset({"collection"}),  # fetching
    frozenset({"exposition"}),  # exposing
    frozenset({"rendering"}),  # exposition rendered, reused per unchanged id
    frozenset({"scrape", "webserver"}),  # one HTTP request's metrics; the HTTP server
    frozenset({"web", "check", "discover"}),
    frozenset({"startup", "exporter"}),
    frozenset({"lifecycle"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
# The simulator stands in for the service: it may use the shared vocabulary and signing.
SIMULATOR_MAY_IMPORT = frozenset({"__init__", "base", "wire.signing", "simulator"})


def _unit(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py") if parts else "__init__"


def _floor(unit: str) -> int:
    for index, names in enumerate(FLOORS):
        if unit in names:
            return index
    raise AssertionError(f"dts_exporter/{unit} is on no floor: add it to FLOORS")


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def _imports(path: Path) -> set[str]:
    """The package modules a file imports, as dotted paths below dts_exporter."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dts_exporter" or node.module.startswith("dts_exporter."):
                base = node.module.removeprefix("dts_exporter").removeprefix(".")
                for alias in node.names:
                    name = f"{base}.{alias.name}" if base else alias.name
                    found.add(name if _is_module(name) else base or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dts_exporter."):
                    found.add(alias.name.removeprefix("dts_exporter."))
    return found


def test_no_module_imports_from_a_floor_above_or_beside_it() -> None:
    wrong: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        unit = _unit(parts)
        for imported in _imports(path):
            target = imported.split(".")[0]
            if unit == "simulator":
                if (
                    not any(
                        imported == ok or imported.startswith(ok + ".") or target == ok
                        for ok in SIMULATOR_MAY_IMPORT
                        if ok != "wire.signing"
                    )
                    and imported != "wire.signing"
                ):
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {imported}")
                continue
            if target == unit:
                continue
            if target == "simulator" and unit in ("cli",):
                continue  # `simulate` and `demo` run it
            if _floor(target) >= _floor(unit):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert wrong == []


def test_every_module_is_on_a_floor() -> None:
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path.relative_to(PACKAGE).parts)
        if unit != "simulator":
            _floor(unit)
