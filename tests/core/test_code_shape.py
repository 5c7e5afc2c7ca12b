# SPDX-License-Identifier: GPL-3.0-or-later
"""The code's shape (README, "Where the code is"): no circle among the product's
imports, function-level imports included; the Blender-free folders and modules import
with ``bpy`` blocked; no file over 450 lines, no class over 250."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_PRODUCT = {"tests", "bench", "tools", "wheels", "test_artifacts", "docs"}
BLENDER_FREE_FOLDERS = ("core", "exporters", "farm")
BLENDER_FREE_MODULES = ("cli", "commands", "flags", "loader", "viewer", "vendor")


def product_modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_PRODUCT or parts[0].startswith("."):
            continue
        names = ["ground_truth", *parts[:-1]] + ([] if path.name == "__init__.py" else [path.stem])
        found[".".join(names)] = path
    return found


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's product imports, wherever in the module they are. ``from . import x``
    of a submodule x counts as an import of x, not of the package."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
                targets.update(submodules if len(submodules) == len(node.names) else {base, *submodules})
        graph[name] = (targets & modules.keys()) - {name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the path around it, else None (depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle_through_a_function_level_import(tmp_path):
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import g\n")
    modules = {"ground_truth.a": tmp_path / "a.py", "ground_truth.b": tmp_path / "b.py"}
    assert cycle(imports(modules)) == ["ground_truth.a", "ground_truth.b", "ground_truth.a"]


def test_no_circle_among_the_product_imports():
    modules = product_modules()
    graph = imports(modules)
    assert {"ground_truth.flags", "ground_truth.pipeline.export", "ground_truth.farm.driver"} <= modules.keys()
    assert "ground_truth.flags" in graph["ground_truth.farm.driver"]  # the graph sees relative imports
    assert cycle(graph) is None, " → ".join(cycle(graph))


def test_the_blender_free_part_imports_with_bpy_blocked(package_dir):
    names = [f"ground_truth.{m}" for m in BLENDER_FREE_MODULES]
    for folder in BLENDER_FREE_FOLDERS:
        names += [f"ground_truth.{folder}.{p.stem}" for p in sorted((ROOT / folder).glob("*.py"))]
    script = f"""
import importlib, importlib.abc, sys
BLOCKED = {{"bpy", "_bpy", "mathutils", "gpu", "bmesh", "bpy_extras", "addon_utils"}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
for name in {names!r}:
    importlib.import_module(name)
print(sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=package_dir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert len(names) > 40


def test_no_product_file_over_450_lines_and_no_class_over_250():
    too_long = []
    for name, path in product_modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 450:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno >= 250:
                too_long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long
