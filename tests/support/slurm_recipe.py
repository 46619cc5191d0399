"""The README's SLURM recipe as commands: the demo's loopback archive, a checkout-like folder,
the recipe's lines read from README.md, and Snakemake started in that folder.

Shared by tests/e2e/test_slurm.py and benchmarks/slurm.py (the same run, timed).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from cryosse.acquire.search import SEARCH_FIELDS, SearchQuery
from cryosse.io.header import parse_header
from tests.conftest import DEMO_MIRROR, REPO
from tests.support import slurm_cluster
from tests.support.archive_server import ArchiveServer, start_server, stop_server

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
