"""cryosse: medium-resolution cryo-EM maps paired with their atomic models, labelled for
secondary-structure segmentation (helix / beta-sheet / background)."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
    """The version pyproject.toml states, read from the installed package's metadata (typed
    once); a source checkout used without installing reads pyproject.toml itself."""
    try:
        return version("cryosse")
    except PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        if not pyproject.is_file():
            raise
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])


__version__ = _version()
