"""One labelled sample per (entry, model, central chain), written atomically as a directory:

    <sample_id>/density.mrc   float32 density on the 1 Å box grid (raw values, MRC origin set)
    <sample_id>/labels.mrc    int8 labels: 0 background, 1 helix, 2 sheet
    <sample_id>/residues.tsv  per-residue table of every protein residue whose Cα is in the box
    <sample_id>/sample.json   ids, resolution, origin, voxel size, shape, central box, counts

Both MRC files open in ChimeraX on top of the map and model (same frame).

sample.json is the hand-off from curation to every later stage, so it has one typed form,
`SampleMeta`: curation builds one, `to_json` writes it (the field order is the file's key order),
and every reader gets attributes that mypy checks instead of string keys.

`read_sample` checks the files against sample.json before anyone uses them (SampleError, one
line naming the file): a truncated density, labels outside the three classes, or a density and
labels of another shape than the sample's would otherwise surface as an IndexError without a
file name, a RuntimeError deep in the loss, or, worst, train with exit status 0.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np

from cryosse.core.atomic import atomic_directory
from cryosse.core.classes import CLASS_NAMES
from cryosse.core.reasons import DataError, is_environment_fault
from cryosse.io.density import write_map
from cryosse.io.map_plan import plan_map

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

XYZ = tuple[int, int, int]


@dataclass(frozen=True)
class ClassCounts:
    """Voxels or residues of each class in the central box."""

    helix: int
    sheet: int
    background: int


@dataclass(frozen=True)
class SampleSource:
    """The map and model files a sample was cut from, by name and sha256."""

    map: str
    map_sha256: str | None
    model: str
    model_sha256: str | None


@dataclass(frozen=True)
class SampleHelix:
    """One scored helix of the central chain."""

    first_residue: str  # residue id (number and insertion code) of its first residue
    n_residues: int
    f1: float  # the helix's voxel F1 in its cylinder (cryosse.curate.quality)


@dataclass(frozen=True)
class SampleQuality:
    """The chain's quality scores at the contour, and the bin they give (1-3 kept)."""

    helix_similarity: float | None
    helices: tuple[SampleHelix, ...]
    precision: float
    recall: float
    contour: float
    contour_source: str
    bin: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleQuality:
        helices = tuple(SampleHelix(**helix) for helix in data["helices"])
        return cls(**{**data, "helices": helices})


@dataclass(frozen=True)
class SampleMeta:
    """sample.json. The field order is the file's key order (`to_json`)."""

    sample_id: str
    emdb_id: str
    pdb_id: str
    chain: str
    resolution: float | None
    origin: tuple[float, float, float]  # xyz Å of voxel [0, 0, 0]
    voxel_size: float
    shape_xyz: XYZ
    central_start_xyz: XYZ  # xyz index of the first central voxel
    central_stop_xyz: XYZ  # xyz index one past the last central voxel
    padding: float
    # the modelled residues of the central chain, for sequence clustering of the splits
    sequence: str
    box_fraction_outside_map: float
    voxels_central: ClassCounts
    residues_central: ClassCounts
    source: SampleSource
    quality: SampleQuality
    cryosse_version: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleMeta:
        """The metadata of a parsed sample.json (KeyError or TypeError if it is not one)."""
        return cls(
            **{
                **data,
                "origin": tuple(data["origin"]),
                "shape_xyz": tuple(data["shape_xyz"]),
                "central_start_xyz": tuple(data["central_start_xyz"]),
                "central_stop_xyz": tuple(data["central_stop_xyz"]),
                "voxels_central": ClassCounts(**data["voxels_central"]),
                "residues_central": ClassCounts(**data["residues_central"]),
                "source": SampleSource(**data["source"]),
                "quality": SampleQuality.from_json(data["quality"]),
            }
        )

    @classmethod
    def read(cls, sample_dir: str | Path) -> SampleMeta:
        """The sample.json of a sample folder, without its maps (see read_sample for checks)."""
        return cls.from_json(json.loads((Path(sample_dir) / "sample.json").read_text()))

    def to_json(self) -> str:
        """The text of sample.json."""
        return json.dumps(asdict(self), indent=2) + "\n"

    def central_mask(self, shape_zyx: tuple[int, ...]) -> np.ndarray:
        """Boolean [z, y, x] mask of the central (unpadded) box on a grid of `shape_zyx`."""
        mask = np.zeros(shape_zyx, dtype=bool)
        (x0, y0, z0), (x1, y1, z1) = self.central_start_xyz, self.central_stop_xyz
        mask[z0:z1, y0:y1, x0:x1] = True
        return mask


@dataclass
class Sample:
    meta: SampleMeta
    density: np.ndarray  # float32 [z, y, x]
    labels: np.ndarray  # uint8 [z, y, x]
    residues: list[dict[str, Any]]


def write_sample(directory: str | Path, sample: Sample) -> None:
    origin = np.array(sample.meta.origin, dtype=np.float64)
    voxel = float(sample.meta.voxel_size)
    with atomic_directory(directory) as tmp:
        write_map(tmp / "density.mrc", sample.density.astype(np.float32), origin, voxel)
        write_map(tmp / "labels.mrc", sample.labels.astype(np.int8), origin, voxel)
        with open(tmp / "residues.tsv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=RESIDUE_COLUMNS, delimiter="\t", lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows(sample.residues)
        (tmp / "sample.json").write_text(sample.meta.to_json())


class SampleError(ValueError):
    """A sample folder whose files are broken or do not match its sample.json."""


def read_sample(directory: str | Path) -> Sample:
    """A sample, checked against its sample.json (SampleError otherwise)."""
    directory = Path(directory)
    raw = _read_meta(directory)
    shape_zyx = _expected_shape(directory, raw)
    try:
        meta = SampleMeta.from_json(raw)
    except (KeyError, TypeError) as exc:
        raise _error(directory / "sample.json", f"not a sample's metadata ({exc})") from None
    density = _read_grid(directory / "density.mrc", shape_zyx).astype(np.float32, copy=False)
    n_bad = int(np.count_nonzero(~np.isfinite(density)))
    if n_bad:
        raise _error(directory / "density.mrc", f"{n_bad} voxels are NaN or infinite")
    raw_labels = _read_grid(directory / "labels.mrc", shape_zyx)
    low, high = int(raw_labels.min()), int(raw_labels.max())
    if low < 0 or high >= len(CLASS_NAMES):
        bad = sorted({int(v) for v in np.unique(raw_labels) if not 0 <= v < len(CLASS_NAMES)})
        classes = ", ".join(f"{k} ({name})" for k, name in CLASS_NAMES.items())
        raise _error(directory / "labels.mrc", f"values {bad[:5]} outside the classes {classes}")
    labels = raw_labels.astype(np.uint8)
    with open(directory / "residues.tsv", encoding="utf-8", newline="") as handle:
        residues = list(csv.DictReader(handle, delimiter="\t"))
    return Sample(meta=meta, density=density, labels=labels, residues=residues)


def _error(path: Path, why: str) -> SampleError:
    return SampleError(f"sample {path.parent.name}: {path.name}: {why}")


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / "sample.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _error(path, "missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _error(path, "not a JSON object")
    return meta


def _expected_shape(directory: Path, meta: dict[str, Any]) -> tuple[int, int, int]:
    """The [z, y, x] shape sample.json gives, its central box checked to lie inside it."""
    path = directory / "sample.json"
    shape = meta.get("shape_xyz")
    if not (
        isinstance(shape, list)
        and len(shape) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise _error(path, f"shape_xyz {shape!r} is not three positive integers")
    start, stop = meta.get("central_start_xyz"), meta.get("central_stop_xyz")
    if start is not None or stop is not None:
        ok = (
            isinstance(start, list)
            and isinstance(stop, list)
            and len(start) == len(stop) == 3
            and all(
                isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= n
                for a, b, n in zip(start, stop, shape, strict=True)
            )
        )
        if not ok:
            raise _error(path, f"central box {start!r}-{stop!r} does not fit shape {shape}")
    return shape[2], shape[1], shape[0]


def _read_grid(path: Path, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """The data of one of the sample's MRC files, its header checked against the file (a
    truncated file is refused before mrcfile reads it) and its shape against sample.json."""
    if not path.is_file():
        raise _error(path, "missing")
    try:
        plan_map(path)
    except DataError as exc:
        raise _error(path, exc.message.removeprefix(f"{path.name}: ")) from None
    try:
        with mrcfile.open(path, permissive=True) as mrc:
            data = None if mrc.data is None else np.array(mrc.data)
    except (ValueError, OSError) as exc:
        if is_environment_fault(exc):
            raise
        raise _error(path, f"not a readable MRC file ({exc})") from None
    if data is None:
        raise _error(path, "no data block")
    if data.shape != shape_zyx:
        want = "×".join(str(n) for n in shape_zyx[::-1])
        got = "×".join(str(n) for n in data.shape[::-1])
        raise _error(path, f"{got} voxels (x×y×z), sample.json says {want}")
    return data
