"""Where a simulated map departs from its model, as deposited maps do: density missing from a
flexible part, unmodelled density beside the model (ligands, fragments, a detergent belt, a
B-DNA duplex), and order that varies over the molecule.

- missing density (probability `P_MISSING`): a stretch of 6–20 residues (a terminus or an
  inner loop) or a sphere of 6–12 Å around a random residue, atom amplitudes × `attenuation`;
- extra density (probability `P_EXTRA`): 1–3 unmodelled blobs (ligand-sized or a neighbour
  fragment) of carbon-like pseudo-atoms just outside the model, and (probability `P_BELT`) a
  detergent-belt-like annulus of low-density pseudo-atoms around the model's long axis;
- a B-DNA duplex against the model (probability `P_NUCLEIC`, the nucleic-acid profiles);
- uneven order (the `heterogeneity` profile): amplitudes varying smoothly over the molecule.

Each step draws from the map's RNG and returns what it did, for `other/simulation.json`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from cryosse.synthetic.atoms import Atoms
from cryosse.synthetic.parameters import FIELD_LENGTH, VOLUME_PER_ATOM, Profile, uniform

P_MISSING, P_EXTRA, P_BELT = 0.3, 0.4, 0.1
P_NUCLEIC = 0.35  # a B-DNA duplex packed against the model (unmodelled: labelled background)
NUCLEIC_BP = (10, 40)
AMPLITUDE_FIELD = (0.15, 0.55)  # sd of log amplitude over a smooth field of length FIELD_LENGTH


@dataclass(frozen=True)
class Deviations:
    """What the deviation steps did: pseudo-atoms (unmodelled density) and their records."""

    pseudo: np.ndarray
    pseudo_w: np.ndarray
    missing: dict[str, Any] | None
    extra: list[dict]
    order_field: dict[str, Any] | None
    nucleic: dict[str, Any] | None


def missing_density(rng: np.random.Generator, atoms: Atoms) -> dict[str, Any] | None:
    """Attenuate a flexible stretch or a patch; return what was done (None: not drawn)."""
    if rng.random() >= P_MISSING:
        return None
    n_res = len(atoms.residues)
    attenuation = uniform(rng, (0.0, 0.3))
    if rng.random() < 0.6:
        length = int(rng.integers(6, 21))
        chains = np.unique(atoms.chain_of_residue)
        chain = chains[rng.integers(len(chains))]
        idx = np.flatnonzero(atoms.chain_of_residue == chain)
        length = min(length, max(1, len(idx) // 4))
        where = rng.choice(["n_terminus", "c_terminus", "loop"])
        start = {"n_terminus": 0, "c_terminus": len(idx) - length}.get(
            str(where), int(rng.integers(0, max(1, len(idx) - length + 1)))
        )
        chosen = idx[start : start + length]
        kind = f"stretch ({where})"
    else:
        radius = uniform(rng, (6.0, 12.0))
        centre = atoms.xyz[atoms.ca_index[rng.integers(n_res)]]
        near = np.linalg.norm(atoms.xyz[atoms.ca_index] - centre, axis=1) <= radius
        chosen = np.flatnonzero(near)
        kind = f"patch (radius {radius:.1f} Å)"
    hit = np.isin(atoms.residue, chosen)
    atoms.weight[hit] *= attenuation
    first, last = atoms.residues[chosen[0]], atoms.residues[chosen[-1]]
    return {
        "kind": kind,
        "attenuation": round(attenuation, 3),
        "residues": len(chosen),
        "atoms": int(hit.sum()),
        "first": f"{first[0]}:{first[1]}",
        "last": f"{last[0]}:{last[1]}",
    }


def _outside_points(
    rng: np.random.Generator, tree: cKDTree, xyz: np.ndarray, gap: float, n: int
) -> np.ndarray:
    """n points at least `gap` Å from every atom, found by walking outwards from random atoms."""
    points = []
    for _ in range(n):
        start = xyz[rng.integers(len(xyz))]
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        for step in np.arange(2.0, 60.0, 1.0):
            p = start + direction * step
            if tree.query(p)[0] >= gap:
                points.append(p)
                break
    return np.asarray(points).reshape(-1, 3)


def _blobs(
    rng: np.random.Generator, atoms: Atoms, tree: cKDTree
) -> tuple[list[np.ndarray], list[dict]]:
    """1-3 ligand- or fragment-sized balls of pseudo-atoms just outside the model."""
    pseudo: list[np.ndarray] = []
    done: list[dict] = []
    for _ in range(int(rng.integers(1, 4))):
        ligand = rng.random() < 0.5
        radius = uniform(rng, (2.5, 4.5) if ligand else (6.0, 11.0))
        centres = _outside_points(rng, tree, atoms.xyz, radius + 2.0, 1)
        if not len(centres):
            continue
        # Protein-like packing: one heavy atom per ~17 Å³ of the blob.
        n = max(5, int(4.0 / 3.0 * math.pi * radius**3 / VOLUME_PER_ATOM))
        offsets = rng.normal(size=(n, 3))
        offsets *= (radius * rng.random(n) ** (1 / 3) / np.linalg.norm(offsets, axis=1))[:, None]
        pseudo.append(centres[0] + offsets)
        done.append(
            {
                "kind": "ligand" if ligand else "fragment",
                "radius": round(radius, 2),
                "pseudo_atoms": n,
                "centre": [round(float(c), 2) for c in centres[0]],
            }
        )
    return pseudo, done


def _belt(rng: np.random.Generator, atoms: Atoms, tree: cKDTree) -> tuple[np.ndarray, dict]:
    """A detergent-belt-like annulus of low-density pseudo-atoms around the long axis."""
    centre = atoms.xyz.mean(axis=0)
    centred = atoms.xyz - centre
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    radial = np.linalg.norm(centred - np.outer(centred @ axis, axis), axis=1)
    inner = float(np.percentile(radial, 90))
    width, half_height = uniform(rng, (8.0, 15.0)), uniform(rng, (10.0, 16.0))
    volume = math.pi * ((inner + width) ** 2 - inner**2) * 2 * half_height
    n = int(0.4 * volume / VOLUME_PER_ATOM)  # detergent: ~40 % of protein density
    u = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]
    angle = rng.uniform(0, 2 * math.pi, n)
    r = np.sqrt(rng.uniform(inner**2, (inner + width) ** 2, n))
    h = rng.uniform(-half_height, half_height, n)
    points = (
        centre
        + np.outer(h, axis)
        + (r * np.cos(angle))[:, None] * u[:, 0]
        + (r * np.sin(angle))[:, None] * u[:, 1]
    )
    keep = tree.query(points)[0] >= 3.0
    record = {
        "kind": "belt",
        "inner_radius": round(inner, 2),
        "width": round(width, 2),
        "height": round(2 * half_height, 2),
        "pseudo_atoms": int(keep.sum()),
    }
    return points[keep], record


def extra_density(rng: np.random.Generator, atoms: Atoms) -> tuple[np.ndarray, list[dict]]:
    """Pseudo-atoms (carbon-like) of unmodelled density: blobs and sometimes a belt."""
    pseudo: list[np.ndarray] = []
    done: list[dict] = []
    tree = cKDTree(atoms.xyz)
    if rng.random() < P_EXTRA:
        pseudo, done = _blobs(rng, atoms, tree)
    if rng.random() < P_BELT:
        points, record = _belt(rng, atoms, tree)
        pseudo.append(points)
        done.append(record)
    return (np.concatenate(pseudo) if pseudo else np.zeros((0, 3))), done


# B-DNA, per nucleotide: (radius Å, azimuth offset °, height offset Å, electrons) of its heavy
# atoms, from the phosphate inwards; the base's atoms run on towards the helix axis.
_BDNA_RISE, _BDNA_TWIST, _BDNA_MINOR = 3.38, 36.0, 144.0  # Å, °, ° between paired strands
_NUCLEOTIDE = (
    (8.9, 0.0, 0.0, 15),  # P
    (9.9, -6.0, 0.8, 8),  # OP1
    (9.6, 6.0, -0.8, 8),  # OP2
    (8.4, 9.0, 0.6, 8),  # O5'
    (8.6, 15.0, 1.0, 6),  # C5'
    (7.9, 22.0, 0.8, 6),  # C4'
    (6.9, 27.0, 1.6, 8),  # O4'
    (8.3, 22.0, -0.6, 6),  # C3'
    (8.7, 14.0, -1.6, 8),  # O3'
    (7.2, 30.0, -0.9, 6),  # C2'
    (5.9, 33.0, 0.4, 6),  # C1'
)
_BASE_ATOMS = 10  # a purine/pyrimidine average, spread from C1' to the axis


def _ideal_duplex(n_bp: int) -> tuple[np.ndarray, list[int]]:
    """Heavy atoms (xyz about the helix axis z, centred; electrons) of an ideal B-DNA duplex."""
    local, weight = [], []
    for i in range(n_bp):
        for strand, (turn, sense) in enumerate(((0.0, 1.0), (_BDNA_MINOR, -1.0))):
            base_angle = i * _BDNA_TWIST + turn
            z0 = i * _BDNA_RISE
            for r, da, dz, electrons in _NUCLEOTIDE:
                a = math.radians(base_angle + sense * da)
                local.append((r * math.cos(a), r * math.sin(a), z0 + sense * dz))
                weight.append(electrons)
            a = math.radians(base_angle + sense * _NUCLEOTIDE[-1][1])
            c1 = np.array([5.9 * math.cos(a), 5.9 * math.sin(a)])
            for t in np.linspace(0.15, 0.95, _BASE_ATOMS):  # C1' → the axis (pair centre)
                x, y = c1 * (1 - t)
                local.append((x, y, z0))
                weight.append(7 if strand else 6)
    xyz_local = np.asarray(local, dtype=np.float64)
    xyz_local[:, 2] -= xyz_local[:, 2].mean()
    return xyz_local, weight


def nucleic_acid_duplex(
    rng: np.random.Generator, atoms: Atoms
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Heavy atoms (xyz, electrons) of an ideal B-DNA duplex of NUCLEIC_BP base pairs lying
    against the model's surface, atoms clashing with the model (< 3 Å) removed. It is density
    only: no residue of it is in the model file, so it is labelled background, as the paper's
    labels treat nucleic acids (no Cα)."""
    n_bp = int(rng.integers(NUCLEIC_BP[0], NUCLEIC_BP[1] + 1))
    xyz_local, weight = _ideal_duplex(n_bp)
    # Place it: the axis 11 Å beyond the model's most outward atom along a random direction,
    # at right angles to that direction, turned at random about it.
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    centre = atoms.xyz.mean(axis=0)
    outward = float(((atoms.xyz - centre) @ direction).max())
    helper = rng.normal(size=3)
    axis = np.cross(direction, helper)
    axis /= np.linalg.norm(axis)
    third = np.cross(axis, direction)
    anchor = centre + direction * (outward + 11.0)
    frame = np.stack([direction, third, axis])  # local x, y, z → world
    xyz = anchor + xyz_local @ frame
    keep = cKDTree(atoms.xyz).query(xyz)[0] >= 3.0
    record = {
        "kind": "B-DNA duplex",
        "base_pairs": n_bp,
        "atoms": int(keep.sum()),
        "centre": [round(float(c), 2) for c in anchor],
        "axis": [round(float(c), 4) for c in axis],
    }
    return xyz[keep], np.asarray(weight, dtype=np.float64)[keep], record


def uneven_order(rng: np.random.Generator, atoms: Atoms) -> tuple[Atoms, dict[str, Any]]:
    """Atom amplitudes × exp(s·g − s²/2), g a smooth unit-variance random field (64 random
    plane waves of wavelength ~ `length` Å): well-ordered cores and weak, flexible parts, as the
    local resolution and occupancy of a real map vary (the mean amplitude is kept)."""
    s = uniform(rng, AMPLITUDE_FIELD)
    length = uniform(rng, FIELD_LENGTH)
    k = rng.normal(size=(64, 3)) / length * 2 * math.pi / 2
    phase = rng.uniform(0, 2 * math.pi, 64)
    g = np.cos(atoms.xyz @ k.T + phase).sum(axis=1) * math.sqrt(2 / 64)
    factor = np.exp(s * g - s**2 / 2)
    return replace(atoms, weight=atoms.weight * factor), {
        "log_sd": round(s, 3),
        "length": round(length, 2),
    }


def draw_deviations(
    rng: np.random.Generator, profile: Profile, atoms: Atoms
) -> tuple[Atoms, Deviations]:
    """Missing and extra density, uneven order and a DNA duplex, as the profile allows."""
    missing = missing_density(rng, atoms)
    pseudo, extra = extra_density(rng, atoms)
    pseudo_w = np.full(len(pseudo), 6.0)
    order_field = None
    if profile.heterogeneity:
        atoms, order_field = uneven_order(rng, atoms)
    nucleic = None
    if profile.nucleic_acids and rng.random() < P_NUCLEIC:
        na_xyz, na_w, nucleic = nucleic_acid_duplex(rng, atoms)
        pseudo, pseudo_w = np.concatenate([pseudo, na_xyz]), np.concatenate([pseudo_w, na_w])
    return atoms, Deviations(pseudo, pseudo_w, missing, extra, order_field, nucleic)
