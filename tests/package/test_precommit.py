""".pre-commit-config.yaml pins the same ruff and snakefmt as pyproject.toml, and its snakefmt
hook runs the venv's snakefmt on the workflow."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.conftest import REPO


def _pins() -> dict[str, str]:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    test = extras["optional-dependencies"]["test"]
    return dict(requirement.split("==") for requirement in test)


def _config() -> dict:
    return yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())


def _snakefmt_hook() -> dict:
    (local,) = [repo for repo in _config()["repos"] if repo["repo"] == "local"]
    (hook,) = [hook for hook in local["hooks"] if hook["id"] == "snakefmt"]
    return hook


def test_pins_equal_pyproject() -> None:
    pins = _pins()
    (ruff,) = [repo for repo in _config()["repos"] if repo["repo"].endswith("/ruff-pre-commit")]
    assert ruff["rev"] == f"v{pins['ruff']}"
    assert {hook["id"] for hook in ruff["hooks"]} == {"ruff-check", "ruff-format"}
    hook = _snakefmt_hook()
    assert hook["language"] == "system"
    assert re.findall(r"version (\S+)\"", hook["entry"]) == [pins["snakefmt"]]
    assert pins["snakefmt"] in hook["name"]


def test_snakefmt_hook_runs_the_venvs_snakefmt(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    hook = _snakefmt_hook()
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "rules").glob("*.smk")))]
    assert all(re.search(hook["files"], str(Path(f).relative_to(REPO))) for f in files)
    command = [*shlex.split(hook["entry"]), *files]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "bad.smk").write_text('rule x:\n    output: "a"\n')  # snakefmt would rewrite it
    done = subprocess.run(
        [*command[: -len(files)], str(tmp_path / "bad.smk")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
