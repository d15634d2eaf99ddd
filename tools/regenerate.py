"""Rewrite the checked-in outputs that tests compare against, after an intended change:
the golden exposition (tests/fixtures/golden.prom) and the README's metric reference.

    .venv/bin/python -m tools.regenerate

The tests never write these files; they always compare. Review the diff before committing.
"""

from __future__ import annotations

from tests.conftest import ROOT, load_fixture
from tests.golden import GOLDEN, README_PATH, sample_exposition, with_metric_table


def main() -> None:
    golden = sample_exposition(
        load_fixture("describe_initialization_status.json"),
        load_fixture("describe_modify_status.json"),
    )
    readme = with_metric_table(README_PATH.read_text(encoding="utf-8"))
    for path, new in ((GOLDEN, golden), (README_PATH, readme.encode("utf-8"))):
        changed = path.read_bytes() != new
        if changed:
            path.write_bytes(new)
        print(f"{path.relative_to(ROOT)}: {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
