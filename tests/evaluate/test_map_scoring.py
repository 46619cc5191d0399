"""Scoring near a modelled part of a full map, and the unmodelled rest, on EMD-5168.

EMD-5168 is a full, unmasked 6.6 Å map of an F-actin filament with one subunit modelled (3MFP):
the case `near` scoring and `rest_volumes` exist for.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cryosse.core.classes import HELIX
from cryosse.evaluate.baselines import density_threshold, threshold_labels
from cryosse.evaluate.map_scoring import near_model, rest_volumes, score_labels, truth_on_grid
from cryosse.io.density import read_map
from cryosse.io.structure import ca_array, chain_atom_coordinates, protein_residues, read_model
from tests.conftest import REALDATA

pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir() or shutil.which("mkdssp") is None,
    reason=f"needs the real maps in {REALDATA} and mkdssp 4.x",
)
FULL = REALDATA / "EMD-5168" / "emd_5168.map.gz"
SUBUNIT = REALDATA / "EMD-5168" / "3MFP.pdb"


@pytest.fixture(scope="module")
def filament():
    density = read_map(FULL)
    return density, truth_on_grid(density, SUBUNIT, near_radius=6.0)


def _brute_force_near(density, atoms: np.ndarray, radius: float) -> np.ndarray:
    nz, ny, nx = density.data.shape
    zz, yy, xx = np.indices((nz, ny, nx))
    centres = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3) * density.voxel_size + density.origin
    distance, _ = cKDTree(atoms).query(centres)
    return (distance <= radius).reshape(nz, ny, nx)


def test_near_region_is_every_voxel_within_the_radius_of_a_ca(filament) -> None:
    density, truth = filament
    structure = read_model(SUBUNIT)
    every_ca = ca_array(protein_residues(structure))  # a few lie just off the grid
    assert len(every_ca) > len(truth.ca)
    expected = _brute_force_near(density, every_ca, 6.0)
    assert np.array_equal(truth.near, expected)
    # a subunit of a filament: a small part of the box, holding every labelled voxel
    assert 0.01 < truth.near.mean() < 0.2
    assert not np.any(truth.labels[~truth.near])
    assert truth.ca_near.all()
    # the function alone, on every atom, with a different radius, on a sub-grid that cuts
    # the subunit
    atoms = np.concatenate([chain_atom_coordinates(structure, c.name) for c in structure[0]])
    step = float(density.voxel_size[0])
    shifted = density.origin + 20 * step
    small = near_model(shifted, (40, 40, 40), step, atoms, 3.0)
    sub = density.data[20:60, 20:60, 20:60]
    brute = _brute_force_near(type(density)(sub, shifted, density.voxel_size), atoms, 3.0)
    assert np.array_equal(small, brute)
    assert not near_model(density.origin, (5, 5, 5), step, atoms[:0], 3.0).any()


def test_near_scoring_ignores_what_is_called_on_the_rest(filament) -> None:
    _, truth = filament
    perfect = score_labels(truth.labels, truth, "truth", "near").figures()
    assert perfect["voxel_f1_helix"] == 1.0 and perfect["voxel_f1_sheet"] == 1.0
    assert perfect["residue_f1_helix"] == 1.0
    noisy = truth.labels.copy()
    noisy[~truth.near] = HELIX  # every unmodelled subunit called helix
    assert score_labels(noisy, truth, "x", "near").figures() == {
        **perfect,
        "name": "x",
    }
    grid = score_labels(noisy, truth, "x", "grid").figures()
    assert grid["voxel_precision_helix"] < 0.05  # the whole box would count against it
    assert grid["voxel_recall_helix"] == 1.0


def test_rest_volumes_compare_the_rest_with_the_subunits_share(filament) -> None:
    density, truth = filament
    molecule = density.data > density_threshold(density.data)
    cube = truth.voxel_size**3
    # the threshold baseline calls the molecule helix: on the rest exactly its share
    called = threshold_labels(density.data)
    v = rest_volumes(called, truth, molecule)
    assert v["molecule_part_A3"] + v["molecule_rest_A3"] == pytest.approx(molecule.sum() * cube)
    assert v["rest_to_part"] > 3  # a filament: several subunits' worth of density outside
    assert v["helix_rest_over_expected"] == pytest.approx(1.0)
    assert v["helix_rest_A3"] == pytest.approx(v["helix_rest_expected_A3"])
    assert v["sheet_rest_over_expected"] is None  # it never calls sheet
    # the truth as prediction: nothing on the rest; the truth's share scales the subunit's
    t = rest_volumes(truth.labels, truth, molecule)
    assert t["helix_rest_A3"] == 0.0 and t["helix_rest_over_expected"] == 0.0
    true_helix = np.count_nonzero(truth.labels == HELIX) * cube
    assert t["helix_part_A3"] == pytest.approx(true_helix)
    assert t["helix_rest_true_share_A3"] == pytest.approx(true_helix * v["rest_to_part"])
