"""Every benchmark still imports and parses its options: `python -m benchmarks.X --help`, run
in this process (benchmarks/slurm.py was broken for weeks before anything noticed).

Benchmarks run as modules from the repository root: none edits sys.path, and none imports a
test module (helpers they share with the tests live in tests/support/).
"""

from __future__ import annotations

import ast
import importlib
import sys

import pytest

from tests.conftest import REPO

BENCHMARKS = sorted(
    path.stem for path in (REPO / "benchmarks").glob("*.py") if not path.stem.startswith("_")
)


def test_there_are_benchmarks() -> None:
    assert {"curation", "train_step", "slurm", "real_maps"} <= set(BENCHMARKS), BENCHMARKS


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    with pytest.raises(SystemExit) as exited:
        module.main()
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_runs_as_a_module(name: str) -> None:
    """No sys.path edits, no test module imported, and a `__main__` block calling main()."""
    source = (REPO / "benchmarks" / f"{name}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert "sys.path" not in source, name
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    tests = {m for m in imported if m == "tests" or m.startswith("tests.")}
    assert all(m.startswith("tests.support") for m in tests), (name, tests)
    assert 'if __name__ == "__main__":' in source, name
