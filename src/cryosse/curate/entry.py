"""Curate one EMDB entry: map + fitted models → labelled, box-cropped samples.

    read map → for each fitted model: read model → overlap checks → DSSP (whole model) →
    choose chains → for each central chain: box-crop + resample → label voxels → quality
    scores and bin (bin 4 excluded) → write sample

The entry and model levels are here; one central chain's sample is cryosse.curate.chain_sample.

Every problem of the data ends as a curation-log row with a reason; nothing here raises for
bad input. A fault of the machine (disk full, I/O error, out of memory, mkdssp killed) is
raised instead: it fails the job, and the re-run curates the entry.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryosse.acquire.locate import LocatedEntry, LocatedModel
from cryosse.core.classes import HELIX, code_to_class
from cryosse.core.reasons import DataError, Reason, is_environment_fault
from cryosse.core.timing import timed
from cryosse.curate.chain_sample import FittedModel, write_chain_sample
from cryosse.curate.chains import ChainCandidate, choose_chains
from cryosse.curate.crop import map_extent
from cryosse.curate.dssp import assign_dssp
from cryosse.curate.quality import fallback_contour
from cryosse.curate.settings import CurationSettings
from cryosse.io.curation_log import LogRow
from cryosse.io.density import DensityMap, check_map_work, read_map
from cryosse.io.structure import Residue, ca_array, protein_residues, read_model

STEPS = ("read", "dssp", "crop", "label", "quality", "write")
# Reference voxels for the density-percentile check: a fixed-seed sample keeps it cheap on
# large maps and deterministic.
_PERCENTILE_SAMPLE = 1_000_000


@dataclass
class EntryResult:
    rows: list[LogRow] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))


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

    def model_row(pdb: str, status: str, reason: str, message: str) -> None:
        result.rows.append(LogRow(emdb, pdb, "", "model", status, reason, message))

    if located.status != "ok":
        entry_row("excluded", located.reason, located.message)
        return result
    try:
        with timed(result.timings, "read"):
            check_map_work(located.map_path or "", max_memory)
            density = read_map(located.map_path or "")
    except DataError as exc:
        entry_row("excluded", exc.reason, exc.message)
        return result

    contour = _contour(located, density, settings)
    job = _Job(located, density, contour, settings, Path(samples_dir), max_memory, result)
    n_kept = 0
    for model in located.models:
        if model.replaces:
            message = (
                f"{model.replaces} is obsolete; its successor "
                f"{model.pdb_id} (wwPDB obsolete list) is used"
            )
            model_row(model.replaces, "replaced", Reason.MODEL_SUPERSEDED.value, message)
        try:
            n_kept += _curate_model(job, model)
        except DataError as exc:
            model_row(model.pdb_id, "excluded", str(exc.reason), exc.message)
        except Exception as exc:  # an unforeseen failure of the data must not kill the run
            if is_environment_fault(exc):
                raise
            detail = traceback.format_exception_only(exc)[-1].strip()
            model_row(model.pdb_id, "excluded", Reason.INTERNAL_ERROR.value, detail)
    if n_kept:
        entry_row("kept", Reason.KEPT, f"{n_kept} sample(s) from {len(located.models)} model(s)")
    else:
        entry_row("excluded", _entry_reason(result.rows), "no sample kept from this entry")
    return result


@dataclass(frozen=True)
class _Job:
    """What every model of the entry shares while it is curated."""

    located: LocatedEntry
    density: DensityMap
    contour: tuple[float, str]
    settings: CurationSettings
    samples_dir: Path  # each sample goes to samples_dir/<sample_id>/
    max_memory: int | None  # bytes; None: the job's memory (density.memory_budget)
    result: EntryResult  # what the models add to


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


def _curate_model(job: _Job, model: LocatedModel) -> int:
    emdb, pdb, settings = job.located.emdb_id, model.pdb_id, job.settings
    if model.reason is not None:
        raise DataError(Reason(model.reason), model.message or model.reason)
    with timed(job.result.timings, "read"):
        structure = read_model(model.path or "")
        residues = protein_residues(structure)
    if not residues:
        raise DataError(Reason.NO_PROTEIN, f"{pdb}: no amino-acid residue with a Cα atom")
    inside = _check_fit(job, pdb, residues)

    with timed(job.result.timings, "dssp"):
        # only the residues that can reach a box: chain_box clips boxes to the map's extent
        # plus twice the padding
        low, high = map_extent(job.density)
        reach = 2 * settings.crop.padding
        codes = assign_dssp(structure, region=(low - reach, high + reach))
    res_codes = [codes.get(r.key, "") for r in residues]
    res_class = np.array([code_to_class(c) for c in res_codes], dtype=np.uint8)
    fitted = FittedModel(
        job.located,
        job.density,
        job.contour,
        settings,
        job.result.timings,
        model,
        structure,
        residues,
        res_codes,
        res_class,
    )

    def chain_row(chain: str, status: str, reason: str, message: str) -> None:
        job.result.rows.append(LogRow(emdb, pdb, chain, "chain", status, reason, message))

    decisions = choose_chains(
        _chain_candidates(residues, inside, res_class),
        min_ca=settings.chains.min_ca,
        min_fraction_inside=settings.chains.min_fraction_inside,
        max_identity=settings.chains.max_identity,
        require_helix=settings.chains.require_helix,
    )
    kept = 0
    for decision in decisions:
        if not decision.kept:
            chain_row(decision.name, "excluded", str(decision.reason), decision.message)
            continue
        try:
            sid = write_chain_sample(fitted, decision.name, job.samples_dir, job.max_memory)
        except DataError as exc:
            chain_row(decision.name, "excluded", str(exc.reason), exc.message)
            continue
        job.result.samples.append(sid)
        message = f"{decision.message}; sample {sid}"
        chain_row(decision.name, "kept", Reason.KEPT.value, message)
        kept += 1
    return kept


def _check_fit(job: _Job, pdb: str, residues: list[Residue]) -> np.ndarray:
    """Which Cα atoms lie inside the map; refuses a model outside the map or off its density."""
    emdb, fit = job.located.emdb_id, job.settings.fit
    values, inside = job.density.values_at(ca_array(residues))
    fraction_inside = float(inside.mean())
    if fraction_inside < fit.min_fraction_inside:
        raise DataError(
            Reason.MODEL_OUTSIDE_MAP,
            f"{pdb}: only {fraction_inside:.0%} of its Cα atoms lie inside the map of {emdb}",
        )
    median_pct = float(np.median(density_percentiles(job.density, values[inside])))
    if median_pct < fit.min_density_percentile:
        raise DataError(
            Reason.MAP_MODEL_MISMATCH,
            f"{pdb} does not sit on the density of {emdb}: median density percentile at its Cα "
            f"atoms is {median_pct:.1f} (minimum {fit.min_density_percentile:g})",
        )
    return inside


def _chain_candidates(
    residues: list[Residue], inside: np.ndarray, res_class: np.ndarray
) -> list[ChainCandidate]:
    by_chain: dict[str, list[int]] = defaultdict(list)
    for i, res in enumerate(residues):
        by_chain[res.chain].append(i)
    return [
        ChainCandidate(
            name=name,
            sequence="".join(residues[i].one_letter for i in idx),
            n_ca=len(idx),
            n_ca_inside=int(inside[idx].sum()),
            n_helix=int(np.count_nonzero(res_class[idx] == HELIX)),
        )
        for name, idx in by_chain.items()
    ]
