"""Benchmark: do simulated and derived maps look like the real medium-resolution maps?

For every real medium-resolution pair of realdata (EMD-3491 chain L, EMD-5168 full map,
EMD-6149, EMD-8518; EMD-1657 has no known resolution and is shown at an assumed 7.5 Å, left out
of the averages) the benchmark builds, at the real map's resolution:

- sim: `recipe.simulate_atoms` on the pair's own model (every other parameter drawn as in
  `cryosse simulate`, seeded);
- clean: the same without noise (SNR 10⁶), to show what the noise model adds;
- derived: `derive.lowpass` of the high-resolution real map EMD-3488 (3.2 Å) to that resolution.

Zoned real maps (He-lab components: zero beyond some distance from the chain) are compared with
simulated maps zoned at the same distance (the largest atom distance of a non-zero real voxel),
so that the mask edge, which dominates high frequencies, is the same on both sides.

Printed per pair: the radial power spectrum (mean |F|² in 0.02 Å⁻¹ shells, normalised to the
first shell, log10) of real / sim / clean / derived, the spectral distance (RMS of the log10
difference to the real spectrum over the shells from 0.02 Å⁻¹ to Nyquist), and the voxel-value
statistics of the non-zero voxels (skewness, excess kurtosis, fraction above mean + 2 sd).
PNGs in --out: central z-slices through the model centre (real | sim | clean | derived) and the
spectra.

    .venv/bin/python -m benchmarks.simulation --realdata ../shared/realdata --out /tmp/simpng
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import kurtosis, skew

from benchmarks._harness import add_realdata_argument, host_facts
from cryosse.core.ids import entry_rng
from cryosse.io.density import DensityMap, read_map
from cryosse.synthetic import masks, noise
from cryosse.synthetic.atoms import load_atoms
from cryosse.synthetic.derive import lowpass
from cryosse.synthetic.fourier import k_squared
from cryosse.synthetic.recipe import simulate_atoms

PAIRS = (  # folder, map, model, resolution (None: unknown)
    ("EMD-3491", "L-1.0APIX.mrc", "L_fitted.pdb", 5.3),
    ("EMD-5168", "emd_5168.map.gz", "3MFP.pdb", 6.6),
    ("EMD-6149", "X-1.0APIX.mrc.gz", "X_fitted.pdb", 5.0),
    ("EMD-8518", "A-1.0APIX.mrc", "A_fitted.pdb", 6.1),
    ("EMD-1657", "AM-1.0APIX.mrc", "AM_fitted.pdb", None),
)
ASSUMED_RESOLUTION = 7.5
DERIVED_SOURCE = ("EMD-3488", "emd_3488.mrc.gz", 3.2)
SHELL = 0.02  # Å⁻¹


def radial_spectrum(data: np.ndarray, voxel: float, k_max: float) -> np.ndarray:
    """Mean power per 0.02 Å⁻¹ shell up to k_max, normalised to the first shell, log10."""
    values = data - data.mean()
    power = np.abs(np.fft.rfftn(values)) ** 2
    k = np.sqrt(k_squared(values.shape, voxel))
    edges = np.arange(SHELL, k_max + 1e-9, SHELL)
    shells = np.digitize(k, edges)
    sums = np.bincount(shells.ravel(), weights=power.ravel(), minlength=len(edges) + 1)
    counts = np.bincount(shells.ravel(), minlength=len(edges) + 1)
    mean = sums[1 : len(edges)] / np.maximum(counts[1 : len(edges)], 1)
    return np.log10(np.maximum(mean / mean[0], 1e-12))


def zone(
    data: np.ndarray, origin: np.ndarray, voxel: float, atoms: np.ndarray, radius: float
) -> np.ndarray:
    nz, ny, nx = data.shape
    zz, yy, xx = np.indices(data.shape)
    pos = np.stack([xx, yy, zz], -1).reshape(-1, 3) * voxel + origin
    dist = cKDTree(atoms).query(pos, distance_upper_bound=radius + 1e-6)[0].reshape(nz, ny, nx)
    return np.where(dist <= radius, data, 0.0)


def zone_radius(real: np.ndarray, origin: np.ndarray, voxel: float, atoms: np.ndarray) -> float:
    """The largest distance from the model of a non-zero voxel (inf for an unzoned map)."""
    if np.mean(real == 0) < 0.3:
        return float("inf")
    zz, yy, xx = np.nonzero(real)
    pos = np.stack([xx, yy, zz], -1) * voxel + origin
    return float(np.percentile(cKDTree(atoms).query(pos)[0], 99.5))


def stats(data: np.ndarray) -> tuple[float, float, float]:
    v = data[data != 0].astype(np.float64)
    z = (v - v.mean()) / v.std()
    return float(skew(z)), float(kurtosis(z)), float(np.mean(z > 2))


def central_slice(data: np.ndarray, origin: np.ndarray, voxel: float, centre: np.ndarray):
    iz = int(np.clip(round((centre[2] - origin[2]) / voxel), 0, data.shape[0] - 1))
    return data[iz]


Maps = dict[str, tuple[np.ndarray, np.ndarray, float]]  # name -> (data, origin, voxel)


def _maps(
    args: argparse.Namespace,
    source: DensityMap,
    real: DensityMap,
    atoms: Any,
    folder: str,
    model_file: str,
    res: float,
) -> tuple[Maps, float, float]:
    """The real map beside the simulated one (with and without noise, zoned like the real
    one) and the map derived from DERIVED_SOURCE; the zone radius and the simulated SNR."""
    voxel = float(real.voxel_size[0])
    maps: Maps = {"real": (real.data, real.origin, voxel)}
    radius = zone_radius(real.data, real.origin, voxel, atoms.xyz)
    for name, snr in (("sim", None), ("clean", (1e6, 1e6))):
        saved = noise.SNR, masks.P_MASK
        noise.SNR = snr or saved[0]
        masks.P_MASK = 0.0  # zoned below like the real map, not at random
        try:
            rng = entry_rng(args.seed, folder, "benchmark")
            fresh = load_atoms(args.realdata / folder / model_file)
            sim = simulate_atoms(fresh, rng, res)
        finally:
            noise.SNR, masks.P_MASK = saved
        data = sim.data
        if np.isfinite(radius):
            data = zone(data, sim.origin, sim.voxel, atoms.xyz, radius)
        maps[name] = (data, sim.origin, sim.voxel)
        if name == "sim":
            snr_drawn = sim.params["noise"]["snr"]
    derived = lowpass(source.data.astype(np.float64), float(source.voxel_size[0]), res)
    maps["derived"] = (derived, source.origin, float(source.voxel_size[0]))
    return maps, radius, snr_drawn


def _figure(
    maps: Maps,
    spectra: dict[str, np.ndarray],
    shells: np.ndarray,
    centre: np.ndarray,
    res: float,
    label: str,
    path: Path,
) -> None:
    """Central slices of each map and their radial spectra, as one PNG."""
    fig, axes = plt.subplots(1, 5, figsize=(20, 4))
    for ax, (name, (data, origin, vx)) in zip(axes, maps.items(), strict=False):
        if name == "derived":
            centre_d = origin + np.array(data.shape[::-1]) * vx / 2
            image = central_slice(data, origin, vx, centre_d)
        else:
            image = central_slice(data, origin, vx, centre)
        ax.imshow(image, origin="lower", cmap="gray")
        ax.set_title(f"{name} ({vx:.2f} Å voxels)")
        ax.axis("off")
    for name, spectrum in spectra.items():
        axes[4].plot(shells, spectrum, label=name)
    axes[4].set_xlabel("k (1/Å)")
    axes[4].set_ylabel("log10 power (norm.)")
    axes[4].axvline(1 / res, color="k", lw=0.5)
    axes[4].legend()
    fig.suptitle(
        label + f" — real | simulated | simulated without noise | derived from {DERIVED_SOURCE[0]}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_realdata_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print("machine:", host_facts())
    source = read_map(args.realdata / DERIVED_SOURCE[0] / DERIVED_SOURCE[1])
    distances: dict[str, list[float]] = {"sim": [], "clean": [], "derived": []}
    kurt: dict[str, list[float]] = {"real": [], "sim": [], "clean": [], "derived": []}
    for folder, map_file, model_file, resolution in PAIRS:
        known = resolution is not None
        res = resolution if known else ASSUMED_RESOLUTION
        real = read_map(args.realdata / folder / map_file)
        atoms = load_atoms(args.realdata / folder / model_file)
        maps, radius, snr_drawn = _maps(args, source, real, atoms, folder, model_file, res)
        k_max = min(0.5 / m[2] for m in maps.values()) - 1e-6
        spectra = {name: radial_spectrum(m[0], m[2], k_max) for name, m in maps.items()}
        shells = np.arange(SHELL, k_max, SHELL)[: len(spectra["real"])] + SHELL / 2
        label = f"{folder} ({res:.1f} Å{'' if known else ', assumed'}, zone "
        label += f"{radius:.1f} Å" if np.isfinite(radius) else "none"
        label += f", sim SNR {snr_drawn:.1f})"
        print(f"\n{label}\n  k (1/Å)  " + "  ".join(f"{n:>8}" for n in spectra))
        for i, k in enumerate(shells):
            print(f"  {k:7.3f}  " + "  ".join(f"{spectra[n][i]:8.2f}" for n in spectra))
        row = []
        for name in ("sim", "clean", "derived"):
            d = float(np.sqrt(np.mean((spectra[name] - spectra["real"]) ** 2)))
            row.append(f"{name} {d:.2f}")
            if known:
                distances[name].append(d)
        print("  spectral distance to real (RMS log10):", ", ".join(row))
        for name, m in maps.items():
            s, k, tail = stats(m[0])
            if known:
                kurt[name].append(k)
            print(f"  {name:8s} skew {s:6.2f}  excess kurtosis {k:6.2f}  >mean+2sd {tail:.3f}")

        _figure(
            maps, spectra, shells, atoms.xyz.mean(axis=0), res, label, args.out / f"{folder}.png"
        )
    print("\nmean over the pairs of known resolution:")
    for name, values in distances.items():
        print(f"  spectral distance real-{name}: {np.mean(values):.2f}")
    for name, values in kurt.items():
        print(f"  excess kurtosis {name}: {np.mean(values):.2f}")
    print(f"PNGs: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
