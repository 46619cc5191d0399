"""`cryosse segment` from the core install alone (pyproject `dependencies`, no extras).

A fresh interpreter whose only packages are this venv's minus the `pipeline` and `test` extras
(their modules and metadata left out of a linked copy of site-packages, `python -S`: as in a venv
made by a plain `pip install cryosse`) segments a map from the command line. Leaving them out,
rather than making their import fail, keeps probes such as torch's `find_spec("pandas")` honest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import mrcfile
import numpy as np
import torch

from cryosse.core.config import ModelSettings
from cryosse.learn.checkpoint import make_checkpoint, save_checkpoint
from cryosse.learn.unet import UNet3D
from tests.conftest import REPO

# distribution name -> the module it provides
IMPORT_NAMES = {
    "snakemake": "snakemake",
    "snakemake-executor-plugin-slurm": "snakemake_executor_plugin_slurm",
    "snakemake-executor-plugin-slurm-jobstep": "snakemake_executor_plugin_slurm_jobstep",
    "pandas": "pandas",
    "biopython": "Bio",
    "requests": "requests",
    "urllib3": "urllib3",
    "jsonschema": "jsonschema",
    "PyYAML": "yaml",
    "matplotlib": "matplotlib",
    "pytest": "pytest",
    "pytest-httpserver": "pytest_httpserver",
    "monai": "monai",
    "ruff": "ruff",
    "snakefmt": "snakefmt",
    "mypy": "mypy",
    "pymol-open-source": "pymol",
}

RUN = """
import sys
from cryosse.cli import main
code = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[1].split(","))
print("loaded extras:", loaded)
sys.exit(code)
"""


def _core_site(shadow: Path, modules: list[str], distributions: list[str]) -> Path:
    """A folder of links to every entry of site-packages except the given modules and the
    metadata of the given distributions."""
    paths = sysconfig.get_paths()
    dist_prefixes = tuple(re.sub(r"[-_.]+", "_", d).lower() + "-" for d in distributions)
    shadow.mkdir()
    for site in dict.fromkeys(Path(paths[key]) for key in ("purelib", "platlib")):
        for entry in site.iterdir():
            stem = entry.name.removesuffix(".py")
            skip = stem in modules or entry.name.lower().startswith(dist_prefixes)
            if not skip and not (shadow / entry.name).exists():
                (shadow / entry.name).symlink_to(entry)
    return shadow


def _extras() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names = [r.split("==")[0] for r in extras["pipeline"] + extras["test"]]
    core = [r.split("==")[0] for r in project["dependencies"]]
    assert set(core) == {"torch", "gemmi", "mrcfile", "numpy", "scipy", "tqdm"}
    return names


def test_segment_runs_without_any_extra(tmp_path: Path) -> None:
    names = _extras()
    missing = [n for n in names if n not in IMPORT_NAMES]
    assert not missing, f"add the module name of {missing} to IMPORT_NAMES"
    modules = [IMPORT_NAMES[n] for n in names]
    blocked = ",".join(modules)
    site = _core_site(tmp_path / "site", modules, names)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO / 'src'}"}
    python = [sys.executable, "-S", "-c", textwrap.dedent(RUN), blocked]

    torch.manual_seed(0)
    model = tmp_path / "model.pt"
    save_checkpoint(
        make_checkpoint(
            UNet3D(base=4).eval().state_dict(), ModelSettings(base=4), {"epoch": 1, "metric": 0.5}
        ),
        model,
    )
    with mrcfile.new(tmp_path / "small.mrc") as mrc:
        mrc.set_data(np.random.default_rng(0).random((24, 24, 24), dtype=np.float32))
        mrc.voxel_size = 1.0
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *python,
            "segment",
            str(tmp_path / "small.mrc"),
            "--model",
            str(model),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--resolution",
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded extras: []" in done.stdout
    assert (out / "small_labels.mrc").is_file() and (out / "small.cxc").is_file()
    assert (out / "summary.json").is_file()

    # the extras really are absent there: a pipeline-only subcommand fails for want of one
    search = subprocess.run(
        [*python, "search", "--entries", str(tmp_path / "e.tsv")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert search.returncode == 1 and "Traceback" not in search.stderr
    assert "needs the pipeline extra" in search.stderr and "cryosse[pipeline]" in search.stderr
