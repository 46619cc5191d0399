"""Exit 1 when this interpreter has any distribution of pyproject.toml's extras installed: run
by `make core-install` in the core-only venv (the standard library only, as that venv has)."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def installed_extras() -> list[str]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    found = []
    for requirement in (r for group in extras.values() for r in group):
        name = requirement.split("==")[0]
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


if __name__ == "__main__":
    extras = installed_extras()
    if extras:
        sys.exit(f"the core install has the extras' distributions: {', '.join(extras)}")
    print("core install: no distribution of the extras")
