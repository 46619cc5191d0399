"""`cryosse estimate`: a run's entries, download, disk, CPU-hours and GPU-hours from the config,
run as the user runs it (a subprocess in a project folder of its own)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cryosse.core.tsv import tsv_text
from tests.conftest import REPO
from tests.support.cli import cryosse


def project(tmp_path: Path, entries: list[dict[str, str]] | None) -> Path:
    """config/config.yaml of the repository, with (or without) an entry list beside it."""
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    if entries is not None:
        columns = ["emdb_id", "fitted_pdbs", "map_size_kbytes"]
        (tmp_path / "config/entries.tsv").write_text(tsv_text(columns, entries))
    return tmp_path


def test_before_the_search_the_real_config_plans_the_papers_data_set(tmp_path: Path) -> None:
    done = cryosse("estimate", "--config", "config/config.yaml", cwd=project(tmp_path, None))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "config/entries.tsv does not exist yet" in out
    assert "samples: 1,355 (1,246 train / 47 validation / 62 test" in out
    assert "58 training runs" in out and "GPU-hours" in out and "CPU-hours" in out
    assert "quoted from the project brief, not measured by this project" in out


def test_the_entry_list_gives_the_count_download_and_disk(tmp_path: Path) -> None:
    rows = [
        {"emdb_id": "EMD-25107", "fitted_pdbs": "7sbd", "map_size_kbytes": "42593"},
        {"emdb_id": "EMD-8518", "fitted_pdbs": "5u8s,5u8t", "map_size_kbytes": "1000"},
    ]
    done = cryosse("estimate", "--config", "config/config.yaml", cwd=project(tmp_path, rows))
    assert done.returncode == 0, done.stderr
    assert "the entry list config/entries.tsv" in done.stdout
    assert "estimate for 2 entries:" in done.stdout
    assert "at most 0.04 GB of maps (gzipped on the wire) + 3 fitted models" in done.stdout
    assert "samples: 2 (" in done.stdout  # 0.95 per entry


def test_a_planned_count_and_a_measured_gpu_step(tmp_path: Path) -> None:
    folder = project(tmp_path, None)
    planned = ["--entries", "2000", "--map-mb", "100"]
    gpu = ["--step-ms", "20", "--step-size", "64", "--gpu-name", "my A100"]
    done = cryosse("estimate", "--config", "config/config.yaml", *planned, *gpu, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "estimate for 2000 entries:" in done.stdout and "200.00 GB of maps" in done.stdout
    assert "my A100:" in done.stdout and "given with --step-ms" in done.stdout
    alone = cryosse("estimate", "--config", "config/config.yaml", "--map-mb", "9", cwd=folder)
    assert alone.returncode == 1 and "--map-mb goes with --entries N" in alone.stderr
    negative = cryosse("estimate", "--entries", "-5", cwd=folder)
    assert negative.returncode == 1 and "must be a positive number" in negative.stderr
