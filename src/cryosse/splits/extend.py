"""More training samples for a finished split, without leakage and without reshuffling.

A data recipe (issue 23: the v1 zoned simulations mixed back into the EMDB-like data) is
tried by adding the samples of another curated run to a finished run's TRAINING set only. The
base run's split stays as it is (its validation and test cases, hence every figure measured on
them, are unchanged), and an extra sample enters only when its structure (PDB id) is in the
base training set and in no other split of it: its homologues are then in training already, so
it leaks nothing into validation or test. Every other extra sample is left out and counted.

The result is a manifest and a main split table in a new folder, with absolute sample paths,
which cryosse.learn.stage.run_training reads as it reads a workflow run's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.tsv import read_tsv, tsv_text

SPLIT_COLUMNS = ["sample_id", "split", "quality_bin", "cluster", "batch"]


@dataclass(frozen=True)
class Extension:
    """What extend_training wrote: samples per split, and the extra samples added or left out."""

    splits: dict[str, int]
    added: int
    left_out: int
    manifest: Path
    main_split: Path


def extend_training(
    base_manifest: str | Path,
    base_split: str | Path,
    extra_manifest: str | Path,
    out_dir: str | Path,
) -> Extension:
    """Write `out_dir`/manifest.tsv and `out_dir`/splits/main.tsv: the base run's samples and
    splits, plus the extra run's samples whose structure only the base training set holds."""
    base_rows, extra_rows = read_tsv(base_manifest), read_tsv(extra_manifest)
    split_of = {row["sample_id"]: row for row in read_tsv(base_split)}
    train_pdb: dict[str, dict[str, str]] = {}
    elsewhere: set[str] = set()
    for row in base_rows:
        split = split_of[row["sample_id"]]
        if split["split"] == "train":
            train_pdb.setdefault(row["pdb_id"].lower(), split)
        else:
            elsewhere.add(row["pdb_id"].lower())
    columns = list(base_rows[0])
    known = {row["sample_id"] for row in base_rows}
    manifest = [_absolute(row, Path(base_manifest).parent) for row in base_rows]
    splits = [split_of[row["sample_id"]] for row in base_rows]
    left_out = 0
    for row in extra_rows:
        pdb = row["pdb_id"].lower()
        if pdb not in train_pdb or pdb in elsewhere or row["sample_id"] in known:
            left_out += 1
            continue
        manifest.append(
            _absolute({c: row.get(c, "") for c in columns}, Path(extra_manifest).parent)
        )
        twin = train_pdb[pdb]  # the base training sample of the same structure: its cluster
        splits.append(
            {
                "sample_id": row["sample_id"],
                "split": "train",
                "quality_bin": row["quality_bin"],
                "cluster": twin["cluster"],
                "batch": twin["batch"],
            }
        )
    out = Path(out_dir)
    manifest_path, split_path = out / "manifest.tsv", out / "splits" / "main.tsv"
    split_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(manifest_path, tsv_text(columns, manifest))
    write_text_atomic(split_path, tsv_text(SPLIT_COLUMNS, splits))
    return Extension(
        dict(Counter(s["split"] for s in splits)),
        len(manifest) - len(base_rows),
        left_out,
        manifest_path,
        split_path,
    )


def _absolute(row: dict[str, str], root: Path) -> dict[str, str]:
    return row | {"path": str((root / row["path"]).resolve())}
