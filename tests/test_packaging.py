"""Packaging: pyproject.toml's extras agree with synthcam_core.extras, the lower-bounds file agrees with the
dependency ranges, and a base install (no extras) generates and inspects a dataset without importing any
extra's module."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from synthcam_core.extras import EXTRAS

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
#: extras that are not optional features of the package
NON_FEATURE_EXTRAS = {"all", "test"}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_every_extra_in_the_registry_is_declared_and_every_declared_feature_extra_is_registered(project):
    declared = set(project["optional-dependencies"])
    assert set(EXTRAS) <= declared, f"extras missing from pyproject.toml: {sorted(set(EXTRAS) - declared)}"
    assert declared - NON_FEATURE_EXTRAS == set(EXTRAS)


def test_all_installs_every_feature_extra(project):
    (self_ref,) = project["optional-dependencies"]["all"]
    req = Requirement(self_ref)
    assert canonicalize_name(req.name) == canonicalize_name(project["name"])
    assert req.extras == set(EXTRAS)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_an_extra_installs_the_modules_the_registry_names(project, extra):
    """Each module of EXTRAS[extra] comes from a distribution that the extra requires (checked where installed)."""
    names = requirement_names(project["optional-dependencies"][extra])
    providers = metadata.packages_distributions()
    for module in EXTRAS[extra]:
        assert module in providers, f"{module} is not installed: scripts/setup.sh installs every extra"
        dists = {canonicalize_name(d) for d in providers[module]}
        assert dists & names, f"[{extra}] installs none of {sorted(dists)}, which provide {module}"


def test_no_extra_package_is_a_required_dependency(project):
    required = requirement_names(project["dependencies"])
    for extra in EXTRAS:
        assert not required & requirement_names(project["optional-dependencies"][extra]), extra


def test_required_dependencies_are_ranges_and_exact_pins_say_why(project):
    """Only PyOpenGL is pinned (pyrender declares PyOpenGL==3.1.0); runtime dependencies are lower-bounded."""
    for r in project["dependencies"]:
        req = Requirement(r)
        assert any(s.operator == ">=" for s in req.specifier), f"{r}: give a lower bound"
        assert not any(s.operator == "==" for s in req.specifier), f"{r}: a required dependency is not pinned"
    pinned = {
        Requirement(r).name
        for extra in EXTRAS
        for r in project["optional-dependencies"][extra]
        if any(s.operator == "==" for s in Requirement(r).specifier)
    }
    assert pinned == {"PyOpenGL"}
    assert "PyOpenGL==3.1.0" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_lower_bounds_file_pins_each_dependency_at_its_lower_bound(project):
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "scripts/lower-bounds.txt").read_text().splitlines()]
    pins = {canonicalize_name(Requirement(ln).name): Requirement(ln) for ln in lines if ln}
    for r in project["dependencies"]:
        req = Requirement(r)
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # the CPU build is installed first, by version, not from the constraints
        assert name in pins, f"{name} has no line in scripts/lower-bounds.txt"
        (lower,) = [s.version for s in req.specifier if s.operator == ">="]
        (pin,) = list(pins.pop(name).specifier)
        at = Version(pin.version).release[: len(Version(lower).release)]
        assert pin.operator == "==" and at == Version(lower).release, f"{name}: {pin} is not the lower bound {lower}"
        assert req.specifier.contains(pin.version), f"{name}: {pin.version} is outside {req.specifier}"
    assert not pins, f"scripts/lower-bounds.txt names packages that are not dependencies: {sorted(pins)}"


def test_the_console_script_is_the_cli(project):
    assert project["scripts"] == {"synthcam": "cli.main:main"}


@pytest.mark.parametrize("script", ["setup.sh", "test.sh", "check_install.sh", "lint.sh"])
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)


BLOCK_EXTRAS = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
sys.argv = ["synthcam", *sys.argv[2:]]
from cli.main import main
main()
"""


def test_a_base_install_generates_and_inspects_without_any_extra(tmp_path):
    """With every extra's modules unimportable, the raycast renderer and inspect still work."""
    blocked = ",".join(sorted({m for modules in EXTRAS.values() for m in modules}))
    out = tmp_path / "x"

    def synthcam(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", BLOCK_EXTRAS, blocked, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )

    tiny = "generate --renderer raycast --rooms 1 --frames-per-room 1 --resolution 32x24 --seed 0 --workers 1"
    gen = synthcam(*tiny.split(), "--out", str(out))
    assert gen.returncode == 0, gen.stderr[-2000:]
    ins = synthcam("inspect", str(out))
    assert ins.returncode == 0, ins.stderr[-2000:]
