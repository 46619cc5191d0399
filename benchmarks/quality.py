"""Benchmark + calibration: quality scores of the real map/model pairs in ../shared/realdata.

For every documented primary (map, model) pair of the realdata INDEX.json (file roles "map" ×
"model" with a good fit check, as in benchmarks/curation.py) and every protein chain of the
model, the chain is box-cropped and resampled to 1 Å exactly as curation does it
(`cryosse.curate.crop.chain_box` with 17 Å padding + `resample_box`), and scored with
`cryosse.curate.quality`:

* per-helix cylindrical similarity (DSSP H/G/I runs of ≥ 6 residues) for each trial
  `cylinder_radius` in RADII; the per-helix F1 distribution (n, min, quartiles, max, median
  chance level |M|/|W|) is printed per radius, for all helices and split by map group;
* per chain, at the default settings: mean helix F1, the same for the model shifted by SHIFT
  (8 Å along x; a negative control), precision, recall, P − R, the contour and the bin.

Maps: medium-resolution maps (4.5-10 Å, or unknown resolution) are scored as they are.
High-resolution maps (resolution < HIGH_RES = 4.5 Å) are first low-pass filtered to
TARGET_RES = 6 Å with a Gaussian of σ = 0.225 × 6 Å = 1.35 Å (per axis: 1.35 Å / voxel size in
voxels; σ ≈ 0.225·d is the usual Gaussian blur of a map to resolution d, e.g. Chimera's
`molmap` uses σ = 0.225·d for its Gaussian density), on the map's native grid; voxels that
were exactly zero (outside the source's mask or zone) are set back to zero afterwards, so that
the mask and the non-zero voxels that define the fallback contour do not change. The output
marks such pairs "filtered".

Contour: the author contour is not available in realdata, so every pair uses
`fallback_contour` (mean + 1 σ of the non-zero voxels) of the whole map as scored (after
filtering where filtered).

Run from the repository root:

    .venv/bin/python -m benchmarks.quality [--realdata PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from benchmarks._harness import add_realdata_argument, primary_fits, text_table
from cryosse.core.classes import code_to_class
from cryosse.curate.crop import chain_box, resample_box
from cryosse.curate.dssp import assign_dssp
from cryosse.curate.quality import (
    QualitySettings,
    chain_helix_similarity,
    fallback_contour,
    precision_recall,
    quality_bin,
    zone_voxels,
)
from cryosse.io.density import DensityMap, read_map
from cryosse.io.structure import is_amino_acid, protein_residues, read_model

RADII = (2.0, 2.5, 3.0, 3.5)  # trial model-cylinder radii (Å)
HIGH_RES = 4.5  # maps better than this (Å) are low-pass filtered first
TARGET_RES = 6.0  # ... to this resolution (Å)
SIGMA_PER_RES = 0.225  # Gaussian σ = 0.225 × resolution (Å)
SHIFT = np.array([8.0, 0.0, 0.0])  # negative control: the model moved by 8 Å along x
PUBLISHED = (0.171, 0.848)  # JCIM 2020: per-helix F1 range over 30,994 helices at 5-10 Å
PADDING, VOXEL = 17.0, 1.0  # the curation box
SIGMAS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # contour sweep: mean + k σ of the non-zero voxels


def find_pairs(realdata: Path) -> list[dict[str, Any]]:
    """The documented primary (map, model) pairs of realdata."""
    return [
        {
            "emdb": entry.emdb_id,
            "pdb": entry.pdb_id.lower(),
            "resolution": entry.resolution,
            "kind": entry.map_kind,
            "map": entry.folder / fit.map_file,
            "model": entry.folder / fit.model_file,
        }
        for entry, fit in primary_fits(realdata)
    ]


def low_pass(density: DensityMap) -> DensityMap:
    """Gaussian low-pass to TARGET_RES on the native grid; zero voxels stay zero."""
    sigma_vox = SIGMA_PER_RES * TARGET_RES / density.voxel_size[::-1]  # [z, y, x] order
    data = gaussian_filter(density.data, sigma=sigma_vox, mode="constant").astype(np.float32)
    data[density.data == 0] = 0.0
    return DensityMap(data=data, origin=density.origin, voxel_size=density.voxel_size)


def _tagged_atoms(structure: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every atom of the model, tagged with its chain if it belongs to an amino acid: the
    chain's own atoms are those of `chain_atom_coordinates`, all others bound the zone."""
    xyz, owner = [], []
    for ch in structure[0]:
        for res_ in ch:
            tag = ch.name if is_amino_acid(res_) else ""
            for atom in res_:
                xyz.append((atom.pos.x, atom.pos.y, atom.pos.z))
                owner.append(tag)
    return np.array(xyz, dtype=np.float64).reshape(-1, 3), np.array(owner)


def _contour_sweep(
    values: np.ndarray, in_model: np.ndarray, mean_nz: float, std_nz: float
) -> tuple[dict[float, float], float]:
    """P − R at mean + k σ for each k of SIGMAS, and the k at which P = R (the contoured
    volume equals the model volume)."""
    sweep = {}
    for k in SIGMAS:
        above = values >= mean_nz + k * std_nz
        both = np.count_nonzero(above & in_model)
        p_k = both / np.count_nonzero(above) if above.any() else 0.0
        sweep[k] = p_k - both / np.count_nonzero(in_model)
    balanced = np.sort(values)[::-1][np.count_nonzero(in_model) - 1]
    return sweep, float((balanced - mean_nz) / std_nz)


def _score_chain(
    density: DensityMap,
    ca: np.ndarray,
    cls: np.ndarray,
    atoms: tuple[np.ndarray, np.ndarray],
    contour: float,
    nonzero_stats: tuple[float, float],
    settings: QualitySettings,
) -> dict[str, Any]:
    """One chain (its Cα, DSSP classes and atoms; the other atoms bound its zone), boxed and
    resampled as curation does it."""
    mine, others = atoms
    box = chain_box(mine, density, PADDING, VOXEL)
    boxed = resample_box(density, box)
    per_radius = {}
    for radius in RADII:
        trial = dataclasses.replace(settings, cylinder_radius=radius)
        mean, scores = chain_helix_similarity(boxed, box.origin, VOXEL, cls, ca, trial)
        per_radius[radius] = {
            "mean": mean,
            "f1": [s.f1 for s in scores],
            "chance": [s.n_model / s.n_window for s in scores],
        }
    mean, scores = chain_helix_similarity(boxed, box.origin, VOXEL, cls, ca, settings)
    shifted, _ = chain_helix_similarity(boxed, box.origin, VOXEL, cls, ca + SHIFT, settings)
    precision, recall = precision_recall(boxed, box.origin, VOXEL, mine, others, contour, settings)
    # The zone is computed once for the whole contour sweep.
    values, in_model = zone_voxels(boxed, box.origin, VOXEL, mine, others, settings)
    sweep, balanced_k = _contour_sweep(values, in_model, *nonzero_stats)
    return {
        "residues": len(ca),
        "helices": len(scores),
        "helix_residues": int(sum(s.n_residues for s in scores)),
        "mean_f1": mean,
        "shifted_mean_f1": shifted,
        "precision": precision,
        "recall": recall,
        "bin": quality_bin(mean, precision, recall, settings),
        "pr_sweep": sweep,
        "balanced_k": balanced_k,
        "per_radius": per_radius,
    }


def score_pair(pair: dict[str, Any], settings: QualitySettings) -> dict[str, Any]:
    start = time.perf_counter()
    density = read_map(pair["map"])
    res = pair["resolution"]
    filtered = res is not None and res < HIGH_RES
    if filtered:
        density = low_pass(density)
    contour = fallback_contour(density.data, settings.sigma_factor)
    nonzero = density.data[density.data != 0].astype(np.float64)
    stats = (float(nonzero.mean()), float(nonzero.std()))
    structure = read_model(pair["model"])
    residues = protein_residues(structure)
    codes = assign_dssp(structure)
    classes = np.array([code_to_class(codes.get(r.key, "")) for r in residues], dtype=np.uint8)
    ca_all = np.array([r.ca for r in residues], dtype=np.float64)
    everything, owners = _tagged_atoms(structure)
    chains = []
    for name in dict.fromkeys(r.chain for r in residues):
        idx = [i for i, r in enumerate(residues) if r.chain == name]
        atoms = (everything[owners == name], everything[owners != name])
        chain = _score_chain(density, ca_all[idx], classes[idx], atoms, contour, stats, settings)
        chains.append({"chain": name, **chain})
    return {
        "pair": f"{pair['emdb']}/{pair['pdb']}",
        "map": pair["map"].name,
        "resolution": res,
        "kind": pair["kind"],
        "filtered": filtered,
        "voxel_size": [float(v) for v in density.voxel_size],
        "contour": contour,
        "chains": chains,
        "seconds": time.perf_counter() - start,
    }


def _dist(values: list[float]) -> str:
    if not values:
        return "n=0"
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return (
        f"n={len(values):3d}  min {q[0]:.3f}  Q1 {q[1]:.3f}  median {q[2]:.3f}  "
        f"Q3 {q[3]:.3f}  max {q[4]:.3f}"
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report(results: list[dict[str, Any]], settings: QualitySettings, seconds: float) -> str:
    out = [
        "cryosse quality calibration (benchmarks/quality.py)",
        f"settings: {settings}",
        f"pairs: {len(results)}; high-resolution maps (< {HIGH_RES} Å) Gaussian-filtered to "
        f"{TARGET_RES} Å (σ = {SIGMA_PER_RES * TARGET_RES:.2f} Å): "
        + (", ".join(r["pair"] for r in results if r["filtered"]) or "none"),
        f"published per-helix range (JCIM 2020, 5-10 Å): {PUBLISHED[0]}-{PUBLISHED[1]}",
        "",
        "per-helix F1 by model-cylinder radius (chance = median |M|/|W|; "
        "'in range' = share inside the published range)",
    ]
    out += _radius_lines(results)
    out += [
        "",
        f"per chain at the defaults (cylinder_radius {settings.cylinder_radius} Å, "
        f"F1 threshold {settings.f1_threshold}, |P−R| threshold {settings.pr_threshold}); "
        f"'shifted' = the model moved by {SHIFT.tolist()} Å",
    ]
    out += _chain_table(results)
    out += [
        "",
        "contour sweep: P − R at contour = mean + k σ of the map's non-zero voxels, and "
        "the k at which P = R (contoured volume = model volume in the zone)",
    ]
    header = ["pair", "chain", *(f"k={k:+g}" for k in SIGMAS), "k(P=R)"]
    rows = [
        [
            r["pair"],
            c["chain"],
            *(f"{c['pr_sweep'][k]:+.3f}" for k in SIGMAS),
            f"{c['balanced_k']:+.2f}",
        ]
        for r in results
        for c in r["chains"]
    ]
    out += text_table(header, rows, left={0, 1})
    chains = [c for r in results for c in r["chains"]]
    diffs = [c["precision"] - c["recall"] for c in chains]
    bins = [c["bin"] for c in chains]
    balanced = [c["balanced_k"] for c in chains]
    out += [
        "",
        f"P − R over chains: {_dist(diffs)}",
        f"|P − R| over chains: {_dist([abs(d) for d in diffs])}",
        f"k(P=R) over chains: {_dist(balanced)}",
        "bins: " + ", ".join(f"{b}: {bins.count(b)}" for b in (1, 2, 3, 4)),
        "seconds per pair: " + ", ".join(f"{r['pair']} {r['seconds']:.1f}" for r in results),
        f"total {seconds:.1f} s",
    ]
    return "\n".join(out)


def _radius_lines(results: list[dict[str, Any]]) -> list[str]:
    """The per-helix F1 distribution for each trial radius, by map group."""
    out = []
    groups = {
        "all": results,
        "medium-res (as is)": [r for r in results if not r["filtered"]],
        "high-res (filtered)": [r for r in results if r["filtered"]],
    }
    for radius in RADII:
        out.append(f"  cylinder_radius = {radius} Å")
        for label, members in groups.items():
            f1 = [f for r in members for c in r["chains"] for f in c["per_radius"][radius]["f1"]]
            chance = [
                x for r in members for c in r["chains"] for x in c["per_radius"][radius]["chance"]
            ]
            inside = np.mean([PUBLISHED[0] <= f <= PUBLISHED[1] for f in f1]) if f1 else 0.0
            extra = f"  chance {np.median(chance):.3f}  in range {inside:.0%}" if f1 else ""
            out.append(f"    {label:20s} {_dist(f1)}{extra}")
        means = [c["per_radius"][radius]["mean"] for r in results for c in r["chains"]]
        out.append(f"    {'chain means':20s} {_dist([m for m in means if m is not None])}")
    return out


def _chain_table(results: list[dict[str, Any]]) -> list[str]:
    header = [
        "pair",
        "map",
        "res",
        "filtered",
        "contour",
        "chain",
        "res.",
        "helices",
        "mean F1",
        "shifted",
        "P",
        "R",
        "P−R",
        "bin",
    ]
    rows = []
    for r in results:
        for c in r["chains"]:
            rows.append(
                [
                    r["pair"],
                    r["map"],
                    "?" if r["resolution"] is None else f"{r['resolution']:g}",
                    "filtered" if r["filtered"] else "as is",
                    f"{r['contour']:.4g}",
                    c["chain"],
                    str(c["residues"]),
                    str(c["helices"]),
                    _fmt(c["mean_f1"]),
                    _fmt(c["shifted_mean_f1"]),
                    _fmt(c["precision"]),
                    _fmt(c["recall"]),
                    f"{c['precision'] - c['recall']:+.3f}",
                    str(c["bin"]),
                ]
            )
    return text_table(header, rows, left={0, 1, 3, 5})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_realdata_argument(parser)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    realdata = args.realdata.resolve()
    if not (realdata / "INDEX.json").is_file():
        parser.error(f"no INDEX.json in {realdata}")
    settings = QualitySettings()
    start = time.perf_counter()
    results = []
    for pair in find_pairs(realdata):
        print(f"{pair['emdb']}/{pair['pdb']} {pair['map'].name} ...", file=sys.stderr, flush=True)
        results.append(score_pair(pair, settings))
    print(report(results, settings, time.perf_counter() - start))
    if args.json:
        text = json.dumps(
            {"settings": dataclasses.asdict(settings), "pairs": results}, indent=2, default=str
        )
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
