# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/contract.md and the registry say the same, and the code points to the docs."""

import re
from pathlib import Path

from ground_truth.core.modalities import ARRAYS, MODALITIES, OFFSET_ARRAYS
from ground_truth.core.settings import SETTINGS
from ground_truth.exporters.formats import FORMATS
from ground_truth.flags import FORMATS as FORMAT_FLAGS

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")


def table_rows(heading: str, raw: bool = False) -> list[list[str]]:
    r"""The rows of a table of the contract's section; ``raw`` keeps the cells' backticks
    and ``\|`` (split at " | " only)."""
    section = CONTRACT.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    if raw:
        return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_the_array_table_is_the_registry():
    documented = {key: (dtype, shape, meaning, exr) for key, dtype, shape, meaning, exr in table_rows("Arrays")}
    arrays = [*ARRAYS.values(), *(a for _, a in OFFSET_ARRAYS)]
    registered = {a.key: (a.dtype, a.shape, a.meaning, a.exr) for a in arrays}
    assert list(documented) == list(registered)
    assert documented == registered


def test_every_modality_switch_is_documented():
    for modality in MODALITIES:
        assert f"`use_{modality.key}`" in CONTRACT


def test_every_format_switch_and_formats_name_is_documented():
    for file_format in FORMATS:
        assert f"`use_{file_format.key}`" in CONTRACT, file_format.key
    listed = re.search(r"\| `--formats LIST` \| of (.*?);", CONTRACT)[1]
    assert sorted(re.findall(r"`(\w+)`", listed)) == sorted(FORMAT_FLAGS)


def test_no_file_of_the_product_points_outside_the_repository():
    for path in ROOT.rglob("*.py"):
        if ".venv" not in path.parts and "tests" not in path.parts:
            assert "SPEC.md" not in path.read_text(encoding="utf-8"), path
    assert not re.search(r"\bSPEC\.md\b", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_environment_variable_the_readme_names_is_read_by_the_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8") + CONTRACT
    names = set(re.findall(r"\b(?:GT|GROUND_TRUTH)_[A-Z0-9_]+\b", readme))
    assert names  # GT_PYTHON313, GROUND_TRUTH_SCRATCH, …
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [*ROOT.rglob("*.py"), *ROOT.rglob("*.sh")]
        if ".venv" not in p.parts and "tests" not in p.parts
    )
    for name in names:
        if name.startswith("GT_PYTHON"):  # tools/find_python.py reads GT_PYTHON<major><minor>
            read = re.fullmatch(r"GT_PYTHON3\d{1,2}", name) and 'f"GT_PYTHON{' in code
        else:  # a string literal, as os.environ is read with
            read = re.search(rf"[\"']{name}[\"']", code)
        assert read, f"the README names {name}, which no code reads"


def test_the_settings_table_is_documented_with_its_defaults_and_flags():
    """Every row of core/settings.py is in the contract's settings table with its
    default, and its flag in the command line's table next to its name."""
    defaults = {}
    for names, default, _ in table_rows("Settings (`scene.ground_truth`)", raw=True):
        names, values = re.findall(r"`(\w+)`", names), default.split(", ")
        defaults.update(zip(names, values * len(names) if len(values) == 1 else values, strict=True))
    flags = {}
    for flag_cell, setting_cell in table_rows("Command line", raw=True):
        found, names = re.findall(r"`(--[\w-]+)", flag_cell), re.findall(r"`(\w+)`", setting_cell)
        if len(found) == len(names):
            flags.update(zip(found, names, strict=True))
    for setting in SETTINGS:
        if isinstance(setting.default, bool):
            written = "on" if setting.default else "off"
        elif isinstance(setting.default, str) and not setting.choices:
            written = f'`"{setting.default}"`'
        else:
            written = f"`{setting.default}`" if setting.choices else f"{setting.default:g}"
        assert defaults.get(setting.name) == written, setting.name
        if setting.flag:
            assert flags.get(setting.flag) == setting.name, setting.flag
