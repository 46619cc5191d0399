"""The mypy configuration in pyproject.toml (make lint runs mypy with it)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def overridden_package_modules() -> list[str]:
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    return [
        name
        for override in mypy["overrides"]
        for name in override["module"]
        if name.split(".")[0] == "cryosse"
    ]


def test_every_module_checked_strictly_exists() -> None:
    """mypy only notes an override for a module it never saw (and exits 0): a module moved or
    renamed would silently leave strict checking unless its new name is listed."""
    names = overridden_package_modules()
    assert names, "no package module is checked strictly"
    src = REPO / "src"
    missing = []
    for name in names:
        path = src.joinpath(*name.removesuffix(".*").split("."))
        found = path.is_dir() if name.endswith(".*") else path.with_suffix(".py").is_file()
        if not found:
            missing.append(name)
    assert not missing, f"pyproject.toml [tool.mypy] names modules that do not exist: {missing}"


def test_every_stage_entry_is_checked_strictly() -> None:
    """Each stage.py is what the workflow calls and what hands data to the next stage: a new
    stage's entry module joins the strict list."""
    names = set(overridden_package_modules())
    stages = sorted((REPO / "src" / "cryosse").glob("*/stage.py"))
    assert stages
    unlisted = [f"cryosse.{p.parent.name}.stage" for p in stages]
    unlisted = [n for n in unlisted if n not in names]
    assert not unlisted, f"add to the strict list in pyproject.toml [tool.mypy]: {unlisted}"
