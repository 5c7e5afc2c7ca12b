"""docs/contract.md and the registry say the same, and the code points to the docs."""

import re
from pathlib import Path

from ground_truth.core.modalities import ARRAYS, MODALITIES

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> list[list[str]]:
    section = CONTRACT.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_the_array_table_is_the_registry():
    documented = {key: (dtype, shape, meaning, exr) for key, dtype, shape, meaning, exr in table_rows("Arrays")}
    registered = {a.key: (a.dtype, a.shape, a.meaning, a.exr) for a in ARRAYS.values()}
    assert list(documented) == list(registered)
    assert documented == registered


def test_every_modality_switch_is_documented():
    for modality in MODALITIES:
        assert f"`use_{modality.key}`" in CONTRACT


def test_no_file_of_the_product_points_outside_the_repository():
    for path in ROOT.rglob("*.py"):
        if ".venv" not in path.parts and "tests" not in path.parts:
            assert "SPEC.md" not in path.read_text(encoding="utf-8"), path
    assert not re.search(r"\bSPEC\.md\b", (ROOT / "README.md").read_text(encoding="utf-8"))
