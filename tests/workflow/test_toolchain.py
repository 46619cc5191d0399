"""The external programs (mkdssp, mmseqs) are checked before any work: a missing or too old one
is named in one line with the command that installs it, by check_toolchain and by the workflow.

A machine without a tool is this machine with that tool taken off PATH: a folder of links to
every other program on PATH. A wrong version is a small script of that name put first on PATH
(the input being tested: what `mkdssp --version` prints)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cryosse.workflow.toolchain import ToolchainError, check_toolchain
from tests.conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
APT_AND_CONDA = "`apt-get install {0}` or `conda install -c conda-forge -c bioconda {0}`"


def path_without(folder: Path, *removed: str) -> str:
    """A PATH with every program of the current PATH except `removed`."""
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name in removed or link.is_symlink() or entry.is_dir():
                continue
            if os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    assert not any(shutil.which(name, path=str(folder)) for name in removed)
    return str(folder)


def fake_program(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


def raised(monkeypatch: pytest.MonkeyPatch, path: str, *tools: str) -> str:
    monkeypatch.setenv("PATH", path)
    with pytest.raises(ToolchainError) as caught:
        check_toolchain(*([tools] if tools else []))
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_the_installed_toolchain_passes() -> None:
    """This machine has what the pipeline runs (make tools): mkdssp 4.2 and mmseqs2."""
    check_toolchain()
    check_toolchain(["mkdssp"])
    check_toolchain([])


def test_missing_mkdssp_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = path_without(tmp_path / "bin", "mkdssp")
    message = raised(monkeypatch, path)
    assert message == (
        "cryosse needs mkdssp (DSSP 4.x): not found on PATH. Install it with "
        + APT_AND_CONDA.format("dssp")
    )
    check_toolchain(["mmseqs"])  # the same PATH still has mmseqs


def test_both_missing_are_named_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    message = raised(monkeypatch, path_without(tmp_path / "bin", "mkdssp", "mmseqs"))
    assert message == (
        "cryosse needs mkdssp (DSSP 4.x): not found on PATH; mmseqs (MMseqs2): not found on "
        "PATH. Install them with " + APT_AND_CONDA.format("dssp mmseqs2")
    )


@pytest.mark.parametrize("printed", ["mkdssp version 3.0.10", "mkdssp version 2.2.1"])
def test_mkdssp_older_than_4_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, printed: str
) -> None:
    fake = fake_program(tmp_path / "old", "mkdssp", f"echo '{printed}'")
    message = raised(monkeypatch, f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    version = printed.split()[-1]
    assert message == (
        f"cryosse needs mkdssp (DSSP 4.x): {fake} is version {version}, 4.x is needed. "
        "Install it with " + APT_AND_CONDA.format("dssp")
    )


def test_mkdssp_4_of_any_minor_version_passes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_program(tmp_path / "new", "mkdssp", "echo 'mkdssp version 4.5.3'")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    check_toolchain()


def test_mkdssp_without_a_version_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_program(tmp_path / "mute", "mkdssp", "exit 1")
    message = raised(monkeypatch, f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "mkdssp")
    assert f"mkdssp (DSSP 4.x): {fake} printed no version for `mkdssp --version`" in message


def test_mmseqs_that_does_not_run_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_program(tmp_path / "broken", "mmseqs", "echo 'illegal instruction' >&2; exit 132")
    message = raised(monkeypatch, f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert message == (
        f"cryosse needs mmseqs (MMseqs2): {fake} does not run (`mmseqs version` failed or "
        "printed nothing). Install it with " + APT_AND_CONDA.format("mmseqs2")
    )


def test_unknown_tool_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown tool 'dssp'"):
        check_toolchain(["dssp"])


@pytest.mark.slow  # a Snakemake run
def test_workflow_stops_before_its_first_job_without_mkdssp(tmp_path: Path) -> None:
    """The real Snakemake on the demo config, all targets, on a machine without mkdssp: it
    exits non-zero before any job, and the last line is the one-line fix."""
    path = path_without(tmp_path / "bin", "mkdssp")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "demo").symlink_to(REPO / "demo")  # the config's entries_file, demo/entries.tsv
    config = REPO / "config/demo.yaml"
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    command += ["--configfile", str(config), "--cores", "1"]
    env = {**os.environ, "PATH": path}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "cryosse needs mkdssp (DSSP 4.x): not found on PATH. Install it with "
        + APT_AND_CONDA.format("dssp")
    ), done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "Error" not in done.stderr  # no Snakemake error report around the line either
    assert not (workdir / "results").exists()  # no job ran (no wall-clock assertion: flaky)


def test_cli_commands_that_run_mkdssp_stop_first_without_it(tmp_path: Path) -> None:
    """`cryosse curate` without mkdssp used to exit 0 with every entry dssp_failed: now it
    stops before any entry, in one line; `cryosse evaluate` too."""
    env = {**os.environ, "PATH": path_without(tmp_path / "bin", "mkdssp")}
    cryosse = [sys.executable, "-m", "cryosse.cli"]
    out = tmp_path / "out"
    curate = [*cryosse, "curate", "EMD-8518", "--mirror", str(REPO / "demo/mirror")]
    evaluate = [*cryosse, "evaluate", "--pred-helix", "h.mrc", "--pred-sheet", "s.mrc"]
    evaluate += ["--map", "m.mrc", "--structure", "c.cif"]
    for command, name in (([*curate, "--out", str(out)], "curate"), (evaluate, "evaluate")):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.splitlines() == [
            f"cryosse {name}: cryosse needs mkdssp (DSSP 4.x): not found on PATH. Install it "
            "with " + APT_AND_CONDA.format("dssp")
        ]
    assert not out.exists()
