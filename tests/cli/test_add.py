"""`cryosse add` on the demo config (README journey 3), what it says about the splits,
`cryosse splits`, and the faults of issue 26: a folder as the list, 16 concurrent adds, a full
disk. Every command runs as the user runs it, in a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from cryosse.core.tsv import tsv_text
from cryosse.io.entries import read_entry_table
from tests.conftest import DEMO_MIRROR, REPO
from tests.support.cli import cryosse
from tests.support.full_disk import fill, needs_root, small_tmpfs

LEDGER_COLUMNS = ["sample_id", "split", "quality_bin", "cluster", "batch"]


def demo_project(tmp_path: Path) -> Path:
    """The demo's config and entry list in a project folder of their own."""
    (tmp_path / "config").mkdir()
    (tmp_path / "demo").mkdir()
    shutil.copy(REPO / "config/demo.yaml", tmp_path / "config/demo.yaml")
    shutil.copy(REPO / "demo/entries.tsv", tmp_path / "demo/entries.tsv")
    return tmp_path


def one_line(result: subprocess.CompletedProcess, command: str, code: int = 1) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"cryosse {command}: ")
    return line


def test_the_demo_config_has_an_entry_list_and_an_entry_to_add() -> None:
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    listed = [r.emdb_id for r in read_entry_table(REPO / config["entries_file"])]
    assert listed == config["entries"]  # the same five, as the list `add` appends to
    manifest = (DEMO_MIRROR / "MANIFEST.tsv").read_text()
    assert "EMD-3491" not in listed and "emd_3491.map.gz" in manifest and "5mdx" in manifest


def test_add_on_the_demo_config_appends_and_says_what_happens_to_the_splits(
    tmp_path: Path,
) -> None:
    project = demo_project(tmp_path)
    before = (project / "demo/entries.tsv").read_bytes()
    result = cryosse("add", "EMD-3491", "--config", "config/demo.yaml", cwd=project)
    assert result.returncode == 0, result.stderr
    after = (project / "demo/entries.tsv").read_bytes()
    assert after.startswith(before) and after[len(before) :].startswith(b"EMD-3491\t")
    assert "added 1 to demo/entries.tsv: EMD-3491" in result.stdout
    assert "no ledger yet (results/demo/splits/ledger.tsv)" in result.stdout
    assert "snakemake dataset --cores 2 --configfile config/demo.yaml" in result.stdout
    assert "cryosse splits --config config/demo.yaml" in result.stdout
    assert "folds (splits/cv.tsv) are recomputed" in result.stdout
    # with a ledger (a run before the addition): its samples are counted as staying put
    ledger = project / "results/demo/splits/ledger.tsv"
    ledger.parent.mkdir(parents=True)
    rows = [
        {"sample_id": "EMD-8518_5u8s_A", "split": "test", "quality_bin": "1"},
        {"sample_id": "EMD-6149_3j8g_X", "split": "train", "quality_bin": "1"},
    ]
    ledger.write_text(tsv_text(LEDGER_COLUMNS, [r | {"cluster": "c", "batch": "1"} for r in rows]))
    again = cryosse("add", "EMD-1657", "--config", "config/demo.yaml", cwd=project)
    assert "the 2 samples already in results/demo/splits/ledger.tsv (batch 1) keep" in again.stdout
    repeat = cryosse("add", "EMD-3491", "--config", "config/demo.yaml", cwd=project)
    assert repeat.returncode == 0 and "already listed: EMD-3491" in repeat.stdout
    assert "splits:" not in repeat.stdout  # nothing added, nothing to say about splits


def test_the_refusal_says_what_is_missing(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    config = yaml.safe_load((project / "config/demo.yaml").read_text())
    config["entries_file"] = None
    (project / "config/listless.yaml").write_text(yaml.safe_dump(config))
    line = one_line(
        cryosse("add", "EMD-3491", "--config", "config/listless.yaml", cwd=project), "add"
    )
    assert "config/listless.yaml has no entries_file" in line and "--entries FILE" in line
    line = one_line(cryosse("add", "EMD-3491", cwd=project), "add")
    assert "no --config, and this folder has no config/config.yaml" in line


def test_a_folder_as_the_entry_list_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    line = one_line(cryosse("add", "EMD-3491", "--entries", "lists", cwd=tmp_path), "add")
    assert "lists is a folder" in line
    line = one_line(
        cryosse("add", "EMD-3491", "--entries", "no/such/list.tsv", cwd=tmp_path), "add"
    )
    assert "no/such does not exist" in line


def test_sixteen_concurrent_adds_keep_every_row(tmp_path: Path) -> None:
    """Issue 26: 16 background adds of distinct ids lost 6-8 rows; the list is locked now."""
    entries = tmp_path / "list.tsv"
    entries.write_text("emdb_id\tsource\nEMD-1000\tmanual\n")
    ids = [f"EMD-100{n:02d}" for n in range(16)]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "cryosse.cli", "add", emdb, "--entries", str(entries)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for emdb in ids
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read() if run.stderr else ""
    listed = [r.emdb_id for r in read_entry_table(entries)]
    assert listed[0] == "EMD-1000" and sorted(listed[1:]) == ids


def test_splits_lists_the_latest_batch_and_catches_a_moved_sample(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    splits = project / "results/demo/splits"
    splits.mkdir(parents=True)
    ledger = [
        {"sample_id": "EMD-8518_5u8s_A", "split": "test", "batch": "1"},
        {"sample_id": "EMD-6149_3j8g_X", "split": "train", "batch": "1"},
        {"sample_id": "EMD-3491_5mdx_L", "split": "validation", "batch": "2"},
    ]
    full = [r | {"quality_bin": "1", "cluster": r["sample_id"]} for r in ledger]
    (splits / "ledger.tsv").write_text(tsv_text(LEDGER_COLUMNS, full))
    main = [{"sample_id": r["sample_id"], "split": r["split"]} for r in ledger]
    (splits / "main.tsv").write_text(tsv_text(["sample_id", "split"], main))
    result = cryosse("splits", "--config", "config/demo.yaml", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "batch 2: 1 sample(s) joined" in result.stdout
    assert "EMD-3491_5mdx_L\tvalidation" in result.stdout
    assert (
        "2 of 2 in results/demo/splits/main.tsv" in result.stdout and "none moved" in result.stdout
    )
    assert "recomputed" in result.stdout
    first = cryosse("splits", "--config", "config/demo.yaml", "--batch", "1", cwd=project)
    assert "batch 1: 2 sample(s)" in first.stdout
    main[1]["split"] = "test"  # a sample that moved: said, and exit 3 (not the user's input)
    (splits / "main.tsv").write_text(tsv_text(["sample_id", "split"], main))
    moved = cryosse("splits", "--config", "config/demo.yaml", cwd=project)
    assert moved.returncode == 3 and "MOVED: EMD-6149_3j8g_X" in moved.stderr
    shutil.rmtree(splits)
    line = one_line(cryosse("splits", "--config", "config/demo.yaml", cwd=project), "splits")
    assert "run the workflow first" in line


@needs_root
def test_a_full_disk_during_add_is_one_line_exit_2_and_the_list_unchanged(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        entries = disk / "list.tsv"
        entries.write_text("emdb_id\nEMD-1000\n")
        fill(disk)
        result = cryosse("add", "EMD-3491", "--entries", str(entries), cwd=tmp_path)
        line = one_line(result, "add", code=2)
        assert "No space left on device" in line and str(disk) in line
        assert entries.read_text() == "emdb_id\nEMD-1000\n"
