"""Benchmark: the realism gap between simulated / derived maps and real ones, as the network
sees them (boxes resampled to 1 Å, `cryosse.learn.network_input.normalize_density`, 2 Å block means;
metrics: `cryosse.synthetic.realism`), before and after each change to the simulation.

Reference ("real unzoned"): EMD-5168 full unmasked map (6.6 Å), EMD-0093 depositor-masked and
EMD-3488 full, both low-passed to 6, 8 and 10 Å (`derive.lowpass`). Second reference: the five
He-lab component maps (zoned). Compared with each reference:

- derived: the training's other derived maps (EMD-2566, 6272, 6374, 21457 low-passed to 7 and
  9 Å; EMD-3488 and EMD-0093 are held out of training);
- matched:<profile>: the real maps' own models simulated at the real maps' resolutions;
- training:<profile>: `TRAINING_SAMPLE` structures of ../shared/structures (every 38th by
  name), one map each at a resolution drawn in 5-10 Å, as the offline mirror makes them.

Profiles (`parameters.PROFILES`, each adds one change to the previous one): v1 (the maps behind
the shipped model), voxels, solvent, masks, assembly, emdb (+ nucleic acids).

    .venv/bin/python -m benchmarks.realism --realdata ../shared/realdata \
        --structures ../shared/structures [--profiles v1,emdb] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import add_realdata_argument, host_facts
from cryosse.core.ids import entry_rng
from cryosse.io.density import DensityMap, read_map
from cryosse.learn.network_input import normalize_density
from cryosse.synthetic import realism
from cryosse.synthetic.assembly import checked_assembly, model_composition
from cryosse.synthetic.atoms import atoms_from_structure, load_atoms, read_clean_structure
from cryosse.synthetic.derive import lowpass
from cryosse.synthetic.deviations import P_NUCLEIC
from cryosse.synthetic.parameters import PROFILES
from cryosse.synthetic.recipe import simulate_atoms

UNZONED = (  # folder, map, model, source resolution, target resolutions (None: as is)
    ("EMD-5168", "emd_5168.map.gz", "3MFP.pdb", 6.6, (None,)),
    ("EMD-0093", "MAP_m4A.mrc.gz", "6gyn.pdb", 3.4, (6.0, 8.0, 10.0)),
    ("EMD-3488", "emd_3488.mrc.gz", "5me2.pdb", 3.2, (6.0, 8.0, 10.0)),
)
COMPONENTS = (
    ("EMD-6149", "X-1.0APIX.mrc.gz", "X_fitted.pdb", 5.0),
    ("EMD-8518", "A-1.0APIX.mrc", "A_fitted.pdb", 6.1),
    ("EMD-3491", "L-1.0APIX.mrc", "L_fitted.pdb", 5.3),
    ("EMD-3491", "X-1.0APIX.mrc", "X_fitted.pdb", 5.3),
    ("EMD-1657", "AM-1.0APIX.mrc", "AM_fitted.pdb", 5.8),
)
DERIVED = (
    ("EMD-2566", "2566_3J6B_9.mrc", "3J6B_9.pdb"),
    ("EMD-6272", "6272.mrc", "6272.pdb"),
    ("EMD-6374", "6374.mrc", "3jb0-D.pdb"),
    ("EMD-21457", "emd_21457_seg.mrc", "6vyb_Ndom.pdb"),
)
DERIVED_RESOLUTIONS = (7.0, 9.0)
TRAINING_SAMPLE = 10
BOXES_REAL, BOXES_SIM = 6, 4


def atoms_xyz(path: Path) -> np.ndarray:
    return load_atoms(path).xyz


def real_set(realdata: Path) -> realism.BoxSet:
    out = realism.BoxSet("real unzoned")
    for folder, map_file, model_file, _, targets in UNZONED:
        density = read_map(realdata / folder / map_file)
        xyz = atoms_xyz(realdata / folder / model_file)
        for target in targets:
            d = density
            if target is not None:
                voxel = float(density.voxel_size[0])
                data = lowpass(density.data.astype(np.float64), voxel, target)
                d = DensityMap(data.astype(np.float32), density.origin, density.voxel_size)
            name = f"{folder}@{target or 'as is'}"
            out.boxes += realism.map_boxes(name, d, xyz, normalize_density, BOXES_REAL)
    return out


def component_set(realdata: Path) -> realism.BoxSet:
    out = realism.BoxSet("real components")
    for folder, map_file, model_file, _ in COMPONENTS:
        density = read_map(realdata / folder / map_file)
        xyz = atoms_xyz(realdata / folder / model_file)
        out.boxes += realism.map_boxes(
            f"{folder}/{map_file}", density, xyz, normalize_density, BOXES_REAL
        )
    return out


def derived_set(realdata: Path) -> realism.BoxSet:
    out = realism.BoxSet("derived")
    for folder, map_file, model_file in DERIVED:
        density = read_map(realdata / folder / map_file)
        xyz = atoms_xyz(realdata / folder / model_file)
        voxel = float(density.voxel_size[0])
        for target in DERIVED_RESOLUTIONS:
            data = lowpass(density.data.astype(np.float64), voxel, target).astype(np.float32)
            d = DensityMap(data, density.origin, density.voxel_size)
            out.boxes += realism.map_boxes(
                f"{folder}@{target}", d, xyz, normalize_density, BOXES_SIM
            )
    return out


def simulated_boxes(
    name: str, path: Path, profile: str, seed: int, resolution: float | None
) -> list[realism.BoxStats]:
    structure = read_clean_structure(path)
    deposited = atoms_from_structure(structure, path.name)
    atoms = deposited
    if PROFILES[profile].assembly:
        built = checked_assembly(structure)  # as the mirror builds it
        if built.record.get("used"):
            atoms = atoms_from_structure(built.structure, path.name)
    rng = entry_rng(seed, name, path.name)
    sim = simulate_atoms(atoms, rng, resolution, profile)
    density = DensityMap(sim.data, sim.origin, np.full(3, sim.voxel))
    # boxes on the deposited chains (the curated samples' centres), distances to every atom
    centres = deposited.xyz[deposited.ca_index]
    pick = realism.box_rng(name).choice(len(centres), size=BOXES_SIM, replace=False)
    return realism.map_boxes(name, density, atoms.xyz, normalize_density, centres_xyz=centres[pick])


def matched_set(realdata: Path, profile: str, seed: int) -> realism.BoxSet:
    out = realism.BoxSet(f"matched:{profile}")
    for folder, _, model_file, source, targets in UNZONED:
        for target in targets:
            res = target or source
            for s in (seed, seed + 1):
                out.boxes += simulated_boxes(
                    f"sim-{folder}@{res}-{s}", realdata / folder / model_file, profile, s, res
                )
    return out


def training_set(structures: Path, profile: str, seed: int) -> realism.BoxSet:
    out = realism.BoxSet(f"training:{profile}")
    files = sorted(p for p in structures.iterdir() if p.name.endswith((".pdb.gz", ".cif.gz")))
    for path in files[:: max(1, len(files) // TRAINING_SAMPLE)][:TRAINING_SAMPLE]:
        out.boxes += simulated_boxes(f"train-{path.name}", path, profile, seed, None)
    return out


COLUMNS = (
    ("inside_w1", "inside W1", "{:.3f}"),
    ("outside_w1", "outside W1", "{:.3f}"),
    ("spectrum_rms", "spectrum", "{:.3f}"),
    ("local_variance_ratio", "loc.var ×", "{:.2f}"),
    ("kurtosis_other", "kurtosis", "{:.2f}"),
    ("zero_fraction_other", "zeros", "{:.2f}"),
    ("outside_sd_other", "solvent sd", "{:.3f}"),
    ("classifier_auc", "AUC", "{:.2f}"),
)


def print_table(reference: realism.BoxSet, others: list[realism.BoxSet]) -> list[dict]:
    print(f"\nreference: {reference.name} ({len(reference.boxes)} boxes)")
    header = f"  {'set':22s}" + "".join(f"{label:>12s}" for _, label, _ in COLUMNS)
    print(header)
    ref_row = f"  {'(reference itself)':22s}{'':>12s}{'':>12s}{'':>12s}{'1.00':>12s}"
    ref = realism.compare(reference, reference)
    for key in ("kurtosis_reference", "zero_fraction_reference", "outside_sd_reference"):
        ref_row += f"{ref[key]:>12.3f}"
    print(ref_row + f"{'':>12s}")
    rows = []
    for other in others:
        figures = realism.compare(reference, other)
        print(
            f"  {other.name:22s}"
            + "".join(f"{fmt.format(figures[key]):>12s}" for key, _, fmt in COLUMNS)
        )
        rows.append({"reference": reference.name, "set": other.name, **figures})
    return rows


def print_composition(structures: Path) -> None:
    """Chains, residues, assemblies and nucleic acids of the simulated models, v1 (model 1 as
    deposited) against the assembly profiles (assembly + packed neighbours, cropped)."""
    files = sorted(p for p in structures.iterdir() if p.name.endswith((".pdb.gz", ".cif.gz")))
    before: list[dict[str, int]] = []
    after: list[dict[str, int]] = []
    used = skipped = 0
    reasons: dict[str, int] = {}
    for path in files:
        structure = read_clean_structure(path)
        before.append(model_composition(structure))
        built = checked_assembly(structure)
        after.append(model_composition(built.structure))
        used += bool(built.record.get("used"))
        if not built.record.get("used"):
            key = built.record.get("reason", "")[:40]
            reasons[key] = reasons.get(key, 0) + 1
            skipped += "over" in key
    print(f"\ncomposition of the {len(files)} simulated models (../shared/structures):")
    print(f"  {'':32s}{'v1 (model 1)':>14s}{'emdb (assembly)':>17s}")
    for key in ("protein_chains", "protein_residues", "nucleotides"):
        b = np.array([c[key] for c in before])
        a = np.array([c[key] for c in after])
        print(f"  {key + ' total':32s}{b.sum():>14d}{a.sum():>17d}")
        print(f"  {key + ' median per model':32s}{np.median(b):>14.0f}{np.median(a):>17.0f}")
    single_b = sum(c["protein_chains"] == 1 for c in before)
    single_a = sum(c["protein_chains"] == 1 for c in after)
    print(f"  {'single-chain models':32s}{single_b:>14d}{single_a:>17d}")
    na_b = sum(c["nucleotides"] > 0 for c in before)
    na_a = sum(c["nucleotides"] > 0 for c in after)
    print(f"  {'models with nucleic acid':32s}{na_b:>14d}{na_a:>17d}")
    print(
        f"  maps with nucleic-acid density: v1 {na_b / len(files):.0%}; emdb "
        f"{na_b / len(files) + (1 - na_b / len(files)) * P_NUCLEIC:.0%} expected "
        f"(native + a B-DNA duplex in {P_NUCLEIC:.0%} of maps)"
    )
    print(f"  assembly or neighbours added: {used} of {len(files)}; not added: {reasons}")
    print(f"  too large for the atom cap ({skipped}): deposited model alone")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_realdata_argument(parser)
    parser.add_argument("--structures", type=Path, required=True)
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write every figure here too")
    parser.add_argument(
        "--composition", action="store_true", help="print the models' composition only"
    )
    args = parser.parse_args(argv)
    print("machine:", host_facts())
    start = time.perf_counter()
    if args.composition:
        print_composition(args.structures)
        print(f"\n{time.perf_counter() - start:.0f} s wall")
        return 0
    real, components, derived = (
        real_set(args.realdata),
        component_set(args.realdata),
        derived_set(args.realdata),
    )
    others = [derived]
    for profile in args.profiles.split(","):
        others.append(matched_set(args.realdata, profile, args.seed))
        others.append(training_set(args.structures, profile, args.seed))
    print(
        "metrics after the network's normalisation, 2 Å grid, boxes of 48 Å; W1: Wasserstein "
        "distance of the values ≤ 3 Å (inside) / ≥ 6 Å (outside) from the model; spectrum: RMS "
        "log10 gap of the mean radial power spectra; loc.var ×: median local variance / the "
        "reference's; kurtosis, zeros, solvent sd: medians per box of the set (the reference's "
        "on the first line); AUC: logistic regression on per-box features, 5-fold by map"
    )
    rows = print_table(real, others) + print_table(components, others)
    print(f"\n{time.perf_counter() - start:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
