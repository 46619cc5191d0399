"""constraints.txt, the lock file `make setup` installs with, pins every package of the venv
the tests run in, at the versions pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from tests.conftest import REPO

# installed by venv/pip themselves, or this project
NOT_LOCKED = {"pip", "setuptools", "wheel", "cryosse"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            assert _canonical(name) not in pins, f"{name} locked twice"
            pins[_canonical(name)] = version
    return pins


def test_every_pyproject_pin_is_locked_at_its_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    pins = locked()
    for requirement in requirements:
        name, version = requirement.split("==")
        assert pins.get(_canonical(name)) == version, requirement


def test_the_lock_describes_this_venv() -> None:
    """What CI tested is what the lock says: every installed distribution, same version (a
    local build label such as torch's +cpu aside: `==2.13.0` matches it)."""
    pins = locked()
    installed = {
        _canonical(dist.metadata["Name"]): dist.version.split("+")[0]
        for dist in metadata.distributions()
    }
    for name in NOT_LOCKED:
        installed.pop(name, None)
    missing = sorted(set(installed) - set(pins))
    assert not missing, f"installed but not in constraints.txt (make lock): {missing}"
    stale = sorted(n for n in pins if n in installed and pins[n] != installed[n])
    assert not stale, f"constraints.txt differs from the venv (make lock): {stale}"
    unused = sorted(set(pins) - set(installed))
    assert not unused, f"locked but not installed: {unused}"
