"""Every module of the packages stays small enough to read in one sitting: at most 500 lines."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("synthcam_core", "synthcam_shards", "synthcam", "scene_library", "noise_models", "segnet", "cli")
MAX_LINES = 500


def package_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_packages_are_found():
    missing = [package for package in PACKAGES if not (ROOT / package / "__init__.py").is_file()]
    assert not missing, f"packages not found: {missing}"
    assert len(package_modules()) > 20


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_has_at_most_500_lines(path: Path):
    with path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    assert lines <= MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it along a seam"
    )
