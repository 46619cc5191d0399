"""One labelled sample per (entry, model, central chain), written atomically as a directory:

    <sample_id>/density.mrc   float32 density on the 1 Å box grid (raw values, MRC origin set)
    <sample_id>/labels.mrc    int8 labels: 0 background, 1 helix, 2 sheet
    <sample_id>/residues.tsv  per-residue table of every protein residue whose Cα is in the box
    <sample_id>/sample.json   ids, resolution, origin, voxel size, shape, central box, counts

Both MRC files open in ChimeraX on top of the map and model (same frame).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np

from cryosse.core.atomic import atomic_directory
from cryosse.io.density import write_map

RESIDUE_COLUMNS = [
    "chain",
    "residue_id",
    "residue_name",
    "ca_x",
    "ca_y",
    "ca_z",
    "dssp",
    "class",
    "central_chain",
    "in_central_box",
]


@dataclass
class Sample:
    meta: dict[str, Any]
    density: np.ndarray  # float32 [z, y, x]
    labels: np.ndarray  # uint8 [z, y, x]
    residues: list[dict[str, Any]]


def write_sample(directory: str | Path, sample: Sample) -> None:
    origin = np.array(sample.meta["origin"], dtype=np.float64)
    voxel = float(sample.meta["voxel_size"])
    with atomic_directory(directory) as tmp:
        write_map(tmp / "density.mrc", sample.density.astype(np.float32), origin, voxel)
        write_map(tmp / "labels.mrc", sample.labels.astype(np.int8), origin, voxel)
        with open(tmp / "residues.tsv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=RESIDUE_COLUMNS, delimiter="\t", lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows(sample.residues)
        (tmp / "sample.json").write_text(json.dumps(sample.meta, indent=2) + "\n")


def read_sample(directory: str | Path) -> Sample:
    directory = Path(directory)
    meta = json.loads((directory / "sample.json").read_text())
    with mrcfile.open(directory / "density.mrc", permissive=True) as mrc:
        density = np.array(mrc.data, dtype=np.float32)
    with mrcfile.open(directory / "labels.mrc", permissive=True) as mrc:
        labels = np.array(mrc.data, dtype=np.uint8)
    with open(directory / "residues.tsv", encoding="utf-8", newline="") as handle:
        residues = list(csv.DictReader(handle, delimiter="\t"))
    return Sample(meta=meta, density=density, labels=labels, residues=residues)
