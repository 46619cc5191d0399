"""The layout of a workflow run that later stages read: the manifest of samples, the split
tables' roles, the chosen run of each loss, its checkpoint, and the cross-validation folders.

    results/<run>/
        manifest.tsv                      one row per sample (ManifestRow), paths relative to it
        splits/main.tsv, splits/cv.tsv    each sample's split; its role in each fold_N column
        training/<run_id>/best.pt         a run's checkpoint
        training/best_runs.tsv            the run chosen for each loss
        cross_validation/fold_N/<loss>/   a fold's retraining and its test cases

The rules write these paths; the stages that read them take them from here rather than from
another stage's `stage.py`, so that a stage depends on the data it is handed, not on the code
of the stage that wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cryosse.core.tsv import read_tsv
from cryosse.io.sample import SampleMeta

TRAINING = "training"
CHECKPOINT = "best.pt"
FOLD_PREFIX = "fold_"


@dataclass(frozen=True)
class ManifestRow:
    """One sample of manifest.tsv; the field order is the column order."""

    sample_id: str
    emdb_id: str
    pdb_id: str
    chain: str
    resolution: float | None
    nx: int
    ny: int
    nz: int
    central_nx: int
    central_ny: int
    central_nz: int
    helix_voxels: int
    sheet_voxels: int
    background_voxels: int
    helix_residues: int
    sheet_residues: int
    background_residues: int
    helix_similarity: float | str  # "NA" without a helix
    n_helices: int
    precision: float
    recall: float
    contour_source: str
    quality_bin: int
    path: str  # the sample folder, relative to the manifest's folder

    @classmethod
    def of(cls, meta: SampleMeta, path: str) -> ManifestRow:
        nx, ny, nz = meta.shape_xyz
        central_nx, central_ny, central_nz = (
            b - a for a, b in zip(meta.central_start_xyz, meta.central_stop_xyz, strict=True)
        )
        voxels, residues, quality = meta.voxels_central, meta.residues_central, meta.quality
        return cls(
            sample_id=meta.sample_id,
            emdb_id=meta.emdb_id,
            pdb_id=meta.pdb_id,
            chain=meta.chain,
            resolution=meta.resolution,
            nx=nx,
            ny=ny,
            nz=nz,
            central_nx=central_nx,
            central_ny=central_ny,
            central_nz=central_nz,
            helix_voxels=voxels.helix,
            sheet_voxels=voxels.sheet,
            background_voxels=voxels.background,
            helix_residues=residues.helix,
            sheet_residues=residues.sheet,
            background_residues=residues.background,
            helix_similarity="NA" if quality.helix_similarity is None else quality.helix_similarity,
            n_helices=len(quality.helices),
            precision=quality.precision,
            recall=quality.recall,
            contour_source=quality.contour_source,
            quality_bin=quality.bin,
            path=path,
        )


MANIFEST_COLUMNS = [field.name for field in fields(ManifestRow)]


def manifest_row(meta: SampleMeta, sample_dir: Path, root: Path) -> dict[str, Any]:
    """The manifest row of the sample in `sample_dir`, for a manifest in `root`."""
    path = str(sample_dir.resolve().relative_to(root.resolve()))
    return asdict(ManifestRow.of(meta, path))


def split_roles(main_tsv: str | Path) -> dict[str, str]:
    """Each sample's split (train / validation / test) in the main split table."""
    return {row["sample_id"]: row["split"] for row in read_tsv(main_tsv)}


def fold_name(fold: int) -> str:
    """The column of cv.tsv and the folder of cross_validation/ of fold `fold` (from 1)."""
    return f"{FOLD_PREFIX}{fold}"


def fold_number(name: str) -> int:
    """The fold of a `fold_name`."""
    return int(name.removeprefix(FOLD_PREFIX))


def fold_roles(cv_tsv: str | Path, fold: int) -> dict[str, str]:
    """Each sample's role (train / validation / test) in fold `fold` of the CV table."""
    column = fold_name(fold)
    return {row["sample_id"]: row[column] for row in read_tsv(cv_tsv) if column in row}


def sample_dirs(manifest: str | Path, roles: Mapping[str, str], role: str) -> list[Path]:
    """The folders of the manifest's samples that have `role` in `roles` (split_roles or
    fold_roles), in sample-id order."""
    root = Path(manifest).parent
    return [
        root / row["path"]
        for row in sorted(read_tsv(manifest), key=lambda r: r["sample_id"])
        if roles.get(row["sample_id"]) == role
    ]


def read_best_runs(path: str | Path) -> dict[str, dict[str, str]]:
    """training/best_runs.tsv by loss."""
    return {row["loss"]: row for row in read_tsv(path)}


def checkpoint_of(results: str | Path, run_id: str) -> Path:
    """The checkpoint of a training run of the workflow run in `results`."""
    return Path(results) / TRAINING / run_id / CHECKPOINT
