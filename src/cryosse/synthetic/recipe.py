"""The recipe of one simulated medium-resolution (5–10 Å) map: every parameter drawn from the
map's RNG, then the density computed on the map's grid.

All parameters are sampled per map from a RNG seeded by sha256 of seed:emdb_id:pdb_id
(`core.ids.entry_rng`), so a map is reproducible byte for byte; they are all recorded in
`other/simulation.json` and summarised in the header comment. The steps draw in a fixed order;
a change of that order changes every map.

- atoms (`atoms.py`) are Gaussians with amplitude = electron count × occupancy; per-axis
  variance σ² = σ_res² + (B_atom + B_global)/(8π²) with σ_res = 0.225 · resolution (the
  ChimeraX `molmap` convention: sigmaFactor 1/(π√2)). Computation: atoms are splatted with
  trilinear weights into four B-quantile grids, each Fourier-transformed once and multiplied by
  its Gaussian transfer function exp(−2π²σ²|k|²) (FFT grid padded by 3σ, so nothing wraps
  around);
- local resolution: a second, blurrier map at resolution × `worst_factor` is blended in with a
  smooth weight field w ∈ [0, 1] = mix of a core-to-surface gradient and a random field
  (white noise low-passed at `field_length` Å);
- missing, extra and nucleic-acid density and uneven order (`deviations.py`);
- noise (`noise.py`), scaled so that mean(signal in the molecular envelope) / std(noise) = `snr`;
- masks (`masks.py`);
- map values = scale · (density + noise) + offset (arbitrary units, may be negative);
- grid: cubic voxels of 0.8–1.6 Å (raised, and recorded, when an axis would exceed
  `MAX_GRID` voxels), a box of the model's extent + 6–20 Å padding drawn per side (non-cubic),
  positioned either by ORIGIN (Å) or by NSTART (voxels, ORIGIN 0), drawn 50/50;
- the header's primary contour is the level that encloses the model's volume (17 Å³ per
  heavy atom), as an author's contour would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft

from cryosse.synthetic.atoms import B_CLIP, Atoms
from cryosse.synthetic.deviations import Deviations, draw_deviations
from cryosse.synthetic.fourier import (
    BUTTERWORTH_ORDERS,
    butterworth,
    gaussian_transfer,
    k_squared,
    sigma_for_resolution,
    smooth_field,
)
from cryosse.synthetic.masks import apply_mask
from cryosse.synthetic.noise import solvent_noise, v1_noise
from cryosse.synthetic.parameters import (
    FIELD_LENGTH,
    RESOLUTION,
    VOLUME_PER_ATOM,
    Profile,
    profile_named,
    uniform,
)

VOXEL = (0.8, 1.6)
PADDING = (6.0, 20.0)
MAX_GRID = 256
B_GLOBAL = (0.0, 80.0)
N_B_GROUPS = 4
WORST_FACTOR = (1.0, 1.6)
SHARPENING = (0.5, 1.0)
CONTOUR_VOLUME = (35.0, 60.0)
CONTOUR_VOLUME_EMDB = (30.0, 50.0)
# What an EMDB-like map changes (docs/simulation.md, "Realism"), measured alone by
# benchmarks/realism.py.
COARSE_VOXEL = (0.8, 3.0)  # Å; medium-resolution EMDB maps are sampled at 1-3 Å
NYQUIST_FRACTION = 0.45  # voxel ≤ 0.45 · resolution: the map still samples its resolution
FULL_PADDING = (18.0, 26.0)  # Å: a full map's solvent reaches past the 17 Å crop padding
SHARPENING_EMDB = (0.2, 0.6)  # real maps are sharpened harder than version 1 drew ...
B_GLOBAL_EMDB = (0.0, 20.0)  # ... and their B-factor is mostly corrected


@dataclass
class SimulatedMap:
    data: np.ndarray  # float32 [z, y, x]
    voxel: float
    origin: np.ndarray  # xyz of voxel [0,0,0], Å
    nstart: tuple[int, int, int]  # (0, 0, 0) unless positioned by NSTART
    origin_mode: str
    contour: float
    params: dict[str, Any]


@dataclass(frozen=True)
class _Grid:
    """The map's lattice: voxel size (raised from the drawn one if the box needs it), origin."""

    voxel: float
    voxel_drawn: float
    padding: np.ndarray  # 2×3 Å: low and high sides, xyz
    origin_mode: str  # "nstart" or "origin"
    nstart: np.ndarray
    origin: np.ndarray  # xyz of voxel [0, 0, 0], Å
    shape_xyz: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (int(self.shape_xyz[2]), int(self.shape_xyz[1]), int(self.shape_xyz[0]))


@dataclass(frozen=True)
class _Blur:
    """Post-processing: a Gaussian narrowed by `sharpening`, a Butterworth cut at 1/resolution,
    and the worst local resolution's (res × worst_factor) wider Gaussian."""

    res: float
    sharpening: float
    order: int
    sigma_res: float
    worst_factor: float
    sigma_worst: float


def splat(
    xyz: np.ndarray,
    weight: np.ndarray,
    origin: np.ndarray,
    voxel: float,
    shape_zyx: tuple[int, int, int],
) -> np.ndarray:
    """Trilinear splatting of point weights onto a [z, y, x] grid (points outside dropped)."""
    f = (xyz - origin) / voxel
    i0 = np.floor(f).astype(np.int64)
    t = f - i0
    nz, ny, nx = shape_zyx
    out = np.zeros(nz * ny * nx, dtype=np.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                ix, iy, iz = i0[:, 0] + dx, i0[:, 1] + dy, i0[:, 2] + dz
                w = (
                    weight
                    * np.where(dx, t[:, 0], 1 - t[:, 0])
                    * np.where(dy, t[:, 1], 1 - t[:, 1])
                    * np.where(dz, t[:, 2], 1 - t[:, 2])
                )
                ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny) & (iz >= 0) & (iz < nz)
                flat = (iz[ok] * ny + iy[ok]) * nx + ix[ok]
                out += np.bincount(flat, weights=w[ok], minlength=out.size)
    return out.reshape(shape_zyx)


def _draw_sampling(
    rng: np.random.Generator, profile: Profile, res: float
) -> tuple[float, np.ndarray]:
    """The drawn voxel size and the box's padding (2×3 Å)."""
    if profile.coarse_voxels:
        voxel = min(uniform(rng, COARSE_VOXEL), NYQUIST_FRACTION * res)
        return voxel, rng.uniform(*FULL_PADDING, size=(2, 3))
    voxel = uniform(rng, VOXEL)
    return voxel, rng.uniform(*PADDING, size=(2, 3))


def _place_grid(
    rng: np.random.Generator, xyz: np.ndarray, voxel_drawn: float, padding: np.ndarray
) -> _Grid:
    """The box around the model and its padding, positioned by NSTART or ORIGIN (50/50)."""
    lo = xyz.min(axis=0) - padding[0]
    hi = xyz.max(axis=0) + padding[1]
    voxel = max(voxel_drawn, float(np.max(hi - lo)) / (MAX_GRID - 1))
    origin_mode = "nstart" if rng.random() < 0.5 else "origin"
    if origin_mode == "nstart":
        nstart = np.floor(lo / voxel).astype(int)
        origin = nstart * voxel
    else:
        nstart, origin = np.zeros(3, dtype=int), lo.copy()
    shape_xyz = np.ceil((hi - origin) / voxel).astype(int) + 1
    return _Grid(voxel, voxel_drawn, padding, origin_mode, nstart, origin, shape_xyz)


def _draw_blur(rng: np.random.Generator, profile: Profile, res: float) -> _Blur:
    # Post-processed maps are sharpened (B-factor correction) and low-passed at 1/resolution:
    # the Gaussian is narrowed by `sharpening` and a Butterworth filter cuts at 1/resolution.
    sharpening = uniform(rng, SHARPENING_EMDB if profile.heterogeneity else SHARPENING)
    order = int(rng.integers(BUTTERWORTH_ORDERS[0], BUTTERWORTH_ORDERS[1] + 1))
    sigma_res = sharpening * sigma_for_resolution(res)
    worst_factor = uniform(rng, WORST_FACTOR)
    sigma_worst = sharpening * sigma_for_resolution(res * worst_factor)
    return _Blur(res, sharpening, order, sigma_res, worst_factor, sigma_worst)


def _density_maps(
    grid: _Grid, blur: _Blur, b_global: float, atoms: Atoms, extra: Deviations
) -> tuple[np.ndarray, np.ndarray]:
    """The noise-free map at the nominal and at the worst local resolution."""
    voxel, shape = grid.voxel, grid.shape
    # Trilinear splatting already spreads a point by a variance of voxel²/6 per axis.
    splat_var = voxel**2 / 6.0
    max_sigma = math.sqrt(blur.sigma_worst**2 + (B_CLIP[1] + b_global) / (8 * math.pi**2))
    pad = math.ceil(3 * max_sigma / voxel)
    big = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in shape)
    big_origin = grid.origin - pad * voxel
    k2 = k_squared(big, voxel)

    all_xyz = np.concatenate([atoms.xyz, extra.pseudo])
    all_w = np.concatenate([atoms.weight, extra.pseudo_w])
    all_b = np.concatenate([atoms.b, np.full(len(extra.pseudo), min(B_CLIP[1], 60.0))])
    edges = np.quantile(all_b, np.linspace(0, 1, N_B_GROUPS + 1))
    group = np.clip(np.searchsorted(edges, all_b, side="right") - 1, 0, N_B_GROUPS - 1)
    sharp = np.zeros(k2.shape, dtype=np.complex128)
    blurred = np.zeros(k2.shape, dtype=np.complex128)
    targets = (
        (sharp, blur.sigma_res, blur.res),
        (blurred, blur.sigma_worst, blur.res * blur.worst_factor),
    )
    for g in range(N_B_GROUPS):
        members = group == g
        if not members.any():
            continue
        grid_g = splat(all_xyz[members], all_w[members], big_origin, voxel, big)
        spectrum = fft.rfftn(grid_g)
        b_var = (float(all_b[members].mean()) + b_global) / (8 * math.pi**2)
        for target, s, r in targets:
            var = max(s**2 + b_var - splat_var, 1e-6)
            target += (
                spectrum * gaussian_transfer(k2, math.sqrt(var)) * butterworth(k2, r, blur.order)
            )
    crop = (slice(pad, pad + shape[0]), slice(pad, pad + shape[1]), slice(pad, pad + shape[2]))
    return fft.irfftn(sharp, s=big)[crop], fft.irfftn(blurred, s=big)[crop]


def _local_resolution(
    rng: np.random.Generator,
    grid: _Grid,
    xyz: np.ndarray,
    maps: tuple[np.ndarray, np.ndarray],
    blur: _Blur,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The blend of the sharp and blurred maps (w = 0 keeps the nominal resolution, w = 1 is
    resolution × worst_factor), each voxel's xyz (Å), and the blend's record."""
    sharp_map, blurred_map = maps
    gradient_weight = uniform(rng, (0.0, 1.0))
    field_length = uniform(rng, FIELD_LENGTH)
    zz, yy, xx = np.indices(grid.shape, dtype=np.float64)
    pos = np.stack([xx, yy, zz], axis=-1) * grid.voxel + grid.origin
    centre = xyz.mean(axis=0)
    radial = np.linalg.norm(pos - centre, axis=-1)
    radial /= max(float(np.percentile(np.linalg.norm(xyz - centre, axis=1), 95)), 1.0)
    w = gradient_weight * np.clip(radial, 0, 1) + (1 - gradient_weight) * smooth_field(
        rng, grid.shape, grid.voxel, field_length
    )
    record = {
        "worst_factor": round(blur.worst_factor, 3),
        "worst_resolution": round(blur.res * blur.worst_factor, 3),
        "gradient_weight": round(gradient_weight, 3),
        "field_length": round(field_length, 2),
    }
    return (1 - w) * sharp_map + w * blurred_map, pos, record


def _envelope_mean(clean: np.ndarray, n_atoms: int, voxel: float) -> float:
    """Mean of the voxels of highest clean density that hold the model's volume."""
    n_envelope = int(min(clean.size - 1, max(1, n_atoms * VOLUME_PER_ATOM / voxel**3)))
    clean_sorted = np.sort(clean, axis=None)
    return float(clean_sorted[-n_envelope:].mean())


def _scale_and_offset(
    rng: np.random.Generator, profile: Profile, envelope_mean: float, snr: float
) -> tuple[float, float]:
    scale = float(10 ** rng.uniform(-2, 1))
    if profile.solvent:
        # A deposited map's solvent sits near 0: an offset of at most half a noise sd, in the
        # map's units (version 1 added ±1 noise sd unscaled, so with scale 0.01 a whole map
        # could sit below 0 and normalise to nothing).
        return scale, scale * float(rng.uniform(-0.5, 0.5)) * envelope_mean / snr
    return scale, float(rng.uniform(-1, 1)) * envelope_mean / snr


def _contour(
    rng: np.random.Generator,
    profile: Profile,
    data: np.ndarray,
    masked: bool,
    n_shown: int,
    voxel: float,
) -> tuple[float, float]:
    """The author-like contour level and the volume per atom (Å³) it encloses: the model's
    volume and some, as authors contour low enough to show the whole model."""
    contour_volume = uniform(rng, CONTOUR_VOLUME_EMDB if profile.heterogeneity else CONTOUR_VOLUME)
    values = data[data != 0] if masked else data.ravel()  # a zoned map's outside is not density
    n_contour = int(min(values.size - 1, n_shown * contour_volume / voxel**3))
    if profile.masks and masked:
        # a depositor's mask holds little more than the molecule: the author's level still
        # leaves its faint rim out (else the level is the mask's edge value, ~0)
        n_contour = min(n_contour, int(0.6 * values.size))
    level_index = values.size - max(1, n_contour)
    return float(np.partition(values, level_index)[level_index]), contour_volume


def _grid_record(grid: _Grid) -> dict[str, Any]:
    return {
        "voxel_size": round(grid.voxel, 5),
        "voxel_size_drawn": round(grid.voxel_drawn, 5),
        "padding_low_xyz": [round(float(p), 2) for p in grid.padding[0]],
        "padding_high_xyz": [round(float(p), 2) for p in grid.padding[1]],
        "shape_xyz": [int(n) for n in grid.shape_xyz],
        "origin_mode": grid.origin_mode,
        "origin_xyz": [round(float(o), 4) for o in grid.origin],
        "nstart_xyz": [int(n) for n in grid.nstart],
    }


def simulate_atoms(
    atoms: Atoms,
    rng: np.random.Generator,
    resolution: float | None = None,
    profile: Profile | str = "v1",
    resolution_range: tuple[float, float] = RESOLUTION,
) -> SimulatedMap:
    """Draw every parameter and compute one map (see the module docstring); `resolution`
    fixes the resolution, else it is drawn uniformly in `resolution_range`."""
    profile = profile_named(profile)
    res = float(resolution) if resolution is not None else uniform(rng, resolution_range)
    voxel_drawn, padding = _draw_sampling(rng, profile, res)
    b_global = uniform(rng, B_GLOBAL_EMDB if profile.heterogeneity else B_GLOBAL)
    atoms, extra = draw_deviations(rng, profile, atoms)
    grid = _place_grid(rng, atoms.xyz, voxel_drawn, padding)
    blur = _draw_blur(rng, profile, res)
    maps = _density_maps(grid, blur, b_global, atoms, extra)
    clean, pos, local = _local_resolution(rng, grid, atoms.xyz, maps, blur)
    envelope_mean = _envelope_mean(clean, len(atoms.xyz), grid.voxel)

    if profile.solvent:
        noise, noise_params = solvent_noise(rng, grid.shape, grid.voxel, res, blur.order)
        snr = noise_params["snr"]  # scaled by the recorded SNR, as this profile always was
    else:
        noise, noise_params, snr = v1_noise(
            rng, grid.shape, grid.voxel, res, blur.order, blur.sigma_res
        )
    noise *= envelope_mean / snr / (noise.std() or 1.0)
    scale, offset = _scale_and_offset(rng, profile, envelope_mean, snr)
    data, mask = apply_mask(
        rng,
        scale * (clean + noise) + offset,
        kinds_drawn=profile.masks,
        clean=clean,
        pos=pos,
        atom_xyz=atoms.xyz,
        voxel=grid.voxel,
    )
    data = data.astype(np.float32)
    # With uneven order, a level as low as version 1's also encloses the solvent's noise:
    # EMDB-like maps are contoured nearer the model's volume, counting the unmodelled density.
    n_shown = len(atoms.xyz) + (len(extra.pseudo) if profile.heterogeneity else 0)
    contour, contour_volume = _contour(rng, profile, data, bool(mask), n_shown, grid.voxel)

    params = {
        "resolution": round(res, 3),
        "sigma_resolution": round(blur.sigma_res, 4),
        "sigma_convention": "sigma = sharpening * 0.225 * resolution (ChimeraX molmap at 1), "
        "per axis, times a Butterworth low-pass at 1/resolution",
        "sharpening": round(blur.sharpening, 3),
        "butterworth_order": blur.order,
        **_grid_record(grid),
        "b_global": round(b_global, 2),
        "b_atoms_median": round(float(np.median(atoms.b)), 2),
        "local_resolution": local,
        "noise": noise_params,
        "scale": round(scale, 5),
        "offset": round(offset * 1.0, 6),
        "missing_density": extra.missing,
        "extra_density": extra.extra,
        "mask": mask,
        "nucleic_acid": extra.nucleic,
        "uneven_order": extra.order_field,
        "profile": profile.name,
        "contour_level": contour,
        "contour_volume_per_atom": round(contour_volume, 2),
    }
    sx, sy, sz = (int(n) for n in grid.nstart)
    return SimulatedMap(
        data, grid.voxel, grid.origin, (sx, sy, sz), grid.origin_mode, contour, params
    )
