"""Hostile and careless input: every test in this folder is marked ``hostile`` (``pytest -m hostile``)."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.hostile)


def _one_line_error(result, *fragments: str) -> str:
    """Bad input handled: exit 2, a single ``error:`` line containing every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def cli():
    """``cli(*args)``: run the ``synthcam`` command in this process (click's runner); the result."""
    from click.testing import CliRunner

    from cli.main import main

    def run(*args: str, **kwargs):
        return CliRunner().invoke(main, [str(a) for a in args], **kwargs)

    return run


@pytest.fixture
def one_line_error():
    """``one_line_error(result, *fragments)``: assert a CLI result is one ``error:`` line, exit 2."""
    return _one_line_error
