"""The demo pipeline through a real one-node SLURM cluster, with profiles/slurm.

Opt-in: `pytest -m slurm` (plain `pytest` deselects it; `make test-slurm`, run by .ci/run,
installs slurm-wlm and munge and runs it). The cluster (tests/slurm_cluster.py) has 8 CPUs
declared on however many cores the machine has, so that independent small jobs run side by side
while Snakemake waits between status checks, and 2 fake GPUs (GRES gpu:fake backed by /dev/null
and /dev/zero).

Reduced demo, to keep CI under 5 minutes: the demo's five entries and two of its losses (CE,
FL_DL, as tests/test_pipeline.py), up to Table 1 and the split report; cross-validation and the
HTML report (the same kinds of jobs) are left out. The same config runs locally at the same
time; the local run uses the idle CPU while the SLURM run waits between status checks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import slurm_cluster
from tests.conftest import DEMO_MIRROR, REPO

pytestmark = pytest.mark.slurm

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TARGETS = ["results/demo/tables/table1.md", "results/demo/splits/report.md"]
LOSSES = ["CE", "FL_DL"]
# Every Snakemake call is killed if it outlives this: Snakemake's SLURM executor can hang and
# ignores SIGTERM (toolchain notes §3, obstacle 9), so `timeout -k` ends it with SIGKILL.
SNAKEMAKE_LIMIT_S = 900
# profiles/slurm as a user runs it (partition and GPU model from the environment), plus what a
# cluster without slurmdbd needs: squeue (with MinJobAge=600) instead of sacct, no account to
# guess; the first status check 12 s after a submission or a finish (default 40 s).
SLURM_ARGS = ("--profile", str(REPO / "profiles/slurm"), "--jobs", "8",
              "--slurm-status-command", "squeue", "--slurm-no-account",
              "--slurm-init-seconds-before-status-checks", "12", "--latency-wait", "5")  # fmt: skip
LOCAL_ARGS = ("--cores", "2")
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


def slurm_env() -> dict[str, str]:
    return {**os.environ, "CRYOSSE_SLURM_PARTITION": slurm_cluster.PARTITION,
            "CRYOSSE_SLURM_GPU_MODEL": "fake"}  # fmt: skip


def snakemake(workdir: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    command = ["timeout", "-k", "20", str(SNAKEMAKE_LIMIT_S), str(SNAKEMAKE),
               "-s", str(REPO / "Snakefile"), "-d", str(workdir),
               "--configfile", str(workdir / "config.yaml"), *extra, *TARGETS]  # fmt: skip
    with open(workdir / "snakemake.log", "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def finished(proc: subprocess.Popen, workdir: Path) -> None:
    rc = proc.wait(timeout=SNAKEMAKE_LIMIT_S + 60)
    tail = (workdir / "snakemake.log").read_text()[-4000:]
    assert rc not in (124, 137, -9), f"Snakemake in {workdir} timed out:\n{tail}"
    assert rc == 0, f"Snakemake in {workdir} failed ({rc}):\n{tail}"


def workdir_with_config(root: Path, name: str) -> Path:
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    demo["archive"]["mirror"] = str(DEMO_MIRROR)
    # The training and evaluation rules request a GPU (resources gpu=1); the demo's tiny
    # network needs far less memory than a full-size run.
    demo["training"].update(losses=LOSSES, gpu=True, mem_mb=2000)
    workdir = root / name
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(demo))
    return workdir


def test_gpu_gres_reaches_the_job(cluster: slurm_cluster.Cluster) -> None:
    """What a training job asks for (--gpus=fake:1) gives it a device in CUDA_VISIBLE_DEVICES;
    a job without the request sees none."""
    command = ["srun", "--gpus=fake:1", "-c", "1", "--mem", "100", "printenv",
               "CUDA_VISIBLE_DEVICES"]  # fmt: skip
    with_gpu = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert with_gpu.returncode == 0 and with_gpu.stdout.strip() in {"0", "1"}, with_gpu
    without = subprocess.run(command[:1] + command[2:], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert without.stdout.strip() == "", without


def test_demo_through_slurm_matches_local_run(cluster: slurm_cluster.Cluster,
                                              tmp_path: Path) -> None:  # fmt: skip
    local = workdir_with_config(tmp_path, "local")
    slurm = workdir_with_config(tmp_path, "slurm")
    on_slurm = snakemake(slurm, *SLURM_ARGS, env=slurm_env())
    on_workstation = snakemake(local, *LOCAL_ARGS)
    finished(on_workstation, local)
    finished(on_slurm, slurm)

    jobs = slurm_jobs()
    rules = {rule for rule, _ in jobs.values()}
    assert {"acquire_entry", "curate_entry", "train_model", "evaluate_loss"} <= rules, rules
    # Every training/evaluation job got a GPU from SLURM, and no other job did.
    for job_id, (rule, gres) in jobs.items():
        if rule in ("train_model", "evaluate_loss"):
            assert gres == "gpu:fake:1", (job_id, rule, gres)
        else:
            assert gres == "(null)", (job_id, rule, gres)

    compare_outputs(local / "results/demo", slurm / "results/demo")


def slurm_jobs() -> dict[str, tuple[str, str]]:
    """Every job slurmctld still remembers (MinJobAge=600): id -> (rule, allocated GRES)."""
    shown = subprocess.run(["scontrol", "show", "job", "-d"], capture_output=True, text=True,
                           timeout=30, check=True).stdout  # fmt: skip
    jobs = {}
    for block in shown.split("\n\n"):
        job_id = re.search(r"JobId=(\d+)", block)
        comment = re.search(r"Comment=rule_(\w+?)(?:_wildcards_\S*)?\s", block)
        gres = re.search(r"JOB_GRES=(\S+)", block)
        state = re.search(r"JobState=(\w+)", block)
        if job_id and comment and gres and state:
            assert state.group(1) == "COMPLETED", block
            jobs[job_id.group(1)] = (comment.group(1), gres.group(1))
    return jobs


def compare_outputs(local: Path, slurm: Path) -> None:
    """Byte-identical, except wall-clock fields (timings.json, `seconds` in training files and
    in the resume checkpoint last.pt, whose tensors and RNG states must still be equal)."""
    files = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file()
                   and "logs" not in p.parts and "benchmarks" not in p.parts)  # fmt: skip
    slurm_files = sorted(p.relative_to(slurm) for p in slurm.rglob("*") if p.is_file()
                         and "logs" not in p.parts and "benchmarks" not in p.parts)  # fmt: skip
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
                json.loads(b.read_text())), name  # fmt: skip
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
