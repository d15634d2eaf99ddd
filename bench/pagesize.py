"""The largest page a DTS action can really answer, to size transport.MAX_BODY_BYTES.

Builds DescribeInitializationStatus pages as the service would send them (UTF-8 JSON) at the
PageSize the exporter asks for (initialization.PAGE_SIZE, 100 entries of each of the three
lists per page) and prints their sizes:

- "fixture": the documented example answer, repeated to a full page;
- "largest realistic": 100 structure objects, each a wide table's DDL (300 columns with
  comments, some non-ASCII: ~48 KiB), a 4 KiB error message and 8 constraints (indexes,
  foreign keys: ~1 KiB each), plus 100 data-initialization and 100 synchronization entries
  with 64-character names (MySQL's limit) and 4 KiB error messages;
- "MySQL limit": the same with 4,096-column tables (MySQL's hard limit): not realistic, shown
  to say what a cap would cut.

    .venv/bin/python bench/pagesize.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dts_exporter.actions.initialization import PAGE_SIZE
from dts_exporter.wire.transport import MAX_BODY_BYTES

NAME = "n" * 60  # identifiers: 64 characters at most in MySQL
ERROR = "ERROR 1062 (23000): Duplicate entry '" + "x" * 3900 + "' for key 'PRIMARY'"


def ddl(table: str, columns: int) -> str:
    lines = [
        f"`{NAME}{c:04d}` varchar(255) CHARSET `utf8mb4` COLLATE `utf8mb4_general_ci` "
        f"COMMENT '客户联系方式 customer contact {c}' NULL , "
        for c in range(columns)
    ]
    return (
        f"CREATE TABLE `{NAME}db`.`{table}` (\n"
        + "\n".join(lines)
        + "\n, PRIMARY KEY (`id`)) engine=InnoDB DEFAULT CHARSET=`utf8mb4` ROW_FORMAT=Dynamic "
        "comment = '" + "表注释 table comment " * 40 + "' ;\n"
    )


def constraint(table: str, i: int) -> dict[str, Any]:
    columns = ", ".join(f"`{NAME}{c:04d}`" for c in range(12))
    return {
        "ObjectType": "Index",
        "ObjectName": f"idx_{NAME}_{i}",
        "ObjectDefinition": f"CREATE INDEX `idx_{i}` ON `{NAME}db`.`{table}` ({columns})",
        "SourceOwnerDBName": f"{NAME}db",
        "DestinationOwnerDBName": f"{NAME}db",
        "Status": "Failed",
        "ErrorMessage": ERROR[:200],
    }


def page(columns: int, constraints: int) -> dict[str, Any]:
    tables = [f"{NAME}{t:04d}" for t in range(PAGE_SIZE)]
    common = {"SourceOwnerDBName": f"{NAME}db", "DestinationOwnerDBName": f"{NAME}db"}
    return {
        "RequestId": "150DECD9-13FF-4929-A5DE-855BE9CC1234",
        "Success": True,
        "StructureInitializationDetails": [
            {
                **common,
                "ObjectType": "Table",
                "ObjectName": t,
                "ObjectDefinition": ddl(t, columns),
                "Status": "Failed",
                "ErrorMessage": ERROR,
                "Constraints": [constraint(t, i) for i in range(constraints)],
            }
            for t in tables
        ],
        "DataInitializationDetails": [
            {
                **common,
                "TableName": t,
                "Status": "Failed",
                "TotalRowNum": "123456789012",
                "FinishRowNum": "123456789012",
                "UsedTime": "123456.7",
                "ErrorMessage": ERROR,
            }
            for t in tables
        ],
        "DataSynchronizationDetails": [
            {**common, "TableName": t, "Status": "Failed", "ErrorMessage": ERROR} for t in tables
        ],
    }


def fixture_page() -> dict[str, Any]:
    path = Path(__file__).resolve().parent.parent / "tests/fixtures"
    one = json.loads((path / "describe_initialization_status.json").read_text())
    return {
        **one,
        **{
            key: one[key] * PAGE_SIZE
            for key in ("StructureInitializationDetails", "DataInitializationDetails")
        },
    }


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def largest_realistic() -> bytes:
    return json.dumps(page(300, 8), ensure_ascii=False).encode()


def main() -> None:
    rows = [
        ("fixture (documented example, full page)", size(fixture_page())),
        ("largest realistic (300-column DDL, 8 constraints)", len(largest_realistic())),
        ("MySQL limit (4,096-column DDL, 64 constraints)", size(page(4096, 64))),
    ]
    print(
        f"PageSize {PAGE_SIZE}; MAX_BODY_BYTES = {MAX_BODY_BYTES} ({MAX_BODY_BYTES / 2**20:g} MiB)"
    )
    print()
    print("| page | bytes | MiB | cap / page |")
    print("|---|---:|---:|---:|")
    for name, n in rows:
        print(f"| {name} | {n:,} | {n / 2**20:.2f} | {MAX_BODY_BYTES / n:.1f}x |")


if __name__ == "__main__":
    main()
