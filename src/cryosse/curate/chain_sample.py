"""One central chain of a fitted model → its sample: box-crop and resample, label, score its
quality and bin (bin 4 refused), and write the sample with its sample.json (SampleMeta).

Every refusal is a DataError that cryosse.curate.entry logs as the chain's exclusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from cryosse import __version__
from cryosse.acquire.locate import LocatedEntry, LocatedModel
from cryosse.core.classes import CLASS_NAMES, HELIX, SHEET
from cryosse.core.ids import sample_id
from cryosse.core.reasons import DataError, Reason
from cryosse.core.timing import timed
from cryosse.curate.crop import CropBox, chain_box, resample_box
from cryosse.curate.labels import label_voxels
from cryosse.curate.quality import chain_helix_similarity, precision_recall, quality_bin
from cryosse.curate.settings import CurationSettings
from cryosse.io.density import DensityMap, memory_budget
from cryosse.io.sample import (
    ClassCounts,
    Sample,
    SampleHelix,
    SampleMeta,
    SampleQuality,
    SampleSource,
    write_sample,
)
from cryosse.io.structure import Residue, ca_array, chain_atom_coordinates

# Peak bytes per voxel of a chain's box while it is cropped, labelled and scored (float32
# resampling passes, labels, masks, and the int64/float64 index and point arrays of the quality
# zone): the tracemalloc peak of a whole demo entry, map included, over its largest box is
# 40-44 B (EMD-8518, 3488, 6149, 5168); twice that, with head room.
BOX_BYTES_PER_VOXEL = 96


@dataclass(frozen=True)
class FittedModel:
    """One fitted model of an entry, read and assigned: what every chain of it shares."""

    located: LocatedEntry
    density: DensityMap
    contour: tuple[float, str]  # level, and where it comes from (author or fallback)
    settings: CurationSettings
    timings: dict[str, float]  # seconds per step, added to
    model: LocatedModel
    structure: gemmi.Structure
    residues: list[Residue]
    res_codes: list[str]  # DSSP code of each residue, "" if none
    res_class: np.ndarray  # class of each residue (cryosse.core.classes)


def write_chain_sample(
    fitted: FittedModel, chain: str, samples_dir: Path, max_memory: int | None
) -> str:
    """Cut, label, score and write the sample of the central chain `chain` of `fitted`;
    returns its id. A DataError is the chain's exclusion."""
    settings, density, timings = fitted.settings, fitted.density, fitted.timings
    with timed(timings, "crop"):
        try:
            box = chain_box(
                chain_atom_coordinates(fitted.structure, chain),
                density,
                settings.crop.padding,
                settings.crop.voxel_size,
            )
        except ValueError as exc:
            raise DataError(Reason.CHAIN_OUTSIDE_MAP, f"chain {chain}: {exc}") from exc
        _check_box_memory(box, chain, max_memory, held=density.data.nbytes)
        boxed = resample_box(density, box)
    if not np.any(boxed):
        raise DataError(Reason.CHAIN_EMPTY_BOX, f"the box around chain {chain} is empty")
    with timed(timings, "label"):
        ca = ca_array(fitted.residues)
        labels = label_voxels(
            box.origin, box.shape_xyz, box.voxel_size, ca, fitted.res_class, settings.labels.radius
        )
    with timed(timings, "quality"):
        quality = _chain_quality(boxed, box.origin, box.voxel_size, fitted, chain)
    if quality.bin == 4:
        f1 = quality.helix_similarity
        contour = fitted.contour
        raise DataError(
            Reason.QUALITY_BIN_4,
            f"chain {chain}: helix similarity {'none' if f1 is None else f'{f1:.3f}'} "
            f"(< {settings.quality.f1_threshold:g}) and |precision - recall| "
            f"{abs(quality.precision - quality.recall):.3f} "
            f"(> {settings.quality.pr_threshold:g}) at contour {contour[0]:.4g} ({contour[1]})",
        )
    meta = _sample_meta(fitted, chain, box, labels, quality)
    table = _residue_table(fitted, chain, box)
    with timed(timings, "write"):
        write_sample(samples_dir / meta.sample_id, Sample(meta, boxed, labels, table))
    return meta.sample_id


def _residue_table(fitted: FittedModel, chain: str, box: CropBox) -> list[dict[str, object]]:
    """residues.tsv: every residue whose Cα is in the box."""
    ca = ca_array(fitted.residues)
    in_central = box.contains(ca, central=True)
    table: list[dict[str, object]] = []
    for i in np.flatnonzero(box.contains(ca)):
        res = fitted.residues[i]
        table.append(
            {
                "chain": res.chain,
                "residue_id": res.residue_id,
                "residue_name": res.name,
                "ca_x": f"{res.ca[0]:.3f}",
                "ca_y": f"{res.ca[1]:.3f}",
                "ca_z": f"{res.ca[2]:.3f}",
                "dssp": fitted.res_codes[i] or "-",
                "class": CLASS_NAMES[int(fitted.res_class[i])],
                "central_chain": int(res.chain == chain),
                "in_central_box": int(in_central[i]),
            }
        )
    return table


def _class_counts(classes: np.ndarray) -> ClassCounts:
    return ClassCounts(
        helix=int(np.count_nonzero(classes == HELIX)),
        sheet=int(np.count_nonzero(classes == SHEET)),
        background=int(np.count_nonzero(classes == 0)),
    )


def _sample_meta(
    fitted: FittedModel, chain: str, box: CropBox, labels: np.ndarray, quality: SampleQuality
) -> SampleMeta:
    located, model, density = fitted.located, fitted.model, fitted.density
    in_central = box.contains(ca_array(fitted.residues), central=True)
    map_frac = [
        (box.axis_coordinates(a) - density.origin[a]) / density.voxel_size[a] for a in range(3)
    ]
    outside_fraction = 1.0 - float(
        np.prod(
            [
                np.mean((f >= 0) & (f <= n - 1))
                for f, n in zip(map_frac, density.shape_xyz, strict=True)
            ]
        )
    )
    return SampleMeta(
        sample_id=sample_id(located.emdb_id, model.pdb_id, chain),
        emdb_id=located.emdb_id,
        pdb_id=model.pdb_id,
        chain=chain,
        resolution=located.resolution,
        origin=(float(box.origin[0]), float(box.origin[1]), float(box.origin[2])),
        voxel_size=box.voxel_size,
        shape_xyz=box.shape_xyz,
        central_start_xyz=box.central_start,
        central_stop_xyz=box.central_stop,
        padding=fitted.settings.crop.padding,
        sequence="".join(r.one_letter for r in fitted.residues if r.chain == chain),
        box_fraction_outside_map=round(outside_fraction, 4),
        voxels_central=_class_counts(labels[box.central_mask()]),
        residues_central=_class_counts(fitted.res_class[in_central]),
        source=SampleSource(
            map=Path(located.map_path or "").name,
            map_sha256=located.map_sha256,
            model=Path(model.path or "").name,
            model_sha256=model.sha256,
        ),
        quality=quality,
        cryosse_version=__version__,
    )


def _check_box_memory(box: CropBox, chain: str, max_memory: int | None, held: int) -> None:
    """Refuse (CHAIN_BOX_TOO_LARGE) a box whose working set would exceed the budget before it
    is allocated: what is left of `max_memory` beside the `held` bytes of the map, or (None)
    the job's memory left now (memory_budget, the map already read)."""
    need = math.prod(box.shape_xyz) * BOX_BYTES_PER_VOXEL
    budget = memory_budget() if max_memory is None else max_memory - held
    if need > budget:
        nx, ny, nz = box.shape_xyz
        raise DataError(
            Reason.CHAIN_BOX_TOO_LARGE,
            f"chain {chain}: its padded box of {nx}×{ny}×{nz} voxels at {box.voxel_size:g} Å "
            f"needs about {need / 1e9:.2f} GB, the budget is {budget / 1e9:.2f} GB",
        )


def _chain_quality(
    boxed: np.ndarray, origin: np.ndarray, voxel_size: float, fitted: FittedModel, chain: str
) -> SampleQuality:
    """Helix cylindrical similarity, precision/recall in the chain's zone, and the bin,
    measured on the 1 Å box (see cryosse.curate.quality for the definitions)."""
    q, contour, residues = fitted.settings.quality, fitted.contour, fitted.residues
    idx = [i for i, r in enumerate(residues) if r.chain == chain]
    helix_f1, helices = chain_helix_similarity(
        boxed, origin, voxel_size, fitted.res_class[idx], ca_array(residues)[idx], q
    )
    chain_atoms = chain_atom_coordinates(fitted.structure, chain)
    high = origin + voxel_size * np.array(boxed.shape[::-1])
    others = _other_atoms(fitted.structure, chain, origin, high, q.zone_radius)
    try:
        precision, recall = precision_recall(
            boxed, origin, voxel_size, chain_atoms, others, contour[0], q
        )
    except ValueError as exc:
        raise DataError(Reason.CHAIN_OUTSIDE_MAP, f"chain {chain}: {exc}") from exc
    return SampleQuality(
        helix_similarity=None if helix_f1 is None else round(helix_f1, 4),
        helices=tuple(
            SampleHelix(
                first_residue=residues[idx[h.first_residue]].residue_id,
                n_residues=h.n_residues,
                f1=round(h.f1, 4),
            )
            for h in helices
        ),
        precision=round(precision, 4),
        recall=round(recall, 4),
        contour=round(contour[0], 6),
        contour_source=contour[1],
        bin=quality_bin(helix_f1, precision, recall, q),
    )


def _other_atoms(
    structure: gemmi.Structure, chain: str, low: np.ndarray, high: np.ndarray, margin: float
) -> np.ndarray:
    """Atoms of every other chain (protein, nucleic acid, ligand) near the box: they claim
    their own density in the precision/recall zone."""
    coords = np.array(
        [
            (a.pos.x, a.pos.y, a.pos.z)
            for c in structure[0]
            if c.name != chain
            for r in c
            for a in r
        ],
        dtype=np.float64,
    ).reshape(-1, 3)
    near = np.all((coords >= low - margin) & (coords <= high + margin), axis=1)
    return coords[near]
