"""How far simulated / derived maps are from real ones, as the network sees them.

Every map is cut into boxes the way training sees it: cubes of `BOX` Å around Cα atoms of its
model (drawn with a fixed seed), resampled to 1 Å (`io.resample.resample_axes`, as curation does),
normalised by the network's own input function (passed in as `normalize`, so this stage does not
import `learn`: `benchmarks/realism.py` passes `cryosse.learn.network_input.normalize_density`),
then block-averaged to the 2 Å grid the default model runs on. Per box:

- values inside the molecule (≤ `INSIDE` Å from a model atom) and outside it (≥ `OUTSIDE` Å;
  the solvent of a full map, the zeros of a masked one, or unmodelled neighbours);
- the radial power spectrum (mean |F|² per shell of 0.02 Å⁻¹, log10, normalised to its sum);
- the local variance (over 3×3×3 voxels = 6 Å) and the excess kurtosis of the box's values;
- the solvent: the fraction of exact zeros, the mean and sd of the outside voxels.

Between two sets of boxes (`compare`): the 1-D Wasserstein distance of the pooled inside and
outside values, the RMS difference of the mean log spectra, the ratio of the median local
variances, the two median kurtoses, and the cross-validated AUC of a logistic regression on the
per-box features (`FEATURES`) telling one set from the other (folds by map, so that a map's boxes
never sit in both training and test folds: the classifier must tell the kind, not the map).
AUC 0.5: indistinguishable; 1.0: always told apart.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.stats import kurtosis, rankdata, skew, wasserstein_distance

from cryosse.io.density import DensityMap
from cryosse.io.resample import resample_axes

BOX = 48.0  # Å: a box the size of half a training crop, cut at 1 Å and averaged to 2 Å
GRID = 2.0  # Å, the default model's grid
INSIDE, OUTSIDE = 3.0, 6.0  # Å from the nearest model atom
SHELL = 0.02  # Å⁻¹
N_SHELLS = 12  # 0.02 .. 0.25 Å⁻¹ (Nyquist of the 2 Å grid)
FEATURES = (
    "mean",
    "sd",
    "skewness",
    "kurtosis",
    "zero_fraction",
    "above_half",
    "local_variance",
    "inside_mean",
    "outside_mean",
    "outside_sd",
    "spectrum_low",
    "spectrum_mid",
    "spectrum_high",
)

Normalizer = Callable[[np.ndarray], tuple[np.ndarray, float]]


@dataclass
class BoxStats:
    """The measurements of one box (2 Å grid, normalised values)."""

    map_name: str
    features: dict[str, float]
    inside: np.ndarray  # values ≤ INSIDE Å from an atom
    outside: np.ndarray  # values ≥ OUTSIDE Å from every atom
    spectrum: np.ndarray  # log10 mean power per shell, normalised to sum 1


@dataclass
class BoxSet:
    """Boxes of one kind of map (real unzoned, real components, simulated, derived...)."""

    name: str
    boxes: list[BoxStats] = field(default_factory=list)

    def values(self, where: str) -> np.ndarray:
        parts = [getattr(b, where) for b in self.boxes]
        return np.concatenate(parts) if parts else np.zeros(0)

    def feature(self, name: str) -> np.ndarray:
        return np.array([b.features[name] for b in self.boxes])

    def mean_spectrum(self) -> np.ndarray:
        return np.mean([b.spectrum for b in self.boxes], axis=0)


def box_rng(name: str) -> np.random.Generator:
    digest = hashlib.sha256(f"realism:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def block_mean(data: np.ndarray, factor: int) -> np.ndarray:
    """Means of factor³ blocks (the 1 Å → 2 Å step of the default model's input)."""
    nz, ny, nx = (n // factor * factor for n in data.shape)
    cut = data[:nz, :ny, :nx]
    return cut.reshape(nz // factor, factor, ny // factor, factor, nx // factor, factor).mean(
        axis=(1, 3, 5)
    )


def radial_spectrum(data: np.ndarray, voxel: float) -> np.ndarray:
    """log10 of the mean power per SHELL-wide shell (N_SHELLS of them), normalised to sum 1
    first, so that only the shape counts (the scale is the normalisation's business)."""
    power = np.abs(np.fft.rfftn(data - data.mean())) ** 2
    kz = np.fft.fftfreq(data.shape[0], d=voxel)[:, None, None]
    ky = np.fft.fftfreq(data.shape[1], d=voxel)[None, :, None]
    kx = np.fft.rfftfreq(data.shape[2], d=voxel)[None, None, :]
    k = np.sqrt(kz**2 + ky**2 + kx**2)
    shell = np.floor(k / SHELL).astype(np.int64).ravel()
    keep = (shell >= 1) & (shell <= N_SHELLS)
    sums = np.bincount(shell[keep], weights=power.ravel()[keep], minlength=N_SHELLS + 1)[1:]
    counts = np.bincount(shell[keep], minlength=N_SHELLS + 1)[1:]
    mean = sums / np.maximum(counts, 1)
    total = mean.sum()
    return np.log10(np.maximum(mean / total, 1e-12) if total > 0 else np.full(N_SHELLS, 1e-12))


def measure_box(
    map_name: str, values: np.ndarray, distance: np.ndarray, voxel: float = GRID
) -> BoxStats:
    """Measurements of one normalised box and the distance (Å) of its voxels to the model."""
    flat = values.ravel().astype(np.float64)
    inside = flat[distance.ravel() <= INSIDE]
    outside = flat[distance.ravel() >= OUTSIDE]
    local_mean = ndimage.uniform_filter(values.astype(np.float64), size=3, mode="nearest")
    local_sq = ndimage.uniform_filter(values.astype(np.float64) ** 2, size=3, mode="nearest")
    spectrum = radial_spectrum(values.astype(np.float64), voxel)
    sd = float(flat.std())
    thirds = np.array_split(spectrum, 3)
    features = {
        "mean": float(flat.mean()),
        "sd": sd,
        "skewness": float(skew(flat)) if sd > 0 else 0.0,
        "kurtosis": float(kurtosis(flat)) if sd > 0 else 0.0,
        "zero_fraction": float(np.mean(flat == 0)),
        "above_half": float(np.mean(flat > 0.5)),
        "local_variance": float(np.mean(np.maximum(local_sq - local_mean**2, 0))),
        "inside_mean": float(inside.mean()) if inside.size else 0.0,
        "outside_mean": float(outside.mean()) if outside.size else 0.0,
        "outside_sd": float(outside.std()) if outside.size else 0.0,
        "spectrum_low": float(thirds[0].mean()),
        "spectrum_mid": float(thirds[1].mean()),
        "spectrum_high": float(thirds[2].mean()),
    }
    return BoxStats(map_name, features, inside, outside, spectrum)


def map_boxes(
    map_name: str,
    density: DensityMap,
    atoms_xyz: np.ndarray,
    normalize: Normalizer,
    n_boxes: int = 6,
    centres_xyz: np.ndarray | None = None,
) -> list[BoxStats]:
    """`n_boxes` boxes of `density` centred on Cα-like points of `atoms_xyz` (drawn with a seed
    from the map's name, or `centres_xyz`), measured as the network would see them."""
    atoms_xyz = np.asarray(atoms_xyz, dtype=np.float64)
    if centres_xyz is None:
        rng = box_rng(map_name)
        centres_xyz = atoms_xyz[rng.choice(len(atoms_xyz), size=n_boxes, replace=False)]
    tree = cKDTree(atoms_xyz)
    half = BOX / 2
    out = []
    for centre in np.asarray(centres_xyz, dtype=np.float64):
        axes = [centre[a] - half + 0.5 + np.arange(int(BOX)) for a in range(3)]
        box = resample_axes(density, axes)
        normalised, _ = normalize(box)
        coarse = block_mean(normalised, int(GRID))
        axes2 = [
            centre[a] - half + GRID / 2 + GRID * np.arange(coarse.shape[2 - a]) for a in range(3)
        ]
        zz, yy, xx = np.meshgrid(axes2[2], axes2[1], axes2[0], indexing="ij")
        points = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3)
        distance = tree.query(points, distance_upper_bound=OUTSIDE + 1.0)[0].reshape(coarse.shape)
        out.append(measure_box(map_name, coarse, distance))
    return out


def logistic_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> float:
    """Cross-validated AUC of an L2 logistic regression (Newton steps) on standardised features;
    folds are made of whole groups (maps), assigned by a hash of the group name; when a class
    has a single group, folds are made of boxes instead (a map cannot be left out then)."""
    if min(len(set(groups[y == c])) for c in (0, 1)) < 2:
        groups = np.array([f"box{i}" for i in range(len(y))])
    fold_of = np.array(
        [int(hashlib.sha256(str(g).encode()).hexdigest(), 16) % folds for g in groups]
    )
    scores = np.full(len(y), np.nan)
    for f in range(folds):
        test = fold_of == f
        train = ~test
        if not test.any() or len(np.unique(y[train])) < 2:
            continue
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0)
        sd[sd == 0] = 1.0
        xt = np.column_stack([np.ones(train.sum()), (x[train] - mu) / sd])
        w = np.zeros(xt.shape[1])
        ridge = np.eye(len(w)) * 1.0
        ridge[0, 0] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(xt @ w, -30, 30)))
            gradient = xt.T @ (p - y[train]) + ridge @ w
            hessian = xt.T @ (xt * (p * (1 - p))[:, None]) + ridge
            step = np.linalg.solve(hessian, gradient)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        xs = np.column_stack([np.ones(test.sum()), (x[test] - mu) / sd])
        scores[test] = xs @ w
    ok = ~np.isnan(scores)
    return auc(scores[ok], y[ok])


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if not pos or not neg:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def compare(reference: BoxSet, other: BoxSet) -> dict[str, float]:
    """How far `other` is from `reference` (see the module docstring)."""

    def w1(where: str) -> float:
        a, b = reference.values(where), other.values(where)
        return float(wasserstein_distance(a, b)) if a.size and b.size else math.nan

    spectrum_gap = float(np.sqrt(np.mean((reference.mean_spectrum() - other.mean_spectrum()) ** 2)))
    x = np.array(
        [[b.features[f] for f in FEATURES] for b in reference.boxes + other.boxes],
        dtype=np.float64,
    )
    y = np.array([1] * len(reference.boxes) + [0] * len(other.boxes), dtype=np.float64)
    groups = np.array([b.map_name for b in reference.boxes + other.boxes])
    return {
        "inside_w1": w1("inside"),
        "outside_w1": w1("outside"),
        "spectrum_rms": spectrum_gap,
        "local_variance_ratio": float(
            np.median(other.feature("local_variance"))
            / max(np.median(reference.feature("local_variance")), 1e-12)
        ),
        "kurtosis_reference": float(np.median(reference.feature("kurtosis"))),
        "kurtosis_other": float(np.median(other.feature("kurtosis"))),
        "zero_fraction_reference": float(np.median(reference.feature("zero_fraction"))),
        "zero_fraction_other": float(np.median(other.feature("zero_fraction"))),
        "outside_sd_reference": float(np.median(reference.feature("outside_sd"))),
        "outside_sd_other": float(np.median(other.feature("outside_sd"))),
        "classifier_auc": logistic_auc(x, y, groups),
    }
