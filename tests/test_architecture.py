"""The package layout of docs/ARCHITECTURE.md, checked on the source: imports flow one way, there is no import
loop, no module uses another module's private names, and only the shard package opens HDF5 files."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the project packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "synthcam_core": set(),
    "synthcam_shards": {"synthcam_core"},
    "scene_library": {"synthcam_core"},
    "noise_models": {"synthcam_core"},
    "synthcam": {"synthcam_core", "synthcam_shards", "scene_library", "noise_models"},
    "segnet": {"synthcam_core", "synthcam_shards"},
    "cli": {"synthcam_core", "synthcam_shards", "scene_library", "noise_models", "synthcam", "segnet"},
}
#: modules outside synthcam_shards that may import h5py, and why
H5PY_ELSEWHERE = {"segnet.datasets.nyuv2": "NYUv2's labelled .mat file is HDF5, not a shard"}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)  # project modules imported (anywhere in the file)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def load_modules(packages) -> dict[str, Module]:
    modules = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = Module(module_name(path), path, ast.parse(path.read_text(), str(path)))
    return modules


PROJECT = load_modules(ALLOWED)


def resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if module.path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported(module: Module, known: dict[str, Module]) -> list[tuple[str, str | None, int]]:
    """(target module, imported name or None, line) for every import of a project module in ``module``."""
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub, None, node.lineno) if sub in known else (target, a.name, node.lineno))
    return [(t, n, line) for t, n, line in out if t.split(".")[0] in ALLOWED]


def test_packages_import_only_the_layers_below_them():
    wrong = []
    for module in PROJECT.values():
        package = module.name.split(".")[0]
        for target, _, line in imported(module, PROJECT):
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{module.path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(wrong)


def test_no_import_loop():
    graph = {name: set() for name in PROJECT}
    for module in PROJECT.values():
        for target, _, _ in imported(module, PROJECT):
            if target in PROJECT and target != module.name:
                graph[module.name].add(target)
    loops = strongly_connected(graph)
    assert not loops, "import loops: " + "; ".join(" <-> ".join(sorted(c)) for c in loops)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Components of more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def private_uses(module: Module, known: dict[str, Module]) -> list[str]:
    """``from m import _x`` and ``m._x`` where ``m`` is another project module."""
    uses, aliases = [], {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in known:
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:
                    aliases[a.asname or a.name] = sub
                elif target in known and target != module.name and is_private(a.name):
                    uses.append(f"{module.path.relative_to(ROOT)}:{node.lineno} imports {target}.{a.name}")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = dotted(node.value)
            if owner in aliases and aliases[owner] != module.name:
                uses.append(f"{module.path.relative_to(ROOT)}:{node.lineno} uses {aliases[owner]}.{node.attr}")
    return uses


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_"


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


@pytest.mark.parametrize("where", ["packages", "tests", "benchmarks"])
def test_no_private_name_used_across_modules(where):
    if where == "packages":
        modules = PROJECT
    else:
        modules = {}
        for path in sorted((ROOT / where).rglob("*.py")):
            modules[f"{where}:{path.relative_to(ROOT)}"] = Module(f"{where}:{path}", path, ast.parse(path.read_text()))
    uses = [use for module in modules.values() for use in private_uses(module, PROJECT)]
    assert not uses, "private names used across modules:\n" + "\n".join(uses)


def test_tests_take_shared_helpers_as_fixtures_not_by_importing_conftest():
    wrong = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            wrong += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "conftest"]
    assert not wrong, "tests importing conftest (use a fixture):\n" + "\n".join(wrong)


def test_only_the_shard_package_opens_hdf5():
    wrong = []
    for module in PROJECT.values():
        if module.name.startswith("synthcam_shards") or module.name in H5PY_ELSEWHERE:
            continue
        for node in ast.walk(module.tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            wrong += [f"{module.path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "h5py"]
    assert not wrong, "h5py outside synthcam_shards:\n" + "\n".join(wrong)


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The checkers themselves: a loop, a private import and an attribute use are each found."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) == [{"a", "b"}]
    source = "import synthcam_core.errors as e\nfrom synthcam_core.camera import _hidden\nx = e._secret\n"
    fake = Module("synthcam.fake", ROOT / "synthcam" / "fake.py", ast.parse(source))
    assert len(private_uses(fake, PROJECT)) == 2
