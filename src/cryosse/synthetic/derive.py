"""Medium-resolution maps derived from high-resolution real maps by a low-pass filter.

A real map at resolution r0 (< 4.5 Å) is filtered to a target resolution r (drawn in 5–10 Å
per map from a RNG keyed by seed:entry:source, or given) the way post-processing filters a
map at its FSC resolution: a Butterworth low-pass at |k| = 1/r,

    H(k) = 1 / sqrt(1 + (|k| · r)^(2n)),   n = `fourier.BUTTERWORTH_ORDER` (8),

which keeps |k| → 0 (the total density) exactly, 0.71 of the amplitude at 1/r, < 2 % at 1.5/r
and < 0.05 % at 2/r. (A Gaussian of σ = 0.225·r, the molmap convention `synthetic/recipe.py`
uses for atoms, is too gentle here: the real maps are sharpened, and a Gaussian leaves their
4 Å detail visible at 6 Å; benchmarks/simulation.py shows both spectra.) The map is zero-padded
before the FFT so nothing wraps around, then cropped back; voxels that were exactly 0 in the source
(outside a mask or zone) are set to 0 again, so a masked map stays masked. Grid, voxel size and
origin are kept (the origin is written as ORIGIN). No noise is added: the map keeps its own,
low-passed.

Each derived map becomes a mirror entry with an id from `core.ids.DERIVED_IDS`
(EMD-91000 … EMD-91999), a title starting "DERIVED", a header comment naming the source EMDB
id, its resolution and the filter, the real fitted model copied unchanged, and
`other/derivation.json` with every parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import fft

from cryosse.core.atomic import write_text_atomic
from cryosse.core.ids import (
    DERIVED_IDS,
    entry_rng,
    fits_reserved_range,
    normalize_emdb_id,
    normalize_pdb_id,
    reserved_entry_id,
)
from cryosse.core.reasons import DataError
from cryosse.core.tsv import tsv_text
from cryosse.io.density import read_map
from cryosse.io.realdata import read_entries
from cryosse.synthetic.fourier import BUTTERWORTH_ORDER, butterworth, k_squared
from cryosse.synthetic.mirror_entry import (
    HeaderInfo,
    model_suffix,
    mrc_bytes,
    read_plain_bytes,
    write_entry,
)
from cryosse.synthetic.parameters import RESOLUTION

HIGH_RESOLUTION_LIMIT = 4.5  # realdata's split between high and medium resolution
CONTOUR_VOLUME_PER_ATOM = 45.0  # Å³: the header contour encloses this volume per model atom
SUMMARY_COLUMNS = [
    "emdb_id",
    "source_emdb_id",
    "pdb_id",
    "source_resolution",
    "target_resolution",
    "status",
    "reason",
]


@dataclass(frozen=True)
class RealPair:
    """One map/model pair of a realdata folder (provenance.json)."""

    emdb_id: str
    pdb_id: str
    title: str
    resolution: float | None
    resolution_source: str
    map_kind: str
    folder: Path
    map_file: str
    model_file: str


def read_pairs(realdata: Path) -> list[RealPair]:
    """Every pair of realdata with its first good-fit (map, model) combination."""
    return [
        RealPair(
            emdb_id=normalize_emdb_id(entry.emdb_id),
            pdb_id=normalize_pdb_id(entry.pdb_id),
            title=entry.title,
            resolution=entry.resolution,
            resolution_source=entry.resolution_source,
            map_kind=entry.map_kind,
            folder=entry.folder,
            map_file=entry.fits[0].map_file,
            model_file=entry.fits[0].model_file,
        )
        for entry in read_entries(realdata)
        if entry.fits
    ]


def lowpass(
    data: np.ndarray, voxel: float, resolution: float, order: int = BUTTERWORTH_ORDER
) -> np.ndarray:
    """Butterworth low-pass of a [z, y, x] map at 1/resolution; zero padding, no wrap-around,
    exact zeros of the input (mask) kept."""
    pad = math.ceil(2 * resolution / voxel) + 1
    shape = data.shape
    big = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in shape)
    padded = np.zeros(big, dtype=np.float64)
    padded[pad : pad + shape[0], pad : pad + shape[1], pad : pad + shape[2]] = data
    spectrum = fft.rfftn(padded) * butterworth(k_squared(big, voxel), resolution, order)
    out = fft.irfftn(spectrum, s=big)
    out = out[pad : pad + shape[0], pad : pad + shape[1], pad : pad + shape[2]]
    return np.where(data == 0, 0.0, out)


def target_resolution(seed: int, emdb_id: str, source: str) -> float:
    return float(entry_rng(seed, emdb_id, source).uniform(*RESOLUTION))


def contour_for(data: np.ndarray, n_atoms: int, voxel: float) -> float:
    """The level that encloses CONTOUR_VOLUME_PER_ATOM Å³ per atom of the non-zero voxels."""
    values = data[data != 0]
    n = int(min(values.size - 1, max(1, n_atoms * CONTOUR_VOLUME_PER_ATOM / voxel**3)))
    return float(np.partition(values, values.size - n)[values.size - n])


def derive_entry(
    pair: RealPair, emdb_id: str, mirror_root: Path, seed: int, resolution: float | None = None
) -> dict[str, Any]:
    """Low-pass one real pair to a target resolution and write it as a mirror entry."""
    import gemmi

    emdb_id = reserved_entry_id(emdb_id, "derived")
    if pair.resolution is None or pair.resolution >= HIGH_RESOLUTION_LIMIT:
        raise ValueError(f"{pair.emdb_id}: resolution {pair.resolution} is not high (< 4.5 Å)")
    target = (
        float(resolution)
        if resolution is not None
        else target_resolution(seed, emdb_id, pair.emdb_id)
    )
    density = read_map(pair.folder / pair.map_file)
    voxel = float(density.voxel_size[0])
    if not np.allclose(density.voxel_size, voxel, rtol=1e-4):
        raise ValueError(f"{pair.emdb_id}: anisotropic voxels {density.voxel_size.tolist()}")
    if target <= pair.resolution:
        raise ValueError(f"target {target} Å is not worse than {pair.resolution} Å")
    data = lowpass(density.data.astype(np.float64), voxel, target).astype(np.float32)
    model_path = pair.folder / pair.model_file
    n_atoms = gemmi.read_structure(str(model_path))[0].count_atom_sites()
    contour = contour_for(data, n_atoms, voxel)
    record = {
        "derived": True,
        "emdb_id": emdb_id,
        "source_emdb_id": pair.emdb_id,
        "source_map": pair.map_file,
        "source_resolution": pair.resolution,
        "source_resolution_source": pair.resolution_source,
        "pdb_id": pair.pdb_id,
        "source_model": pair.model_file,
        "target_resolution": round(target, 3),
        "filter": f"Butterworth low-pass at 1/target, order {BUTTERWORTH_ORDER}, Fourier "
        "space, zero-padded; exact zeros of the source kept",
        "filter_order": BUTTERWORTH_ORDER,
        "seed": seed,
        "contour_level": contour,
        "contour_volume_per_atom": CONTOUR_VOLUME_PER_ATOM,
    }
    comment = (
        f"DERIVED map, not an EMDB entry: cryosse derive low-passed the real map of "
        f"{pair.emdb_id} ({pair.map_file}, {pair.resolution} A, {pair.map_kind}) to "
        f"{target:.2f} A with a Butterworth low-pass at 1/{target:.2f} 1/A (order "
        f"{BUTTERWORTH_ORDER}; zeros of the source kept). Id from the reserved derived range "
        f"EMD-{DERIVED_IDS[0]}.."
        f"EMD-{DERIVED_IDS[1]}. Grid, voxel size and origin of the source map are kept. "
        f"Model: {pair.pdb_id} ({pair.model_file}) as shipped. Record: other/derivation.json."
    )
    info = HeaderInfo(
        emdb_id=emdb_id,
        pdb_ids=(pair.pdb_id,),
        title=f"DERIVED {target:.1f} A low-pass of {pair.emdb_id} ({pair.title}; "
        "cryosse derive; not an EMDB entry)",
        method="singleParticle",
        resolution=round(target, 2),
        comment=comment,
        contour_level=contour,
    )
    ox, oy, oz = (float(v) for v in density.origin)
    map_data = mrc_bytes(
        data,
        voxel,
        origin_xyz=(ox, oy, oz),
        label=f"cryosse DERIVED from {pair.emdb_id}",
    )
    models = {pair.pdb_id: (read_plain_bytes(model_path), model_suffix(model_path))}
    write_entry(mirror_root, info, map_data, models, record, "derivation.json")
    return record


def derive_pairs(
    realdata: Path,
    mirror_root: Path,
    first_id: int = DERIVED_IDS[0],
    maps_per_pair: int = 1,
    seed: int = 1,
    exclude: tuple[str, ...] = (),
) -> list[dict[str, str | float | None]]:
    """Derived entries of every high-resolution pair of `realdata` but those of `exclude`
    (EMDB ids), ids in folder order from `first_id`; writes `<mirror_root>/derived.tsv` and
    returns its rows."""
    excluded = {normalize_emdb_id(e) for e in exclude}
    pairs = [
        p
        for p in read_pairs(realdata)
        if p.resolution is not None
        and p.resolution < HIGH_RESOLUTION_LIMIT
        and p.emdb_id not in excluded
    ]
    last = first_id + len(pairs) * maps_per_pair - 1
    if not fits_reserved_range(first_id, last, "derived"):
        raise ValueError(f"ids EMD-{first_id}..EMD-{last} leave the derived range {DERIVED_IDS}")
    rows = []
    for i, pair in enumerate(pairs):
        for j in range(maps_per_pair):
            emdb_id = f"EMD-{first_id + i * maps_per_pair + j}"
            row = {
                "emdb_id": emdb_id,
                "source_emdb_id": pair.emdb_id,
                "pdb_id": pair.pdb_id,
                "source_resolution": pair.resolution,
                "target_resolution": "",
                "status": "written",
                "reason": "",
            }
            try:
                record = derive_entry(pair, emdb_id, mirror_root, seed)
            except (ValueError, OSError, DataError) as exc:
                row.update(status="skipped", reason=str(exc))
            else:
                row.update(target_resolution=f"{record['target_resolution']:.2f}")
            rows.append(row)
    write_text_atomic(Path(mirror_root) / "derived.tsv", tsv_text(SUMMARY_COLUMNS, rows))
    return rows
