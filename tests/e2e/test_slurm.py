"""The README's SLURM recipe, run as written, through a real one-node SLURM cluster.

Opt-in: `pytest -m slurm` (plain `pytest` deselects it; `make test-slurm`, run by .ci/run,
installs slurm-wlm and munge and runs it). The cluster (tests/support/slurm_cluster.py) has 8 CPUs
declared on however many cores the machine has, so that independent small jobs run side by side
while Snakemake waits between status checks, and 2 fake GPUs (GRES gpu:fake backed by /dev/null
and /dev/zero).

The recipe's command lines are read from README.md (between `<!-- slurm-recipe -->` and
`<!-- /slurm-recipe -->`) and run in its order in a folder laid out like a checkout
(config/config.yaml, profiles/): `cryosse search`, `cryosse fetch`, then Snakemake with
profiles/slurm. The loopback archive server (tests/support/archive_server.py) stands in for EMDB's
search
API and the EMDB/PDB file archives, serving the demo's five entries. What differs from a real
cluster is said where it is done: the export lines get this cluster's partition and GPU model,
and Snakemake gets the Snakefile's path, the targets, and what a cluster without slurmdbd needs.

Reduced demo, to keep CI under 5 minutes: the five entries and two of the losses (CE, FL_DL, as
tests/e2e/test_pipeline.py), up to Table 1 and the split report; cross-validation and the HTML
report (the same kinds of jobs) are left out. The same entry list and archive run locally at the
same time (the local run uses the idle CPU while the SLURM run waits between status checks), and
a third, tiny run lets Snakemake's own search checkpoint write the entry list under the SLURM
profile. SLURM's own job list then shows that the search and the acquisition (local rules: they
need the internet) never became SLURM jobs, while curation, training and evaluation did.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cryosse.io.entries import read_entry_table
from tests.support import slurm_cluster
from tests.support.archive_server import ArchiveServer
from tests.support.slurm_recipe import (
    DEMO_ENTRIES,
    LOCAL_ARGS,
    LOCAL_RULES,
    SLURM_ARGS,
    SNAKEMAKE,
    checkout,
    demo_archive,
    finished,
    recipe_commands,
    run_step,
    slurm_env,
    slurm_jobs,
    start,
)

pytestmark = pytest.mark.slurm

# Wall-clock columns and files: everything else must be byte-identical to the local run.
TIMING_FIELDS = {"seconds"}


@pytest.fixture(scope="module")
def cluster():
    reason = slurm_cluster.missing_reason()
    if reason:
        if os.environ.get("CRYOSSE_REQUIRE_SLURM"):  # set by `make test-slurm`: never skip in CI
            pytest.fail(f"SLURM test required but cannot run: {reason}")
        pytest.skip(reason)
    cluster = slurm_cluster.start(cpus=8, gpus=2)
    yield cluster
    problems = cluster.stop()
    assert not problems, problems


@pytest.fixture
def archive() -> Iterator[ArchiveServer]:
    with demo_archive() as state:
        yield state


def test_gpu_gres_reaches_the_job(cluster: slurm_cluster.Cluster) -> None:
    """What a training job asks for (--gpus=fake:1) gives it a device in CUDA_VISIBLE_DEVICES;
    a job without the request sees none."""
    command = [
        "srun",
        "--gpus=fake:1",
        "-c",
        "1",
        "--mem",
        "100",
        "printenv",
        "CUDA_VISIBLE_DEVICES",
    ]
    with_gpu = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert with_gpu.returncode == 0 and with_gpu.stdout.strip() in {"0", "1"}, with_gpu
    without = subprocess.run(
        command[:1] + command[2:], capture_output=True, text=True, timeout=60, check=False
    )
    assert without.stdout.strip() == "", without


def test_readme_recipe_on_slurm_matches_local_run(
    cluster: slurm_cluster.Cluster, archive: ArchiveServer, tmp_path: Path
) -> None:
    before, snakemake_command = recipe_commands()
    slurm = checkout(tmp_path, "slurm", archive)
    for command in before:  # cryosse search, then cryosse fetch: the README's order
        run_step(command, slurm)
    entries = [record.emdb_id for record in read_entry_table(slurm / "config/entries.tsv")]
    assert entries == DEMO_ENTRIES
    on_slurm = start(snakemake_command, slurm, *SLURM_ARGS, env=slurm_env())
    # Snakemake's own search checkpoint under profiles/slurm: a checkout with no entry list yet.
    search = checkout(tmp_path, "search", archive)
    searching = start(
        snakemake_command, search, *SLURM_ARGS, env=slurm_env(), targets=["config/entries.tsv"]
    )
    # The same entry list and archive on a workstation.
    local = checkout(tmp_path, "local", archive)
    shutil.copy(slurm / "config/entries.tsv", local / "config/entries.tsv")
    on_workstation = start(
        [str(SNAKEMAKE), "--configfile", "config/config.yaml", *LOCAL_ARGS], local
    )
    search_log = finished(searching, search)
    finished(on_workstation, local)
    slurm_log = finished(on_slurm, slurm)

    searched = [record.emdb_id for record in read_entry_table(search / "config/entries.tsv")]
    assert searched == DEMO_ENTRIES
    # Snakemake ran the search and the acquisitions itself, and sent curation to SLURM ...
    assert "localcheckpoint search_emdb:" in search_log, search_log[-3000:]
    assert slurm_log.count("localrule acquire_entry:") == len(DEMO_ENTRIES), slurm_log[-3000:]
    assert "\nrule curate_entry:" in slurm_log, slurm_log[-3000:]
    # ... and SLURM agrees: no search or acquisition job, every other kind of job.
    jobs = slurm_jobs()
    rules = [rule for rule, _ in jobs.values()]
    assert not LOCAL_RULES & set(rules), rules
    assert {"curate_entry", "train_model", "evaluate_loss"} <= set(rules), rules
    assert rules.count("curate_entry") == len(DEMO_ENTRIES), rules
    # With training.gpu false no job asked SLURM for a GPU.
    for job_id, (rule, gres) in jobs.items():
        assert gres == "(null)", (job_id, rule, gres)

    compare_outputs(local / "results/demo", slurm / "results/demo")


def compare_outputs(local: Path, slurm: Path) -> None:
    """Byte-identical, except wall-clock fields (timings.json, `seconds` in training files and
    in the resume checkpoint last.pt, whose tensors and RNG states must still be equal)."""
    files = sorted(
        p.relative_to(local)
        for p in local.rglob("*")
        if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts
    )
    slurm_files = sorted(
        p.relative_to(slurm)
        for p in slurm.rglob("*")
        if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts
    )
    assert files == slurm_files
    samples = [f for f in files if "samples" in f.parts]
    assert len(samples) == 5 * 4  # five samples: density, labels, residues, sample.json
    assert any(f.name == "best.pt" for f in files)
    for name in files:
        a, b = local / name, slurm / name
        if name.name == "timings.json":
            assert json.loads(a.read_text()).keys() == json.loads(b.read_text()).keys()
        elif name.name == "summary.json":
            assert without_timing(json.loads(a.read_text())) == without_timing(
                json.loads(b.read_text())
            ), name
        elif name.name == "history.csv":
            assert history(a) == history(b), name
        elif name.name == "last.pt":  # the resume checkpoint also records elapsed seconds
            assert same(checkpoint(a), checkpoint(b)), name
        else:
            assert sha256(a) == sha256(b), name


def checkpoint(path: Path) -> dict:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    state["history"] = [without_timing(row) for row in state["history"]]
    return without_timing(state)


def same(a: object, b: object) -> bool:
    """Exact equality of nested dicts/lists of tensors, arrays and plain values."""
    import numpy as np
    import torch

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def without_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in TIMING_FIELDS}


def history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [without_timing(row) for row in csv.DictReader(handle)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
