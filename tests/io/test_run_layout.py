"""The run layout that later stages read (cryosse.io.run_layout): the manifest's columns and
rows, the sample folders of a split or a fold, the chosen runs and their checkpoints."""

from __future__ import annotations

from pathlib import Path

from cryosse.core.tsv import write_tsv
from cryosse.io.run_layout import (
    MANIFEST_COLUMNS,
    checkpoint_of,
    fold_name,
    fold_number,
    fold_roles,
    manifest_row,
    read_best_runs,
    sample_dirs,
    split_roles,
)
from cryosse.io.sample import SampleMeta

META = {
    "sample_id": "EMD-8518_5u8s_A",
    "emdb_id": "EMD-8518",
    "pdb_id": "5u8s",
    "chain": "A",
    "resolution": 6.1,
    "origin": [1.0, 2.0, 3.0],
    "voxel_size": 1.0,
    "shape_xyz": [40, 50, 60],
    "central_start_xyz": [17, 17, 17],
    "central_stop_xyz": [23, 33, 43],
    "padding": 17.0,
    "sequence": "MKV",
    "box_fraction_outside_map": 0.0,
    "voxels_central": {"helix": 10, "sheet": 2, "background": 30},
    "residues_central": {"helix": 5, "sheet": 1, "background": 4},
    "source": {"map": "m.map.gz", "map_sha256": "a", "model": "x.cif", "model_sha256": "b"},
    "quality": {
        "helix_similarity": None,
        "helices": [],
        "precision": 0.7,
        "recall": 0.6,
        "contour": 0.1,
        "contour_source": "author",
        "bin": 2,
    },
    "cryosse_version": "0",
}


def test_manifest_columns_are_the_published_ones() -> None:
    """manifest.tsv's header: what splits, learn, evaluate and report read."""
    published = [
        *("sample_id", "emdb_id", "pdb_id", "chain", "resolution", "nx", "ny", "nz"),
        *("central_nx", "central_ny", "central_nz"),
        *("helix_voxels", "sheet_voxels", "background_voxels"),
        *("helix_residues", "sheet_residues", "background_residues"),
        *("helix_similarity", "n_helices", "precision", "recall", "contour_source"),
        *("quality_bin", "path"),
    ]
    assert published == MANIFEST_COLUMNS


def test_manifest_row_of_a_sample(tmp_path: Path) -> None:
    sample_dir = tmp_path / "entries/EMD-8518/samples/EMD-8518_5u8s_A"
    sample_dir.mkdir(parents=True)
    row = manifest_row(SampleMeta.from_json(META), sample_dir, tmp_path)
    assert list(row) == MANIFEST_COLUMNS
    assert (row["nx"], row["ny"], row["nz"]) == (40, 50, 60)
    assert (row["central_nx"], row["central_ny"], row["central_nz"]) == (6, 16, 26)
    assert (row["helix_voxels"], row["background_residues"]) == (10, 4)
    assert (row["helix_similarity"], row["n_helices"], row["quality_bin"]) == ("NA", 0, 2)
    assert row["path"] == "entries/EMD-8518/samples/EMD-8518_5u8s_A"


def test_sample_dirs_of_a_split_and_a_fold(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.tsv"
    ids = ["c", "a", "b"]
    write_tsv(manifest, ["sample_id", "path"], [{"sample_id": s, "path": f"s/{s}"} for s in ids])
    main = tmp_path / "main.tsv"
    splits = [("a", "test"), ("b", "train"), ("c", "test")]
    write_tsv(main, ["sample_id", "split"], [{"sample_id": s, "split": r} for s, r in splits])
    cv = tmp_path / "cv.tsv"
    folds = [("a", "train", "test"), ("b", "test", "train"), ("c", "validation", "train")]
    write_tsv(
        cv,
        ["sample_id", fold_name(1), fold_name(2)],
        [{"sample_id": s, "fold_1": one, "fold_2": two} for s, one, two in folds],
    )
    assert sample_dirs(manifest, split_roles(main), "test") == [tmp_path / "s/a", tmp_path / "s/c"]
    assert sample_dirs(manifest, fold_roles(cv, 2), "train") == [tmp_path / "s/b", tmp_path / "s/c"]
    assert sample_dirs(manifest, fold_roles(cv, 3), "train") == []  # no such fold
    assert fold_number(fold_name(12)) == 12


def test_chosen_runs_and_their_checkpoints(tmp_path: Path) -> None:
    best_runs = tmp_path / "training/best_runs.tsv"
    best_runs.parent.mkdir()
    write_tsv(best_runs, ["loss", "run_id"], [{"loss": "CE", "run_id": "CE_lr0.001_s0"}])
    chosen = read_best_runs(best_runs)
    assert chosen["CE"]["run_id"] == "CE_lr0.001_s0"
    assert checkpoint_of(tmp_path, "CE_lr0.001_s0") == tmp_path / "training/CE_lr0.001_s0/best.pt"
