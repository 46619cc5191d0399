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
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from cryosse.acquire.search import SEARCH_FIELDS, SearchQuery
from cryosse.io.entries import read_entry_table
from cryosse.io.header import parse_header
from tests.conftest import DEMO_MIRROR, REPO
from tests.support import slurm_cluster
from tests.support.archive_server import ArchiveServer, start_server, stop_server

pytestmark = pytest.mark.slurm

VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = VENV_BIN / "snakemake"
TARGETS = ["results/demo/tables/table1.md", "results/demo/splits/report.md"]
LOSSES = ["CE", "FL_DL"]
DEMO_ENTRIES = ["EMD-3488", "EMD-5168", "EMD-8518", "EMD-6149", "EMD-21457"]
RECIPE_START, RECIPE_END = "<!-- slurm-recipe -->", "<!-- /slurm-recipe -->"
# The recipe's environment (profiles/slurm reads them), with this cluster's values: partition
# `debug` for CPU and GPU jobs, GPU model `fake`, and no account (there is no accounting).
RECIPE_EXPORTS = {
    "CRYOSSE_SLURM_PARTITION": slurm_cluster.PARTITION,
    "CRYOSSE_SLURM_GPU_PARTITION": slurm_cluster.PARTITION,
    "CRYOSSE_SLURM_ACCOUNT": "",
    "CRYOSSE_SLURM_GPU_MODEL": "fake",
}
# The rules that need the internet: local rules, never SLURM jobs.
LOCAL_RULES = {"search_emdb", "acquire_entry"}
# Every Snakemake call is killed if it outlives this: Snakemake's SLURM executor can hang and
# ignores SIGTERM (toolchain notes §3, obstacle 9), so `timeout -k` ends it with SIGKILL.
SNAKEMAKE_LIMIT_S = 900
# What a cluster without slurmdbd needs beside profiles/slurm: squeue (with MinJobAge=600)
# instead of sacct, no account to guess; the first status check 12 s after a submission or a
# finish (default 40 s).
SLURM_ARGS = (
    "--jobs",
    "8",
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "12",
    "--latency-wait",
    "5",
)
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


@pytest.fixture
def archive() -> Iterator[ArchiveServer]:
    with demo_archive() as state:
        yield state


@contextmanager
def demo_archive() -> Iterator[ArchiveServer]:
    """EMDB and the PDB on 127.0.0.1: the demo's files, the wwPDB obsolete list, and a search
    answer (the API's CSV) listing the demo's five entries for the recipe's query."""
    state, httpd = start_server()
    state.serve_mirror(DEMO_MIRROR)
    state.files["/wwpdb/obsolete.dat"] = b" LIST OF OBSOLETE COORDINATE ENTRIES AND SUCCESSORS\n"
    rows = [",".join(SEARCH_FIELDS)]
    for emdb in DEMO_ENTRIES:
        (path,) = (DEMO_MIRROR / "emdb/structures" / emdb / "header").glob("*.xml")
        header = parse_header(path)
        pdbs = ",".join(header.fitted_pdb_ids)
        rows.append(
            f'{emdb},{header.resolution},{header.method},"{pdbs}",'
            f"2020-01-01T00:00:00Z,{header.status}"
        )
    state.publish_search(query_of(demo_config()).to_solr(), "\n".join(rows) + "\n")
    try:
        yield state
    finally:
        stop_server(state, httpd)


def demo_config() -> dict:
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    # The real config's entry source: the list the EMDB search writes, nothing listed by hand.
    demo.update(entries=[], entries_file="config/entries.tsv", search={"enabled": True})
    # gpu: true means CUDA or a one-line failure at job start (issue 24), and torch cannot use
    # this cluster's fake GPUs: the demo trains on CPUs here. That a job asking for a GPU gets
    # one from SLURM is test_gpu_gres_reaches_the_job's. The demo's tiny network needs far less
    # memory than a full-size run.
    demo["training"].update(losses=LOSSES, gpu=False, mem_mb=2000)
    return demo


def query_of(config: dict) -> SearchQuery:
    return SearchQuery.from_config(config["search"], config["resolution"])


def checkout(root: Path, name: str, server: ArchiveServer) -> Path:
    """A folder laid out like the repository for the recipe: config/config.yaml (the demo,
    downloading from `server` into one archive cache shared by every run, as a cluster's shared
    file system would be) and profiles/."""
    config = demo_config()
    config["archive"] = {**server.config(), "cache": str(root / "archive")}
    config["download"] = {"retries": 1, "host_interval": 0.0}
    workdir = root / name
    (workdir / "config").mkdir(parents=True)
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config))
    (workdir / "profiles").symlink_to(REPO / "profiles")
    return workdir


def readme_recipe() -> list[list[str]]:
    """The recipe's command lines in README.md, in order, as words (comments dropped)."""
    text = (REPO / "README.md").read_text()
    assert text.count(RECIPE_START) == 1 and text.count(RECIPE_END) == 1, "recipe markers"
    block = text.split(RECIPE_START)[1].split(RECIPE_END)[0].strip().splitlines()
    assert block[0] == "```bash" and block[-1] == "```", block
    return [words for line in block[1:-1] if (words := shlex.split(line, comments=True))]


def recipe_commands() -> tuple[list[list[str]], list[str]]:
    """(the commands before Snakemake, Snakemake's), every one of the recipe's lines accounted
    for: `make setup` is what `make test-slurm` has just done (its prerequisite); each export
    is one of the variables profiles/slurm reads (RECIPE_EXPORTS gives this cluster's values);
    the rest are the venv's programs, Snakemake last."""
    commands = []
    for words in readme_recipe():
        if words[0] == "make":
            assert words == ["make", "setup"], words
        elif words[0] == "export":
            assert len(words) == 2 and words[1].split("=")[0] in RECIPE_EXPORTS, words
        else:
            assert words[0].startswith(".venv/bin/"), words
            commands.append([str(VENV_BIN / words[0].removeprefix(".venv/bin/")), *words[1:]])
    *before, snakemake_command = commands
    assert snakemake_command[0] == str(SNAKEMAKE), snakemake_command
    assert "--profile" in snakemake_command, snakemake_command
    return before, snakemake_command


def slurm_env() -> dict[str, str]:
    return {**os.environ, **RECIPE_EXPORTS}


def run_step(command: list[str], workdir: Path) -> None:
    done = subprocess.run(
        command, cwd=workdir, env=slurm_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])


def start(
    command: list[str],
    workdir: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    targets: list[str] = TARGETS,
) -> subprocess.Popen:
    """Snakemake in `workdir` (a checkout: -s names the repository's Snakefile)."""
    limit = ["timeout", "-k", "20", str(SNAKEMAKE_LIMIT_S)]
    command = [*limit, *command, "-s", str(REPO / "Snakefile"), *extra, *targets]
    with open(workdir / "snakemake.log", "w") as log:
        return subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env)


def finished(proc: subprocess.Popen, workdir: Path) -> str:
    rc = proc.wait(timeout=SNAKEMAKE_LIMIT_S + 60)
    log = (workdir / "snakemake.log").read_text()
    assert rc not in (124, 137, -9), f"Snakemake in {workdir} timed out:\n{log[-4000:]}"
    assert rc == 0, f"Snakemake in {workdir} failed ({rc}):\n{log[-4000:]}"
    return log


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


def slurm_jobs() -> dict[str, tuple[str, str]]:
    """Every job slurmctld still remembers (MinJobAge=600): id -> (rule, allocated GRES)."""
    shown = subprocess.run(
        ["scontrol", "show", "job", "-d"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
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
