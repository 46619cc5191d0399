"""Curation, as the workflow runs it: one entry's samples, then the run's log and manifest.

Layout of a run (results/<run>/):
    acquired/EMD-XXXX.json         where the entry's files are (or why it is excluded)
    entries/EMD-XXXX/              written atomically as a whole
        curation_log.tsv           this entry's rows
        timings.json               seconds per step
        samples/<sample_id>/       density.mrc, labels.mrc, residues.tsv, sample.json
    curation_log.tsv               every entry, model and chain: kept or excluded, with reason
    manifest.tsv                   one row per sample

Rules `curate_entry` and `gather_dataset` call `run_curate` and `gather`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryosse.acquire.locate import LocatedEntry
from cryosse.core.atomic import atomic_directory
from cryosse.core.reasons import Reason
from cryosse.core.tsv import write_tsv
from cryosse.curate.entry import curate_entry
from cryosse.curate.settings import CurationSettings
from cryosse.io.curation_log import LogRow, read_log, write_log

MANIFEST_COLUMNS = [
    "sample_id",
    "emdb_id",
    "pdb_id",
    "chain",
    "resolution",
    "nx",
    "ny",
    "nz",
    "central_nx",
    "central_ny",
    "central_nz",
    "helix_voxels",
    "sheet_voxels",
    "background_voxels",
    "helix_residues",
    "sheet_residues",
    "background_residues",
    "helix_similarity",
    "n_helices",
    "precision",
    "recall",
    "contour_source",
    "quality_bin",
    "path",
]


def run_curate(located_json: str | Path, settings: dict[str, Any], out_dir: str | Path) -> None:
    located = LocatedEntry.from_dict(json.loads(Path(located_json).read_text()))
    curation = CurationSettings.from_config(settings)
    with atomic_directory(out_dir) as tmp:
        result = curate_entry(located, curation, tmp / "samples")
        (tmp / "samples").mkdir(exist_ok=True)
        write_log(tmp / "curation_log.tsv", result.rows)
        timings = {
            step: round(result.timings.get(step, 0.0), 4)
            for step in ("read", "dssp", "crop", "label", "quality", "write")
        }
        (tmp / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def gather(
    entry_dirs: list[str | Path],
    invalid_ids: list[str],
    log_out: str | Path,
    manifest_out: str | Path,
) -> None:
    """Merge per-entry logs and sample metadata into the run's log and manifest."""
    rows = [
        LogRow(
            repr(raw),
            "",
            "",
            "entry",
            "excluded",
            Reason.INVALID_ID.value,
            f"{raw!r} is not a valid EMDB id (EMD- + 4-7 digits)",
        )
        for raw in invalid_ids
    ]
    manifest_rows: list[dict[str, Any]] = []
    root = Path(manifest_out).parent
    for entry_dir in entry_dirs:
        entry_dir = Path(entry_dir)
        rows += read_log(entry_dir / "curation_log.tsv")
        for meta_path in sorted((entry_dir / "samples").glob("*/sample.json")):
            manifest_rows.append(
                manifest_row(json.loads(meta_path.read_text()), meta_path.parent, root)
            )
    manifest_rows.sort(key=lambda row: row["sample_id"])
    write_log(log_out, rows)
    write_tsv(manifest_out, MANIFEST_COLUMNS, manifest_rows)


def manifest_row(meta: dict[str, Any], sample_dir: Path, root: Path) -> dict[str, Any]:
    start, stop = meta["central_start_xyz"], meta["central_stop_xyz"]
    central = [b - a for a, b in zip(start, stop, strict=True)]
    return {
        "sample_id": meta["sample_id"],
        "emdb_id": meta["emdb_id"],
        "pdb_id": meta["pdb_id"],
        "chain": meta["chain"],
        "resolution": meta["resolution"],
        "nx": meta["shape_xyz"][0],
        "ny": meta["shape_xyz"][1],
        "nz": meta["shape_xyz"][2],
        "central_nx": central[0],
        "central_ny": central[1],
        "central_nz": central[2],
        "helix_voxels": meta["voxels_central"]["helix"],
        "sheet_voxels": meta["voxels_central"]["sheet"],
        "background_voxels": meta["voxels_central"]["background"],
        "helix_residues": meta["residues_central"]["helix"],
        "sheet_residues": meta["residues_central"]["sheet"],
        "background_residues": meta["residues_central"]["background"],
        "helix_similarity": _na(meta["quality"]["helix_similarity"]),
        "n_helices": len(meta["quality"]["helices"]),
        "precision": meta["quality"]["precision"],
        "recall": meta["quality"]["recall"],
        "contour_source": meta["quality"]["contour_source"],
        "quality_bin": meta["quality"]["bin"],
        "path": str(sample_dir.resolve().relative_to(root.resolve())),
    }


def _na(value: object) -> object:
    return "NA" if value is None else value


def summarize_log(path: str | Path) -> str:
    """A short human summary of a curation log (counts per level, status and reason)."""
    counts: dict[tuple[str, str, str], int] = {}
    for row in read_log(path):
        key = (row.level, row.status, row.reason)
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"{level:6s} {status:9s} {reason:24s} {n}"
        for (level, status, reason), n in sorted(counts.items())
    ]
    return "\n".join(lines)
