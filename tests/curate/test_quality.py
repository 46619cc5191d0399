"""Quality scores: helix cylindrical similarity, chain precision/recall and the four bins.

Synthetic cases have known answers (an ideal α-helix in a blurred cylinder of density scores
high, the same density moved sideways or pure noise scores near chance); real cases check
that fitted models on He-lab component maps and a full map score well above the same models
shifted by 8 Å.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cryosse.core.classes import HELIX, code_to_class
from cryosse.curate.dssp import assign_dssp
from cryosse.curate.quality import (
    HelixScore,
    QualitySettings,
    chain_helix_similarity,
    cylindrical_similarity,
    fallback_contour,
    helix_axis,
    helix_segments,
    polyline_distance,
    precision_recall,
    quality_bin,
)
from cryosse.io.density import read_map
from cryosse.io.structure import ca_array, chain_atom_coordinates, protein_residues, read_model

SETTINGS = QualitySettings()
SHAPE = (56, 56, 56)  # [z, y, x], 1 Å voxels
ORIGIN = np.array([-3.0, -2.0, -1.0])
# An oblique helix direction, so that the helix is not aligned with the grid.
AXIS_DIR = np.array([0.3, -0.4, 0.866])
AXIS_DIR = AXIS_DIR / np.linalg.norm(AXIS_DIR)
AXIS_START = np.array([18.0, 32.0, 10.0])


def _frame(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to `direction` and to each other."""
    u = np.cross(direction, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    return u, np.cross(direction, u)


def ideal_helix(n: int = 20, start: np.ndarray = AXIS_START, direction: np.ndarray = AXIS_DIR):
    """Cα trace of an ideal α-helix: rise 1.5 Å, radius 2.3 Å, 100° per residue."""
    u, v = _frame(direction)
    k = np.arange(n)
    angle = np.deg2rad(100.0 * k)
    return (
        start
        + 1.5 * k[:, None] * direction
        + 2.3 * (np.cos(angle)[:, None] * u + np.sin(angle)[:, None] * v)
    )


def voxel_centres(shape: tuple[int, int, int] = SHAPE, origin: np.ndarray = ORIGIN):
    iz, iy, ix = np.indices(shape)
    return origin + np.stack([ix, iy, iz], axis=-1).astype(np.float64)


def cylinder_density(
    radius: float, length: float, offset: np.ndarray | None = None, blur: float = 1.0
) -> np.ndarray:
    """A Gaussian-blurred solid cylinder on the true axis of `ideal_helix` (optionally moved)."""
    start = AXIS_START + (np.zeros(3) if offset is None else offset)
    rel = voxel_centres() - start
    along = rel @ AXIS_DIR
    radial = np.linalg.norm(rel - along[..., None] * AXIS_DIR, axis=-1)
    solid = (radial <= radius) & (along >= 0.0) & (along <= length)
    return gaussian_filter(solid.astype(np.float32), blur)


@pytest.fixture(scope="module")
def helix() -> np.ndarray:
    return ideal_helix(20)


@pytest.fixture(scope="module")
def cylinder() -> np.ndarray:
    return cylinder_density(SETTINGS.cylinder_radius, 1.5 * 19)


# ----------------------------------------------------------------------- helix geometry --


def test_helix_constant_is_dssp_helix_class() -> None:
    assert HELIX == 1 == code_to_class("H") == code_to_class("G") == code_to_class("I")


def test_helix_segments_split_at_breaks_and_drop_short_runs() -> None:
    classes = [0] + [1] * 8 + [0] + [1] * 5 + [2, 2] + [1] * 14 + [0] + [1] * 6
    ca = np.zeros((len(classes), 3))
    ca[:, 0] = 3.8 * np.arange(len(classes))
    ca[24:, 0] += 10.0  # chain break between residues 23 and 24, inside the 14-residue run
    # the run 17-30 is cut into 17-23 (7) and 24-30 (7): kept at 6 and 7, dropped at 8;
    # the 5-residue run 10-14 is always too short
    assert helix_segments(classes, ca, 6) == [(1, 9), (17, 24), (24, 31), (32, 38)]
    assert helix_segments(classes, ca, 8) == [(1, 9)]
    assert helix_segments(classes, ca, 7) == [(1, 9), (17, 24), (24, 31)]
    assert helix_segments([0] * 5, np.zeros((5, 3)), 6) == []
    with pytest.raises(ValueError, match="classes for"):
        helix_segments([1, 1], np.zeros((3, 3)), 2)


def test_helix_segments_break_threshold_is_4_2() -> None:
    classes = [1] * 12
    ca = np.zeros((12, 3))
    ca[:, 0] = 3.8 * np.arange(12)
    ca[6:, 0] += 0.39  # 4.19 Å: still bonded
    assert helix_segments(classes, ca, 6) == [(0, 12)]
    ca[6:, 0] += 0.02  # 4.21 Å: a break
    assert helix_segments(classes, ca, 6) == [(0, 6), (6, 12)]


def _distance_to_true_axis(points: np.ndarray) -> np.ndarray:
    rel = points - AXIS_START
    return np.linalg.norm(rel - (rel @ AXIS_DIR)[:, None] * AXIS_DIR, axis=1)


def test_helix_axis_of_ideal_helix_is_straight_and_on_the_true_axis(helix: np.ndarray) -> None:
    axis = helix_axis(helix)
    assert axis.shape == (17, 3)
    assert _distance_to_true_axis(axis).max() < 0.3
    # Straight: deviations from the best line through the points stay below 0.3 Å.
    centred = axis - axis.mean(axis=0)
    direction = np.linalg.svd(centred)[2][0]
    off_line = centred - (centred @ direction)[:, None] * direction
    assert np.linalg.norm(off_line, axis=1).max() < 0.3
    assert abs(abs(direction @ AXIS_DIR) - 1.0) < 1e-3
    # Axis points step 1.5 Å along the axis, as the residues do.
    assert np.allclose(np.diff(axis @ AXIS_DIR), 1.5, atol=1e-9)

    extended = helix_axis(helix, 1.5)
    assert extended.shape == (19, 3)
    assert np.allclose(extended[1:-1], axis)
    assert np.isclose(np.linalg.norm(extended[0] - axis[0]), 1.5)
    assert np.isclose(np.linalg.norm(extended[-1] - axis[-1]), 1.5)
    # The end tangent (chord over 3 axis steps) tilts by ~3°: +0.05 Å at 1.5 Å.
    assert _distance_to_true_axis(extended).max() < 0.35
    # Outward: the ends extend the axis, not fold back into it.
    along = extended @ AXIS_DIR
    assert along[0] < along[1] and along[-1] > along[-2]
    with pytest.raises(ValueError):
        helix_axis(helix[:3])


def test_polyline_distance_is_exact() -> None:
    line = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 0.0]])
    points = np.array(
        [
            [5.0, 3.0, 0.0],  # beside the first segment
            [-3.0, 4.0, 0.0],  # beyond the first end: distance to the end point
            [12.0, 5.0, 0.0],  # beside the second segment
            [13.0, 14.0, 0.0],  # beyond the last end
            [10.0, 0.0, 2.0],  # above the corner
        ]
    )
    assert np.allclose(polyline_distance(points, line), [3.0, 5.0, 2.0, 5.0, 2.0])
    assert np.allclose(polyline_distance(points[:1], line[:1]), [np.hypot(5.0, 3.0)])


# ------------------------------------------------------------ cylindrical similarity --


def test_helix_in_its_cylinder_scores_high(helix: np.ndarray, cylinder: np.ndarray) -> None:
    score = cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, SETTINGS)
    assert isinstance(score, HelixScore)
    assert score.f1 > 0.8
    assert score.f1 == score.precision == score.recall  # volume matching
    assert 0 < score.n_model < score.n_window
    assert score.first_residue == 0 and score.n_residues == 20


def test_moved_density_scores_low(helix: np.ndarray, cylinder: np.ndarray) -> None:
    fitted = cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, SETTINGS)
    u, v = _frame(AXIS_DIR)
    for shift in (5.5 * u, 6.0 * v):
        moved = cylinder_density(SETTINGS.cylinder_radius, 1.5 * 19, offset=shift)
        score = cylindrical_similarity(moved, ORIGIN, 1.0, helix, SETTINGS)
        assert score.f1 < 0.3
        assert fitted.f1 - score.f1 > 0.5
        assert (score.n_window, score.n_model) == (fitted.n_window, fitted.n_model)


def test_noise_scores_near_chance(helix: np.ndarray) -> None:
    for seed in (0, 1, 2):
        noise = np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)
        score = cylindrical_similarity(noise, ORIGIN, 1.0, helix, SETTINGS)
        chance = score.n_model / score.n_window
        assert 0.1 < chance < 0.3
        assert abs(score.f1 - chance) < 0.07


def test_score_is_deterministic_bounded_and_invariant(
    helix: np.ndarray, cylinder: np.ndarray
) -> None:
    noise = np.random.default_rng(5).normal(size=SHAPE).astype(np.float32)
    for density in (cylinder, noise, np.ones(SHAPE, dtype=np.float32)):
        first = cylindrical_similarity(density, ORIGIN, 1.0, helix, SETTINGS)
        again = cylindrical_similarity(density.copy(), ORIGIN, 1.0, helix, SETTINGS)
        assert first == again
        assert 0.0 <= first.f1 <= 1.0
    # Volume matching uses only the density order: an increasing transform changes nothing.
    plain = cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, SETTINGS)
    scaled = cylindrical_similarity(3.0 * cylinder + 7.0, ORIGIN, 1.0, helix, SETTINGS)
    assert plain.f1 == scaled.f1
    # The model cylinder radius matters: a wider one has more model voxels.
    wide = dataclasses.replace(SETTINGS, cylinder_radius=3.5)
    assert cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, wide).n_model > plain.n_model


def test_constant_density_ties_go_to_the_lowest_voxel_index(helix: np.ndarray) -> None:
    flat = np.zeros(SHAPE, dtype=np.float32)
    score = cylindrical_similarity(flat, ORIGIN, 1.0, helix, SETTINGS)
    # Rebuild W and M by brute force and take the first |M| voxels of W in flat order.
    centres = voxel_centres().reshape(-1, 3)
    in_w = polyline_distance(centres, helix_axis(helix, 1.5)) <= SETTINGS.crop_radius
    in_m = in_w & (polyline_distance(centres, helix_axis(helix)) <= SETTINGS.cylinder_radius)
    assert (score.n_window, score.n_model) == (in_w.sum(), in_m.sum())
    first = np.flatnonzero(in_w)[: score.n_model]
    assert score.f1 == pytest.approx(in_m[first].mean())


def test_voxel_size_and_origin_are_honoured(helix: np.ndarray) -> None:
    """The same physical density on a 0.5 Å grid gives about the same score."""
    iz, iy, ix = np.indices((100, 100, 100))
    centres = ORIGIN + 0.5 * np.stack([ix, iy, iz], axis=-1)
    rel = centres - AXIS_START
    along = rel @ AXIS_DIR
    radial = np.linalg.norm(rel - along[..., None] * AXIS_DIR, axis=-1)
    solid = (radial <= SETTINGS.cylinder_radius) & (along >= 0.0) & (along <= 1.5 * 19)
    fine = gaussian_filter(solid.astype(np.float32), 2.0)  # σ = 1 Å
    score = cylindrical_similarity(fine, ORIGIN, 0.5, helix, SETTINGS)
    assert score.f1 > 0.8
    assert (
        score.n_window
        > 6
        * cylindrical_similarity(cylinder_density(2.5, 28.5), ORIGIN, 1.0, helix, SETTINGS).n_window
    )


def test_unscorable_helices_raise(helix: np.ndarray, cylinder: np.ndarray) -> None:
    with pytest.raises(ValueError, match="outside"):
        cylindrical_similarity(cylinder, ORIGIN + 500.0, 1.0, helix, SETTINGS)
    # A one-voxel column along the middle of a helix on z: every voxel lies in M, so W = M.
    straight = ideal_helix(20, start=np.zeros(3), direction=np.array([0.0, 0.0, 1.0]))
    column = np.ones((8, 1, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="no voxel outside"):
        cylindrical_similarity(column, np.array([0.0, 0.0, 10.0]), 1.0, straight, SETTINGS)
    # A box next to the helix: W is not empty, but M is.
    with pytest.raises(ValueError, match="model cylinder"):
        cylindrical_similarity(column, np.array([4.0, 0.0, 10.0]), 1.0, straight, SETTINGS)


def test_partly_clipped_helix_is_scored_on_the_voxels_that_exist(
    helix: np.ndarray, cylinder: np.ndarray
) -> None:
    whole = cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, SETTINGS)
    half = cylinder[:25]  # drop z ≥ 24 Å: about half of the helix
    clipped = cylindrical_similarity(half, ORIGIN, 1.0, helix, SETTINGS)
    assert clipped.n_window < whole.n_window and clipped.n_model < whole.n_model
    assert clipped.f1 > 0.8


def test_chain_helix_similarity_means_the_scorable_helices(
    helix: np.ndarray, cylinder: np.ndarray
) -> None:
    far = ideal_helix(12, start=AXIS_START + 200.0)  # outside the map: skipped
    loop = AXIS_START + np.array([[6.0, 0.0, -3.0], [9.0, 0.0, -4.0]])
    short = ideal_helix(4, start=AXIS_START + 100.0)
    ca = np.vstack([loop, helix, short, far])
    # Keep the chain connected so that only the class pattern decides.
    classes = [0, 0] + [1] * 20 + [0] * 4 + [1] * 12
    mean, scores = chain_helix_similarity(cylinder, ORIGIN, 1.0, classes, ca, SETTINGS)
    alone = cylindrical_similarity(cylinder, ORIGIN, 1.0, helix, SETTINGS)
    assert [s.first_residue for s in scores] == [2]
    assert scores[0] == dataclasses.replace(alone, first_residue=2)
    assert mean == alone.f1

    # Two scored helices: the unweighted mean.
    u, _ = _frame(AXIS_DIR)
    other = ideal_helix(8, start=AXIS_START + 12.0 * u)
    ca2 = np.vstack([helix, other])
    mean2, scores2 = chain_helix_similarity(cylinder, ORIGIN, 1.0, [1] * 28, ca2, SETTINGS)
    assert len(scores2) == 2  # a break (> 4.2 Å) separates them
    assert mean2 == pytest.approx((scores2[0].f1 + scores2[1].f1) / 2)
    assert scores2[1].first_residue == 20 and scores2[1].n_residues == 8

    assert chain_helix_similarity(cylinder, ORIGIN, 1.0, [0] * 20, helix, SETTINGS) == (None, [])


# ------------------------------------------------------------------ precision / recall --


def _chain_atoms(y: float = 0.0) -> np.ndarray:
    """A straight 'chain' of atoms 1.5 Å apart along x at height y (z = 20)."""
    x = np.arange(12.0, 30.0, 1.5)
    return np.stack([x, np.full_like(x, y), np.full_like(x, 20.0)], axis=1)


PR_SHAPE = (40, 40, 44)
PR_ORIGIN = np.array([0.0, -12.0, 0.0])


def _distance_field(atoms: np.ndarray) -> np.ndarray:
    iz, iy, ix = np.indices(PR_SHAPE)
    centres = PR_ORIGIN + np.stack([ix, iy, iz], axis=-1).astype(np.float64)
    diff = centres[..., None, :] - atoms
    return np.sqrt((diff**2).sum(axis=-1)).min(axis=-1)


def test_density_equal_to_the_model_gives_p_r_one() -> None:
    atoms = _chain_atoms()
    density = -_distance_field(atoms)  # higher = closer to the chain
    contour = -(SETTINGS.model_radius + 1e-6)  # Map = exactly the model volume
    p, r = precision_recall(density, PR_ORIGIN, 1.0, atoms, np.zeros((0, 3)), contour, SETTINGS)
    assert (p, r) == (1.0, 1.0)


def test_density_twice_the_model_halves_precision() -> None:
    atoms = _chain_atoms()
    distance = _distance_field(atoms)
    model = int(np.count_nonzero(distance <= SETTINGS.model_radius))
    # The radius whose tube holds twice the model's voxels (inside the 6 Å zone).
    radius = np.sort(distance[distance <= SETTINGS.zone_radius].ravel())[2 * model - 1]
    p, r = precision_recall(
        -distance, PR_ORIGIN, 1.0, atoms, np.zeros((0, 3)), -(radius + 1e-6), SETTINGS
    )
    assert r == 1.0
    assert 0.45 < p < 0.55
    assert p - r < 0  # more density than model


def test_contour_above_everything_gives_zero() -> None:
    atoms = _chain_atoms()
    density = -_distance_field(atoms)
    p, r = precision_recall(density, PR_ORIGIN, 1.0, atoms, np.zeros((0, 3)), 1.0, SETTINGS)
    assert (p, r) == (0.0, 0.0)
    # A contour between: less density than model, so P − R > 0.
    p, r = precision_recall(density, PR_ORIGIN, 1.0, atoms, np.zeros((0, 3)), -2.0, SETTINGS)
    assert p == 1.0 and 0.0 < r < 1.0


def test_neighbour_density_is_excluded_by_the_zone() -> None:
    chain, neighbour = _chain_atoms(0.0), _chain_atoms(7.0)
    inside = (_distance_field(chain) <= 3.0) | (_distance_field(neighbour) <= 3.0)
    density = inside.astype(np.float32)
    alone = precision_recall(density, PR_ORIGIN, 1.0, chain, np.zeros((0, 3)), 0.5, SETTINGS)
    zoned = precision_recall(density, PR_ORIGIN, 1.0, chain, neighbour, 0.5, SETTINGS)
    assert alone[0] < 0.95  # the neighbour's tube reaches into the chain's 6 Å shell
    assert zoned == (1.0, 1.0)
    # Only the chain's own atoms count as its model.
    assert alone[1] == 1.0


def test_precision_recall_needs_the_chain_in_the_map() -> None:
    atoms = _chain_atoms()
    density = np.ones(PR_SHAPE, dtype=np.float32)
    with pytest.raises(ValueError):
        precision_recall(density, PR_ORIGIN + 500.0, 1.0, atoms, np.zeros((0, 3)), 0.5, SETTINGS)


def test_fallback_contour_uses_non_zero_voxels() -> None:
    values = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 3.0])
    assert fallback_contour(values, 1.0) == pytest.approx(2.0 + np.std([1.0, 2.0, 3.0]))
    assert fallback_contour(values, 0.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        fallback_contour(np.zeros(5), 1.0)


# --------------------------------------------------------------------------- bins --


@pytest.mark.parametrize(
    ("f1", "precision", "recall", "expected"),
    [
        (0.7, 0.80, 0.75, 1),
        (0.5, 0.75, 0.50, 1),  # both thresholds are inclusive
        (0.7, 0.95, 0.30, 2),
        (0.7, 0.30, 0.95, 2),  # |P − R|, either sign
        (0.3, 0.80, 0.75, 3),
        (None, 0.80, 0.75, 3),  # no scored helix counts as low
        (0.3, 0.95, 0.30, 4),
        (None, 0.10, 0.90, 4),
    ],
)
def test_quality_bin_truth_table(
    f1: float | None, precision: float, recall: float, expected: int
) -> None:
    settings = dataclasses.replace(SETTINGS, f1_threshold=0.5, pr_threshold=0.25)
    assert quality_bin(f1, precision, recall, settings) == expected


def test_settings_from_config() -> None:
    assert QualitySettings.from_config({}) == QualitySettings()
    custom = QualitySettings.from_config({"cylinder_radius": 3, "helix_min_residues": 8.0})
    assert custom.cylinder_radius == 3.0 and custom.helix_min_residues == 8
    assert isinstance(custom.helix_min_residues, int)
    assert custom.crop_radius == QualitySettings().crop_radius
    with pytest.raises(ValueError, match="unknown"):
        QualitySettings.from_config({"cylinder_radus": 3.0})
    with pytest.raises(ValueError):
        QualitySettings.from_config({"cylinder_radius": 6.0})  # wider than the crop


# --------------------------------------------------------------------- real pairs --

REAL = [
    ("EMD-8518", "A-1.0APIX.mrc", "A_fitted.pdb"),  # 6.1 Å He-lab component map, 1 Å
    ("EMD-6149", "X-1.0APIX.mrc.gz", "X_fitted.pdb"),  # 5.0 Å He-lab component map, 1 Å
    ("EMD-5168", "emd_5168.map.gz", "3MFP.pdb"),  # 6.6 Å full map, native 1.742 Å grid
]


@pytest.mark.parametrize(("folder", "map_name", "model_name"), REAL)
def test_real_fitted_models_beat_shifted_ones(
    realdata: Path, folder: str, map_name: str, model_name: str
) -> None:
    density = read_map(realdata / folder / map_name)
    voxel = density.voxel_size
    if not np.allclose(voxel, voxel[0]):
        pytest.skip(f"anisotropic voxels {voxel}")
    structure = read_model(realdata / folder / model_name)
    residues = protein_residues(structure)
    codes = assign_dssp(structure)
    classes = [code_to_class(codes.get(r.key, "")) for r in residues]
    ca = ca_array(residues)
    assert len({r.chain for r in residues}) == 1

    mean, scores = chain_helix_similarity(
        density.data, density.origin, float(voxel[0]), classes, ca, SETTINGS
    )
    assert mean is not None and len(scores) >= 5
    assert all(0.0 <= s.f1 <= 1.0 for s in scores)
    assert 0.45 < mean < 0.9
    for shift in ([8.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, -8.0]):
        moved, _ = chain_helix_similarity(
            density.data, density.origin, float(voxel[0]), classes, ca + shift, SETTINGS
        )
        assert moved is not None
        assert moved < 0.3
        assert mean - moved > 0.3

    atoms = chain_atom_coordinates(structure, residues[0].chain)
    contour = fallback_contour(density.data, SETTINGS.sigma_factor)
    none = np.zeros((0, 3))
    p, r = precision_recall(
        density.data, density.origin, float(voxel[0]), atoms, none, contour, SETTINGS
    )
    moved_atoms = atoms + [8.0, 0.0, 0.0]
    p_moved, r_moved = precision_recall(
        density.data, density.origin, float(voxel[0]), moved_atoms, none, contour, SETTINGS
    )
    assert 0.0 <= p <= 1.0 and 0.0 <= r <= 1.0
    assert p > p_moved and r > r_moved
