"""Curate one EMDB entry: map + fitted models → labelled, box-cropped samples.

    read map → for each fitted model: read model → overlap checks → DSSP (whole model) →
    choose chains → for each central chain: box-crop + resample → label voxels → quality
    scores and bin (bin 4 excluded) → write sample

Every problem of the data ends as a curation-log row with a reason; nothing here raises for
bad input. A fault of the machine (disk full, I/O error, out of memory, mkdssp killed) is
raised instead: it fails the job, and the re-run curates the entry.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

from cryosse import __version__
from cryosse.acquire.locate import LocatedEntry, LocatedModel
from cryosse.core.classes import CLASS_NAMES, HELIX, SHEET, code_to_class
from cryosse.core.ids import sample_id
from cryosse.core.reasons import CurationError, Reason, is_environment_fault
from cryosse.curate.chains import ChainCandidate, choose_chains
from cryosse.curate.crop import CropBox, chain_box, map_extent, resample_box
from cryosse.curate.dssp import assign_dssp
from cryosse.curate.labels import label_voxels
from cryosse.curate.quality import (
    chain_helix_similarity,
    fallback_contour,
    precision_recall,
    quality_bin,
)
from cryosse.curate.settings import CurationSettings
from cryosse.io.curation_log import LogRow
from cryosse.io.density import DensityMap, check_map_work, memory_budget, read_map
from cryosse.io.sample import Sample, write_sample
from cryosse.io.structure import (
    Residue,
    ca_array,
    chain_atom_coordinates,
    protein_residues,
    read_model,
)

# Peak bytes per voxel of a chain's box while it is cropped, labelled and scored (float32
# resampling passes, labels, masks, and the int64/float64 index and point arrays of the quality
# zone): the tracemalloc peak of a whole demo entry, map included, over its largest box is
# 40-44 B (EMD-8518, 3488, 6149, 5168); twice that, with head room.
BOX_BYTES_PER_VOXEL = 96
STEPS = ("read", "dssp", "crop", "label", "quality", "write")
# Reference voxels for the density-percentile check: a fixed-seed sample keeps it cheap on
# large maps and deterministic.
_PERCENTILE_SAMPLE = 1_000_000


@dataclass
class EntryResult:
    rows: list[LogRow] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] += time.perf_counter() - start


def density_percentiles(density: DensityMap, values: np.ndarray) -> np.ndarray:
    """Percentile (0-100, ties counted half) of each value among the map's voxels."""
    flat = density.data.reshape(-1)
    if flat.size > _PERCENTILE_SAMPLE:
        rng = np.random.default_rng(0)
        flat = flat[rng.integers(0, flat.size, _PERCENTILE_SAMPLE)]
    ref = np.sort(flat)
    below = np.searchsorted(ref, values, side="left")
    at_or_below = np.searchsorted(ref, values, side="right")
    return 100.0 * (below + at_or_below) / (2.0 * ref.size)


def curate_entry(
    located: LocatedEntry,
    settings: CurationSettings,
    samples_dir: str | Path,
    max_memory: int | None = None,
) -> EntryResult:
    """Curate one located entry; samples go to `samples_dir/<sample_id>/`.

    A map whose header implies more than `max_memory` bytes (default: the job's memory,
    density.memory_budget) is excluded before it is read, and so is a chain whose box would
    exceed it. Faults of the machine (disk full, I/O error, out of memory, mkdssp killed:
    cryosse.core.reasons.is_environment_fault) are raised, naming the entry, so that the job
    fails and a re-run curates the entry: they never become exclusions."""
    try:
        return _curate_entry(located, settings, samples_dir, max_memory)
    except Exception as exc:
        if is_environment_fault(exc):
            exc.add_note(
                f"while curating {located.emdb_id}: a fault of the machine, not of the entry; "
                "nothing was excluded, run again once it is fixed"
            )
        raise


def _curate_entry(
    located: LocatedEntry,
    settings: CurationSettings,
    samples_dir: str | Path,
    max_memory: int | None,
) -> EntryResult:
    result = EntryResult()
    emdb = located.emdb_id

    def entry_row(status: str, reason: str, message: str) -> None:
        result.rows.append(LogRow(emdb, "", "", "entry", status, str(reason), message))

    if located.status != "ok":
        entry_row("excluded", located.reason, located.message)
        return result
    try:
        with _timed(result.timings, "read"):
            check_map_work(located.map_path or "", max_memory)
            density = read_map(located.map_path or "")
    except CurationError as exc:
        entry_row("excluded", exc.reason, exc.message)
        return result

    contour = _contour(located, density, settings)
    n_kept = 0
    for model in located.models:
        if model.replaces:
            result.rows.append(
                LogRow(
                    emdb,
                    model.replaces,
                    "",
                    "model",
                    "replaced",
                    Reason.MODEL_SUPERSEDED.value,
                    f"{model.replaces} is obsolete; its successor "
                    f"{model.pdb_id} (wwPDB obsolete list) is used",
                )
            )
        try:
            n_kept += _curate_model(
                located, model, density, contour, settings, Path(samples_dir), result, max_memory
            )
        except CurationError as exc:
            result.rows.append(
                LogRow(emdb, model.pdb_id, "", "model", "excluded", str(exc.reason), exc.message)
            )
        except Exception as exc:  # an unforeseen failure of the data must not kill the run
            if is_environment_fault(exc):
                raise
            detail = traceback.format_exception_only(exc)[-1].strip()
            result.rows.append(
                LogRow(
                    emdb, model.pdb_id, "", "model", "excluded", Reason.INTERNAL_ERROR.value, detail
                )
            )
    if n_kept:
        entry_row("kept", Reason.KEPT, f"{n_kept} sample(s) from {len(located.models)} model(s)")
    else:
        entry_row("excluded", _entry_reason(result.rows), "no sample kept from this entry")
    return result


def _entry_reason(rows: list[LogRow]) -> str:
    """The entry's reason when nothing was kept: the model reason if there is only one."""
    reasons = {r.reason for r in rows if r.status == "excluded"}
    return reasons.pop() if len(reasons) == 1 else "no_chain_kept"


def _contour(
    located: LocatedEntry, density: DensityMap, settings: CurationSettings
) -> tuple[float, str]:
    """The author's recommended contour from the header, else mean + k·σ of non-zero voxels."""
    if located.contour_level is not None:
        return float(located.contour_level), "author"
    k = settings.quality.sigma_factor
    return fallback_contour(density.data, k), f"fallback mean{k:+g}sd"


def _curate_model(
    located: LocatedEntry,
    model: LocatedModel,
    density: DensityMap,
    contour: tuple[float, str],
    settings: CurationSettings,
    samples_dir: Path,
    result: EntryResult,
    max_memory: int | None = None,
) -> int:
    emdb, pdb = located.emdb_id, model.pdb_id
    if model.reason is not None:
        raise CurationError(Reason(model.reason), model.message or model.reason)
    with _timed(result.timings, "read"):
        structure = read_model(model.path or "")
        residues = protein_residues(structure)
    if not residues:
        raise CurationError(Reason.NO_PROTEIN, f"{pdb}: no amino-acid residue with a Cα atom")

    ca = ca_array(residues)
    values, inside = density.values_at(ca)
    fraction_inside = float(inside.mean())
    if fraction_inside < settings.fit.min_fraction_inside:
        raise CurationError(
            Reason.MODEL_OUTSIDE_MAP,
            f"{pdb}: only {fraction_inside:.0%} of its Cα atoms lie inside the map of {emdb}",
        )
    median_pct = float(np.median(density_percentiles(density, values[inside])))
    if median_pct < settings.fit.min_density_percentile:
        raise CurationError(
            Reason.MAP_MODEL_MISMATCH,
            f"{pdb} does not sit on the density of {emdb}: median density percentile at its Cα "
            f"atoms is {median_pct:.1f} (minimum {settings.fit.min_density_percentile:g})",
        )

    with _timed(result.timings, "dssp"):
        # only the residues that can reach a box: chain_box clips boxes to the map's extent
        # plus twice the padding
        low, high = map_extent(density)
        reach = 2 * settings.crop.padding
        codes = assign_dssp(structure, region=(low - reach, high + reach))
    res_codes = [codes.get(r.key, "") for r in residues]
    res_class = np.array([code_to_class(c) for c in res_codes], dtype=np.uint8)

    by_chain: dict[str, list[int]] = defaultdict(list)
    for i, res in enumerate(residues):
        by_chain[res.chain].append(i)
    candidates = [
        ChainCandidate(
            name=name,
            sequence="".join(residues[i].one_letter for i in idx),
            n_ca=len(idx),
            n_ca_inside=int(inside[idx].sum()),
            n_helix=int(np.count_nonzero(res_class[idx] == HELIX)),
        )
        for name, idx in by_chain.items()
    ]
    decisions = choose_chains(
        candidates,
        min_ca=settings.chains.min_ca,
        min_fraction_inside=settings.chains.min_fraction_inside,
        max_identity=settings.chains.max_identity,
        require_helix=settings.chains.require_helix,
    )
    kept = 0
    for decision in decisions:
        if not decision.kept:
            result.rows.append(
                LogRow(
                    emdb,
                    pdb,
                    decision.name,
                    "chain",
                    "excluded",
                    str(decision.reason),
                    decision.message,
                )
            )
            continue
        try:
            sid = _write_chain_sample(
                located,
                model,
                structure,
                density,
                contour,
                residues,
                res_codes,
                res_class,
                decision.name,
                settings,
                samples_dir,
                result,
                max_memory,
            )
        except CurationError as exc:
            result.rows.append(
                LogRow(emdb, pdb, decision.name, "chain", "excluded", str(exc.reason), exc.message)
            )
            continue
        result.samples.append(sid)
        result.rows.append(
            LogRow(
                emdb,
                pdb,
                decision.name,
                "chain",
                "kept",
                Reason.KEPT.value,
                f"{decision.message}; sample {sid}",
            )
        )
        kept += 1
    return kept


def _write_chain_sample(
    located: LocatedEntry,
    model: LocatedModel,
    structure: gemmi.Structure,
    density: DensityMap,
    contour: tuple[float, str],
    residues: list[Residue],
    res_codes: list[str],
    res_class: np.ndarray,
    chain: str,
    settings: CurationSettings,
    samples_dir: Path,
    result: EntryResult,
    max_memory: int | None = None,
) -> str:
    sid = sample_id(located.emdb_id, model.pdb_id, chain)
    with _timed(result.timings, "crop"):
        try:
            box = chain_box(
                chain_atom_coordinates(structure, chain),
                density,
                settings.crop.padding,
                settings.crop.voxel_size,
            )
        except ValueError as exc:
            raise CurationError(Reason.CHAIN_OUTSIDE_MAP, f"chain {chain}: {exc}") from exc
        _check_box_memory(box, chain, max_memory, held=density.data.nbytes)
        boxed = resample_box(density, box)
    if not np.any(boxed):
        raise CurationError(Reason.CHAIN_EMPTY_BOX, f"the box around chain {chain} is empty")
    with _timed(result.timings, "label"):
        ca = ca_array(residues)
        labels = label_voxels(
            box.origin, box.shape_xyz, box.voxel_size, ca, res_class, settings.labels.radius
        )
    with _timed(result.timings, "quality"):
        quality = _chain_quality(
            boxed,
            box.origin,
            box.voxel_size,
            structure,
            residues,
            res_class,
            chain,
            contour,
            settings,
        )
    if quality["bin"] == 4:
        f1 = quality["helix_similarity"]
        raise CurationError(
            Reason.QUALITY_BIN_4,
            f"chain {chain}: helix similarity {'none' if f1 is None else f'{f1:.3f}'} "
            f"(< {settings.quality.f1_threshold:g}) and |precision - recall| "
            f"{abs(quality['precision'] - quality['recall']):.3f} "
            f"(> {settings.quality.pr_threshold:g}) at contour {contour[0]:.4g} ({contour[1]})",
        )
    in_box = box.contains(ca)
    in_central = box.contains(ca, central=True)
    table = []
    for i in np.flatnonzero(in_box):
        res = residues[i]
        table.append(
            {
                "chain": res.chain,
                "residue_id": res.residue_id,
                "residue_name": res.name,
                "ca_x": f"{res.ca[0]:.3f}",
                "ca_y": f"{res.ca[1]:.3f}",
                "ca_z": f"{res.ca[2]:.3f}",
                "dssp": res_codes[i] or "-",
                "class": CLASS_NAMES[int(res_class[i])],
                "central_chain": int(res.chain == chain),
                "in_central_box": int(in_central[i]),
            }
        )
    central = box.central_mask()
    central_labels = labels[central]
    central_classes = res_class[in_central]
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
    meta = {
        "sample_id": sid,
        "emdb_id": located.emdb_id,
        "pdb_id": model.pdb_id,
        "chain": chain,
        "resolution": located.resolution,
        "origin": [float(v) for v in box.origin],
        "voxel_size": box.voxel_size,
        "shape_xyz": list(box.shape_xyz),
        "central_start_xyz": list(box.central_start),
        "central_stop_xyz": list(box.central_stop),
        "padding": settings.crop.padding,
        # the modelled residues of the central chain, for sequence clustering of the splits
        "sequence": "".join(r.one_letter for r in residues if r.chain == chain),
        "box_fraction_outside_map": round(outside_fraction, 4),
        "voxels_central": {
            "helix": int(np.count_nonzero(central_labels == HELIX)),
            "sheet": int(np.count_nonzero(central_labels == SHEET)),
            "background": int(np.count_nonzero(central_labels == 0)),
        },
        "residues_central": {
            "helix": int(np.count_nonzero(central_classes == HELIX)),
            "sheet": int(np.count_nonzero(central_classes == SHEET)),
            "background": int(np.count_nonzero(central_classes == 0)),
        },
        "source": {
            "map": Path(located.map_path or "").name,
            "map_sha256": located.map_sha256,
            "model": Path(model.path or "").name,
            "model_sha256": model.sha256,
        },
        "quality": quality,
        "cryosse_version": __version__,
    }
    with _timed(result.timings, "write"):
        write_sample(samples_dir / sid, Sample(meta, boxed, labels, table))
    return sid


def _check_box_memory(box: CropBox, chain: str, max_memory: int | None, held: int) -> None:
    """Refuse (CHAIN_BOX_TOO_LARGE) a box whose working set would exceed the budget before it
    is allocated: what is left of `max_memory` beside the `held` bytes of the map, or (None)
    the job's memory left now (memory_budget, the map already read)."""
    need = math.prod(box.shape_xyz) * BOX_BYTES_PER_VOXEL
    budget = memory_budget() if max_memory is None else max_memory - held
    if need > budget:
        nx, ny, nz = box.shape_xyz
        raise CurationError(
            Reason.CHAIN_BOX_TOO_LARGE,
            f"chain {chain}: its padded box of {nx}×{ny}×{nz} voxels at {box.voxel_size:g} Å "
            f"needs about {need / 1e9:.2f} GB, the budget is {budget / 1e9:.2f} GB",
        )


def _chain_quality(
    boxed: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    structure: gemmi.Structure,
    residues: list[Residue],
    res_class: np.ndarray,
    chain: str,
    contour: tuple[float, str],
    settings: CurationSettings,
) -> dict:
    """Helix cylindrical similarity, precision/recall in the chain's zone, and the bin,
    measured on the 1 Å box (see cryosse.curate.quality for the definitions)."""
    q = settings.quality
    idx = [i for i, r in enumerate(residues) if r.chain == chain]
    helix_f1, helices = chain_helix_similarity(
        boxed, origin, voxel_size, res_class[idx], ca_array(residues)[idx], q
    )
    chain_atoms = chain_atom_coordinates(structure, chain)
    others = _other_atoms(
        structure, chain, origin, origin + voxel_size * np.array(boxed.shape[::-1]), q.zone_radius
    )
    try:
        precision, recall = precision_recall(
            boxed, origin, voxel_size, chain_atoms, others, contour[0], q
        )
    except ValueError as exc:
        raise CurationError(Reason.CHAIN_OUTSIDE_MAP, f"chain {chain}: {exc}") from exc
    return {
        "helix_similarity": None if helix_f1 is None else round(helix_f1, 4),
        "helices": [
            {
                "first_residue": residues[idx[h.first_residue]].residue_id,
                "n_residues": h.n_residues,
                "f1": round(h.f1, 4),
            }
            for h in helices
        ],
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "contour": round(contour[0], 6),
        "contour_source": contour[1],
        "bin": quality_bin(helix_f1, precision, recall, q),
    }


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
