"""Simulated medium-resolution (5–10 Å) cryo-EM maps from atomic models, as mirror entries.

Each simulated map is written as an entry of a local mirror (`mirror_entry.write_entry`: v3
header XML, `emd_XXXXX.map.gz`, the source model copied unchanged) so it passes through the
same curation, quality, crop and label steps as an EMDB entry.

**Ids.** Simulated entries get `EMD-92000` … `EMD-99999` (`SIMULATED_IDS`), derived entries
(`synthetic/derive.py`) `EMD-91000` … `EMD-91999`; EMDB numbering is sequential and far below
90000, and
the tests' fixtures use `EMD-90xxx` and `EMD-99999` only outside a mirror built here. Every
simulated header's title starts with "SIMULATED", its comment says it is not an EMDB entry, and
`entry_origin()` tells simulated / derived / emdb from the id alone. The fitted model id is the
real PDB id of the source structure.

**Density model** (all parameters sampled per map from a RNG seeded by sha256 of
seed:emdb_id:pdb_id, so a map is reproducible byte for byte; all recorded in
`other/simulation.json` and summarised in the header comment):

- atoms (first model, no hydrogens, no waters) are Gaussians with amplitude = electron count
  (atomic number) × occupancy; per-axis variance σ² = σ_res² + (B_atom + B_global)/(8π²)
  with σ_res = 0.225 · resolution (the ChimeraX `molmap` convention: sigmaFactor 1/(π√2)).
  B_atom comes from the file, clipped to `B_CLIP`; a file without B-factors (all equal) gets
  `B_DEFAULT`. Computation: atoms are splatted with trilinear weights into four B-quantile
  grids, each Fourier-transformed once and multiplied by its Gaussian transfer function
  exp(−2π²σ²|k|²) (FFT grid padded by 3σ, so nothing wraps around);
- local resolution: a second, blurrier map at resolution × `worst_factor` is blended in with a
  smooth weight field w ∈ [0, 1] = mix of a core-to-surface gradient and a random field
  (white noise low-passed at `field_length` Å);
- noise: white Gaussian noise shaped by a Gaussian low-pass of σ = `noise_sigma_factor` · σ_res
  plus a white fraction, scaled so that mean(signal in the molecular envelope) / std(noise) =
  `snr`;
- missing density (probability `P_MISSING`): a stretch of 6–20 residues (a terminus or an
  inner loop) or a sphere of 6–12 Å around a random residue, atom amplitudes × `attenuation`;
- extra density (probability `P_EXTRA`): 1–3 unmodelled blobs (ligand-sized or a neighbour
  fragment) of carbon-like pseudo-atoms just outside the model, and (probability `P_BELT`) a
  detergent-belt-like annulus of low-density pseudo-atoms around the model's long axis;
- zoning (probability `P_MASK`): voxels farther than `mask_radius` Å from every atom set to 0,
  as in masked depositions and the He-lab component maps;
- map values = scale · (density + noise) + offset (arbitrary units, may be negative);
- grid: cubic voxels of 0.8–1.6 Å (raised, and recorded, when an axis would exceed
  `MAX_GRID` voxels), a box of the model's extent + 6–20 Å padding drawn per side (non-cubic),
  positioned either by ORIGIN (Å) or by NSTART (voxels, ORIGIN 0), drawn 50/50;
- the header's primary contour is the level that encloses the model's volume (17 Å³ per
  heavy atom), as an author's contour would.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gemmi
import numpy as np
from scipy import fft, ndimage
from scipy.spatial import cKDTree
from scipy.special import ndtr

from cryosse.core.atomic import write_text_atomic
from cryosse.core.ids import normalize_emdb_id, normalize_pdb_id
from cryosse.core.reasons import CurationError
from cryosse.core.tsv import tsv_text
from cryosse.synthetic.mirror_entry import (
    HeaderInfo,
    model_suffix,
    mrc_bytes,
    read_plain_bytes,
    write_entry,
)

SIMULATED_IDS = (92000, 99999)
DERIVED_IDS = (91000, 91999)
SIGMA_PER_RESOLUTION = 0.225  # ChimeraX molmap: σ = resolution / (π √2)
RESOLUTION = (5.0, 10.0)
VOXEL = (0.8, 1.6)
PADDING = (6.0, 20.0)
MAX_GRID = 256
B_CLIP = (5.0, 150.0)
B_DEFAULT = 40.0
B_GLOBAL = (0.0, 80.0)
N_B_GROUPS = 4
WORST_FACTOR = (1.0, 1.6)
FIELD_LENGTH = (10.0, 30.0)
SNR = (4.0, 25.0)
NOISE_SIGMA_FACTOR = (0.0, 0.5)
WHITE_FRACTION = (0.0, 0.03)
SHARPENING = (0.5, 1.0)
BUTTERWORTH_ORDER = (4, 10)
P_MISSING, P_EXTRA, P_BELT, P_MASK = 0.3, 0.4, 0.1, 0.25
MASK_RADIUS = (3.0, 7.0)
CONTOUR_VOLUME = (35.0, 60.0)
CONTOUR_VOLUME_EMDB = (30.0, 50.0)
VOLUME_PER_ATOM = 17.0  # Å³ per heavy atom (1.21 Å³/Da, ~14 Da per heavy atom with its H)
SUMMARY_COLUMNS = [
    "emdb_id",
    "pdb_id",
    "source",
    "status",
    "reason",
    "resolution",
    "voxel_size",
    "shape_xyz",
    "snr",
    "chains",
    "assembly",
    "nucleic_acid",
    "mask",
]


# What an EMDB-like map adds to version 1 (docs/simulation.md, "Realism"): each field is one
# change, measured alone by benchmarks/realism.py.
COARSE_VOXEL = (0.8, 3.0)  # Å; medium-resolution EMDB maps are sampled at 1-3 Å
NYQUIST_FRACTION = 0.45  # voxel ≤ 0.45 · resolution: the map still samples its resolution
FULL_PADDING = (18.0, 26.0)  # Å: a full map's solvent reaches past the 17 Å crop padding
SOLVENT_SNR = (2.5, 10.0)  # envelope mean / solvent sd; EMD-5168 (full, 6.6 Å): 4.1
SOLVENT_TILT = (0.5, 2.0)  # noise amplitude ∝ (|k|·res)^tilt below the cutoff: sharpened noise
SOLVENT_LOW = (0.0, 0.3)  # share of a smooth (20-40 Å) background: uneven solvent, ice, etc.
P_NUCLEIC = 0.35  # a B-DNA duplex packed against the model (unmodelled: labelled background)
NUCLEIC_BP = (10, 40)
AMPLITUDE_FIELD = (0.15, 0.55)  # sd of log amplitude over a smooth field of length FIELD_LENGTH
SHARPENING_EMDB = (0.2, 0.6)  # real maps are sharpened harder than version 1 drew ...
B_GLOBAL_EMDB = (0.0, 20.0)  # ... and their B-factor is mostly corrected
MASK_KINDS = (  # (kind, probability) of the "emdb" profile
    ("none", 0.45),  # a full deposited map
    ("contour", 0.35),  # a depositor's mask: the density's own envelope, dilated, soft edge
    ("zone", 0.20),  # zoned around the model (He-lab components, Chimera zone)
)
MASK_EXTEND = (1.0, 6.0)  # Å added around a depositor's mask
MASK_SOFT = (0.0, 8.0)  # Å of cosine edge (0: a hard mask, as Chimera's `volume mask`)
MASK_LEVEL_VOLUME = (1.0, 2.5)  # the mask's level encloses this × the model's volume


@dataclass(frozen=True)
class Profile:
    """How a map is simulated: version 1 ("v1", the maps behind the shipped model) or the
    EMDB-like maps ("emdb"); the profiles between add one change each, in order."""

    name: str
    coarse_voxels: bool = False  # voxels COARSE_VOXEL (else VOXEL), padding FULL_PADDING
    solvent: bool = False  # the solvent noise model (else version 1's)
    masks: bool = False  # MASK_KINDS (else version 1's zoning with P_MASK)
    assembly: bool = False  # biological assembly + packed neighbours (`assembly.py`)
    nucleic_acids: bool = False  # P_NUCLEIC B-DNA duplexes
    heterogeneity: bool = False  # uneven order: AMPLITUDE_FIELD, stronger SHARPENING_EMDB


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("v1"),
        Profile("voxels", coarse_voxels=True),
        Profile("solvent", coarse_voxels=True, solvent=True),
        Profile("masks", coarse_voxels=True, solvent=True, masks=True),
        Profile("assembly", coarse_voxels=True, solvent=True, masks=True, assembly=True),
        Profile(
            "nucleic",
            coarse_voxels=True,
            solvent=True,
            masks=True,
            assembly=True,
            nucleic_acids=True,
        ),
        Profile(
            "emdb",
            coarse_voxels=True,
            solvent=True,
            masks=True,
            assembly=True,
            nucleic_acids=True,
            heterogeneity=True,
        ),
    )
}
DEFAULT_PROFILE = "emdb"


class SimulationError(ValueError):
    """A structure that cannot be simulated; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def entry_origin(emdb_id: str) -> str:
    """ "simulated", "derived" or "emdb", from the reserved id ranges."""
    number = int(normalize_emdb_id(emdb_id)[4:])
    if SIMULATED_IDS[0] <= number <= SIMULATED_IDS[1]:
        return "simulated"
    if DERIVED_IDS[0] <= number <= DERIVED_IDS[1]:
        return "derived"
    return "emdb"


def entry_rng(seed: int, emdb_id: str, pdb_id: str) -> np.random.Generator:
    """The per-map RNG: keyed by the entry, so one map never depends on another."""
    digest = hashlib.sha256(f"{seed}:{emdb_id}:{pdb_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass
class Atoms:
    xyz: np.ndarray  # N×3, Å
    weight: np.ndarray  # electrons × occupancy
    b: np.ndarray  # Å², clipped
    residue: np.ndarray  # index into `residues`, -1 for non-protein atoms
    residues: list[tuple[str, str]]  # (chain, residue id) of protein residues, model order
    chain_of_residue: np.ndarray
    ca_index: np.ndarray  # atom index of each protein residue's Cα
    b_source: str


def read_clean_structure(path: Path) -> gemmi.Structure:
    """Model 1 of a file, without hydrogens, waters and alternative conformations."""
    try:
        structure = gemmi.read_structure(str(path), merge_chain_parts=True)
    except (RuntimeError, ValueError, OSError, EOFError) as exc:
        raise SimulationError("model_unreadable", f"{path.name}: {exc}") from exc
    if len(structure) == 0:
        raise SimulationError("model_unreadable", f"{path.name}: no model")
    while len(structure) > 1:
        del structure[1]
    structure.remove_alternative_conformations()
    structure.remove_hydrogens()
    structure.remove_waters()
    return structure


def load_atoms(path: Path) -> Atoms:
    """Heavy, non-water atoms of the first model; raise SimulationError when unusable."""
    return atoms_from_structure(read_clean_structure(path), path.name)


def atoms_from_structure(structure: gemmi.Structure, name: str) -> Atoms:
    """The simulation's atoms of model 1 of a cleaned structure."""
    xyz: list[list[float]] = []
    weight, b, residue, chain_of, ca_index, residues = [], [], [], [], [], []
    for chain in structure[0]:
        for res in chain:
            info = gemmi.find_tabulated_residue(res.name)
            ca = res.find_atom("CA", "*")
            protein = info is not None and info.is_amino_acid() and ca is not None
            if protein:
                residues.append((chain.name, f"{res.seqid.num}{res.seqid.icode.strip()}"))
                chain_of.append(chain.name)
            for atom in res:
                if protein and atom.name == "CA":
                    ca_index.append(len(xyz))
                xyz.append(atom.pos.tolist())
                weight.append(max(atom.element.atomic_number, 1) * max(atom.occ, 0.0))
                b.append(atom.b_iso)
                residue.append(len(residues) - 1 if protein else -1)
    if not residues:
        raise SimulationError("no_protein", f"{name}: no amino-acid residue with a Cα")
    b_arr = np.asarray(b, dtype=np.float64)
    b_source = "file"
    if not np.all(np.isfinite(b_arr)) or np.ptp(b_arr) == 0:
        b_arr, b_source = np.full(len(b_arr), B_DEFAULT), "default (no B-factors in file)"
    xyz_arr = np.asarray(xyz, dtype=np.float64)
    if not np.all(np.isfinite(xyz_arr)):
        raise SimulationError("model_unreadable", f"{name}: non-finite coordinates")
    return Atoms(
        xyz_arr,
        np.asarray(weight, dtype=np.float64),
        np.clip(b_arr, *B_CLIP),
        np.asarray(residue),
        residues,
        np.asarray(chain_of),
        np.asarray(ca_index),
        b_source,
    )


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


def k_squared(shape_zyx: tuple[int, ...], voxel: float) -> np.ndarray:
    """|k|² (1/Å²) on the rfftn grid of a [z, y, x] array."""
    kz = np.fft.fftfreq(shape_zyx[0], d=voxel)[:, None, None]
    ky = np.fft.fftfreq(shape_zyx[1], d=voxel)[None, :, None]
    kx = np.fft.rfftfreq(shape_zyx[2], d=voxel)[None, None, :]
    return kz**2 + ky**2 + kx**2


def gaussian_transfer(k2: np.ndarray, sigma: float) -> np.ndarray:
    """Fourier transform of a unit-mass Gaussian of per-axis σ (Å): exp(−2π²σ²|k|²)."""
    return np.exp(-2.0 * math.pi**2 * sigma**2 * k2)


def butterworth(k2: np.ndarray, resolution: float, order: int) -> np.ndarray:
    """Butterworth low-pass at |k| = 1/resolution: 1 / sqrt(1 + (|k|·resolution)^(2·order))."""
    return 1.0 / np.sqrt(1.0 + (k2 * resolution**2) ** order)


def sigma_for_resolution(resolution: float) -> float:
    return SIGMA_PER_RESOLUTION * resolution


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _missing_density(rng: np.random.Generator, atoms: Atoms) -> dict[str, Any] | None:
    """Attenuate a flexible stretch or a patch; return what was done (None: not drawn)."""
    if rng.random() >= P_MISSING:
        return None
    n_res = len(atoms.residues)
    attenuation = _uniform(rng, (0.0, 0.3))
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
        radius = _uniform(rng, (6.0, 12.0))
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


def _extra_density(rng: np.random.Generator, atoms: Atoms) -> tuple[np.ndarray, list[dict]]:
    """Pseudo-atoms (carbon-like) of unmodelled density: blobs and sometimes a belt."""
    pseudo: list[np.ndarray] = []
    done: list[dict] = []
    tree = cKDTree(atoms.xyz)
    if rng.random() < P_EXTRA:
        for _ in range(int(rng.integers(1, 4))):
            ligand = rng.random() < 0.5
            radius = _uniform(rng, (2.5, 4.5) if ligand else (6.0, 11.0))
            centres = _outside_points(rng, tree, atoms.xyz, radius + 2.0, 1)
            if not len(centres):
                continue
            # Protein-like packing: one heavy atom per ~17 Å³ of the blob.
            n = max(5, int(4.0 / 3.0 * math.pi * radius**3 / VOLUME_PER_ATOM))
            offsets = rng.normal(size=(n, 3))
            offsets *= (radius * rng.random(n) ** (1 / 3) / np.linalg.norm(offsets, axis=1))[
                :, None
            ]
            pseudo.append(centres[0] + offsets)
            done.append(
                {
                    "kind": "ligand" if ligand else "fragment",
                    "radius": round(radius, 2),
                    "pseudo_atoms": n,
                    "centre": [round(float(c), 2) for c in centres[0]],
                }
            )
    if rng.random() < P_BELT:
        centre = atoms.xyz.mean(axis=0)
        centred = atoms.xyz - centre
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        radial = np.linalg.norm(centred - np.outer(centred @ axis, axis), axis=1)
        inner = float(np.percentile(radial, 90))
        width, half_height = _uniform(rng, (8.0, 15.0)), _uniform(rng, (10.0, 16.0))
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
        pseudo.append(points[keep])
        done.append(
            {
                "kind": "belt",
                "inner_radius": round(inner, 2),
                "width": round(width, 2),
                "height": round(2 * half_height, 2),
                "pseudo_atoms": int(keep.sum()),
            }
        )
    return (np.concatenate(pseudo) if pseudo else np.zeros((0, 3))), done


def smooth_field(
    rng: np.random.Generator, shape_zyx: tuple[int, int, int], voxel: float, length: float
) -> np.ndarray:
    """A random field with values in (0, 1), smooth over `length` Å (Gaussian low-pass)."""
    white = rng.standard_normal(shape_zyx)
    field = fft.irfftn(
        fft.rfftn(white) * gaussian_transfer(k_squared(shape_zyx, voxel), length / 2), s=shape_zyx
    )
    field = (field - field.mean()) / (field.std() or 1.0)
    return ndtr(field)


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


def nucleic_acid_duplex(
    rng: np.random.Generator, atoms: Atoms
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Heavy atoms (xyz, electrons) of an ideal B-DNA duplex of NUCLEIC_BP base pairs lying
    against the model's surface, atoms clashing with the model (< 3 Å) removed. It is density
    only: no residue of it is in the model file, so it is labelled background, as the paper's
    labels treat nucleic acids (no Cα)."""
    n_bp = int(rng.integers(NUCLEIC_BP[0], NUCLEIC_BP[1] + 1))
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


def _uneven_order(rng: np.random.Generator, atoms: Atoms) -> tuple[Atoms, dict[str, Any]]:
    """Atom amplitudes × exp(s·g − s²/2), g a smooth unit-variance random field (64 random
    plane waves of wavelength ~ `length` Å): well-ordered cores and weak, flexible parts, as the
    local resolution and occupancy of a real map vary (the mean amplitude is kept)."""
    s = _uniform(rng, AMPLITUDE_FIELD)
    length = _uniform(rng, FIELD_LENGTH)
    k = rng.normal(size=(64, 3)) / length * 2 * math.pi / 2
    phase = rng.uniform(0, 2 * math.pi, 64)
    g = np.cos(atoms.xyz @ k.T + phase).sum(axis=1) * math.sqrt(2 / 64)
    factor = np.exp(s * g - s**2 / 2)
    out = Atoms(
        atoms.xyz,
        atoms.weight * factor,
        atoms.b,
        atoms.residue,
        atoms.residues,
        atoms.chain_of_residue,
        atoms.ca_index,
        atoms.b_source,
    )
    return out, {"log_sd": round(s, 3), "length": round(length, 2)}


def solvent_noise(
    rng: np.random.Generator, shape: tuple[int, int, int], voxel: float, res: float, order: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Unit-sd noise like a deposited map's solvent: white noise × (|k|·res)^tilt (sharpening
    lifts the high frequencies up to the cutoff) × the map's Butterworth filter, plus a smooth
    background (20-40 Å) of share `low`; and the SNR to scale it to."""
    snr = float(math.exp(rng.uniform(math.log(SOLVENT_SNR[0]), math.log(SOLVENT_SNR[1]))))
    tilt = _uniform(rng, SOLVENT_TILT)
    low = _uniform(rng, SOLVENT_LOW)
    low_length = _uniform(rng, (20.0, 40.0))
    k2 = k_squared(shape, voxel)
    transfer = (np.sqrt(k2) * res) ** tilt * butterworth(k2, res, order)
    shaped = fft.irfftn(fft.rfftn(rng.standard_normal(shape)) * transfer, s=shape)
    shaped /= shaped.std() or 1.0
    smooth = fft.irfftn(
        fft.rfftn(rng.standard_normal(shape)) * gaussian_transfer(k2, low_length / 2), s=shape
    )
    smooth /= smooth.std() or 1.0
    noise = math.sqrt(1 - low) * shaped + math.sqrt(low) * smooth
    params = {
        "model": "solvent",
        "snr": round(snr, 3),
        "tilt": round(tilt, 3),
        "smooth_share": round(low, 3),
        "smooth_length": round(low_length, 2),
    }
    return noise, params


def depositor_mask(
    rng: np.random.Generator, clean: np.ndarray, voxel: float, n_atoms: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """A depositor's mask (weights in [0, 1]): the noise-free density above the level that
    encloses `volume` × the model's volume, extended by `extend` Å, with a cosine edge of
    `soft` Å (0: hard, exact zeros outside as in Chimera's mask of EMD-0093)."""
    volume = _uniform(rng, MASK_LEVEL_VOLUME)
    extend = _uniform(rng, MASK_EXTEND)
    soft = _uniform(rng, MASK_SOFT) if rng.random() < 0.5 else 0.0
    n = int(min(clean.size - 1, max(1, n_atoms * VOLUME_PER_ATOM * volume / voxel**3)))
    level = float(np.partition(clean, clean.size - n, axis=None)[clean.size - n])
    outside = ndimage.distance_transform_edt(clean < level) * voxel
    weight = np.where(outside <= extend, 1.0, 0.0)
    if soft > 0:
        edge = (outside > extend) & (outside <= extend + soft)
        weight[edge] = 0.5 * (1 + np.cos(math.pi * (outside[edge] - extend) / soft))
    record = {
        "kind": "contour",
        "volume_factor": round(volume, 3),
        "extend": round(extend, 2),
        "soft_edge": round(soft, 2),
        "inside_fraction": round(float(np.mean(weight > 0)), 4),
    }
    return weight, record


@dataclass
class SimulatedMap:
    data: np.ndarray  # float32 [z, y, x]
    voxel: float
    origin: np.ndarray  # xyz of voxel [0,0,0], Å
    nstart: tuple[int, int, int]  # (0, 0, 0) unless positioned by NSTART
    origin_mode: str
    contour: float
    params: dict[str, Any]


def simulate_atoms(
    atoms: Atoms,
    rng: np.random.Generator,
    resolution: float | None = None,
    profile: Profile | str = "v1",
    resolution_range: tuple[float, float] = RESOLUTION,
) -> SimulatedMap:
    """Draw every parameter and compute one map (see the module docstring); `resolution`
    fixes the resolution, else it is drawn uniformly in `resolution_range`."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    res = float(resolution) if resolution is not None else _uniform(rng, resolution_range)
    if profile.coarse_voxels:
        voxel = min(_uniform(rng, COARSE_VOXEL), NYQUIST_FRACTION * res)
        padding = rng.uniform(*FULL_PADDING, size=(2, 3))
    else:
        voxel = _uniform(rng, VOXEL)
        padding = rng.uniform(*PADDING, size=(2, 3))
    b_global = _uniform(rng, B_GLOBAL_EMDB if profile.heterogeneity else B_GLOBAL)
    missing = _missing_density(rng, atoms)
    pseudo, extra = _extra_density(rng, atoms)
    pseudo_w = np.full(len(pseudo), 6.0)
    order_field = None
    if profile.heterogeneity:
        atoms, order_field = _uneven_order(rng, atoms)
    nucleic = None
    if profile.nucleic_acids and rng.random() < P_NUCLEIC:
        na_xyz, na_w, nucleic = nucleic_acid_duplex(rng, atoms)
        pseudo, pseudo_w = np.concatenate([pseudo, na_xyz]), np.concatenate([pseudo_w, na_w])

    lo = atoms.xyz.min(axis=0) - padding[0]
    hi = atoms.xyz.max(axis=0) + padding[1]
    voxel_drawn = voxel
    voxel = max(voxel, float(np.max(hi - lo)) / (MAX_GRID - 1))
    origin_mode = "nstart" if rng.random() < 0.5 else "origin"
    if origin_mode == "nstart":
        nstart = np.floor(lo / voxel).astype(int)
        origin = nstart * voxel
    else:
        nstart, origin = np.zeros(3, dtype=int), lo.copy()
    shape_xyz = np.ceil((hi - origin) / voxel).astype(int) + 1
    shape = (int(shape_xyz[2]), int(shape_xyz[1]), int(shape_xyz[0]))

    # Post-processed maps are sharpened (B-factor correction) and low-passed at 1/resolution:
    # the Gaussian is narrowed by `sharpening` and a Butterworth filter cuts at 1/resolution.
    sharpening = _uniform(rng, SHARPENING_EMDB if profile.heterogeneity else SHARPENING)
    order = int(rng.integers(BUTTERWORTH_ORDER[0], BUTTERWORTH_ORDER[1] + 1))
    sigma_res = sharpening * sigma_for_resolution(res)
    worst_factor = _uniform(rng, WORST_FACTOR)
    sigma_worst = sharpening * sigma_for_resolution(res * worst_factor)
    # Trilinear splatting already spreads a point by a variance of voxel²/6 per axis.
    splat_var = voxel**2 / 6.0
    max_sigma = math.sqrt(sigma_worst**2 + (B_CLIP[1] + b_global) / (8 * math.pi**2))
    pad = math.ceil(3 * max_sigma / voxel)
    big = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in shape)
    big_origin = origin - pad * voxel
    k2 = k_squared(big, voxel)

    all_xyz = np.concatenate([atoms.xyz, pseudo])
    all_w = np.concatenate([atoms.weight, pseudo_w])
    all_b = np.concatenate([atoms.b, np.full(len(pseudo), min(B_CLIP[1], 60.0))])
    edges = np.quantile(all_b, np.linspace(0, 1, N_B_GROUPS + 1))
    group = np.clip(np.searchsorted(edges, all_b, side="right") - 1, 0, N_B_GROUPS - 1)
    sharp = np.zeros(k2.shape, dtype=np.complex128)
    blurred = np.zeros(k2.shape, dtype=np.complex128)
    for g in range(N_B_GROUPS):
        members = group == g
        if not members.any():
            continue
        grid = splat(all_xyz[members], all_w[members], big_origin, voxel, big)
        spectrum = fft.rfftn(grid)
        b_var = (float(all_b[members].mean()) + b_global) / (8 * math.pi**2)
        for target, s, r in ((sharp, sigma_res, res), (blurred, sigma_worst, res * worst_factor)):
            var = max(s**2 + b_var - splat_var, 1e-6)
            target += spectrum * gaussian_transfer(k2, math.sqrt(var)) * butterworth(k2, r, order)
    crop = (slice(pad, pad + shape[0]), slice(pad, pad + shape[1]), slice(pad, pad + shape[2]))
    sharp_map = fft.irfftn(sharp, s=big)[crop]
    blurred_map = fft.irfftn(blurred, s=big)[crop]

    # Local resolution: w = 0 keeps the nominal resolution, w = 1 is resolution × worst_factor.
    gradient_weight = _uniform(rng, (0.0, 1.0))
    field_length = _uniform(rng, FIELD_LENGTH)
    zz, yy, xx = np.indices(shape, dtype=np.float64)
    pos = np.stack([xx, yy, zz], axis=-1) * voxel + origin
    centre = atoms.xyz.mean(axis=0)
    radial = np.linalg.norm(pos - centre, axis=-1)
    radial /= max(float(np.percentile(np.linalg.norm(atoms.xyz - centre, axis=1), 95)), 1.0)
    w = gradient_weight * np.clip(radial, 0, 1) + (1 - gradient_weight) * smooth_field(
        rng, shape, voxel, field_length
    )
    clean = (1 - w) * sharp_map + w * blurred_map

    # The model's envelope: the voxels of highest clean density holding the model's volume.
    n_envelope = int(min(clean.size - 1, max(1, len(atoms.xyz) * VOLUME_PER_ATOM / voxel**3)))
    clean_sorted = np.sort(clean, axis=None)
    envelope_mean = float(clean_sorted[-n_envelope:].mean())

    if profile.solvent:
        noise, noise_params = solvent_noise(rng, shape, voxel, res, order)
        snr = noise_params["snr"]
    else:
        snr = float(math.exp(rng.uniform(math.log(SNR[0]), math.log(SNR[1]))))
        noise_sigma = _uniform(rng, NOISE_SIGMA_FACTOR) * sigma_res
        white_fraction = _uniform(rng, WHITE_FRACTION)
        white = rng.standard_normal(shape)
        noise_k2 = k_squared(shape, voxel)
        # The map's low-pass filter shapes the noise too (little power beyond 1/res).
        transfer = gaussian_transfer(noise_k2, noise_sigma) * butterworth(noise_k2, res, order)
        shaped = fft.irfftn(fft.rfftn(white) * transfer, s=shape)
        shaped /= shaped.std() or 1.0
        noise = (1 - white_fraction) * shaped + white_fraction * white
        noise_params = {
            "model": "v1",
            "snr": round(snr, 3),
            "lowpass_sigma": round(noise_sigma, 3),
            "white_fraction": round(white_fraction, 3),
        }
    noise *= envelope_mean / snr / (noise.std() or 1.0)

    scale = float(10 ** rng.uniform(-2, 1))
    if profile.solvent:
        # A deposited map's solvent sits near 0: an offset of at most half a noise sd, in the
        # map's units (version 1 added ±1 noise sd unscaled, so with scale 0.01 a whole map
        # could sit below 0 and normalise to nothing).
        offset = scale * float(rng.uniform(-0.5, 0.5)) * envelope_mean / snr
    else:
        offset = float(rng.uniform(-1, 1)) * envelope_mean / snr
    data = scale * (clean + noise) + offset

    mask: dict[str, Any] | None = None
    if profile.masks:
        kinds = [k for k, _ in MASK_KINDS]
        weights = np.array([w for _, w in MASK_KINDS])
        kind = str(rng.choice(kinds, p=weights / sum(w for _, w in MASK_KINDS)))
    else:
        kind = "zone" if rng.random() < P_MASK else "none"
    if kind == "zone":
        radius = _uniform(rng, MASK_RADIUS)
        tree = cKDTree(atoms.xyz)
        dist = tree.query(pos.reshape(-1, 3), distance_upper_bound=radius + 1e-6)[0]
        data = np.where(dist.reshape(shape) <= radius, data, 0.0)
        mask = {"radius": round(radius, 2)}
        if profile.masks:
            mask["kind"] = "zone"
    elif kind == "contour":
        weight, mask = depositor_mask(rng, clean, voxel, len(atoms.xyz))
        data = data * weight
    data = data.astype(np.float32)
    # The author-like contour encloses `contour_volume` Å³ per atom (the model's volume and
    # some: authors contour low enough to show the whole model).
    contour_volume = _uniform(rng, CONTOUR_VOLUME_EMDB if profile.heterogeneity else CONTOUR_VOLUME)
    values = data[data != 0] if mask else data.ravel()  # a zoned map's outside is not density
    # With uneven order, a level as low as version 1's also encloses the solvent's noise:
    # EMDB-like maps are contoured nearer the model's volume, counting the unmodelled density.
    n_shown = len(atoms.xyz) + (len(pseudo) if profile.heterogeneity else 0)
    n_contour = int(min(values.size - 1, n_shown * contour_volume / voxel**3))
    if profile.masks and mask:
        # a depositor's mask holds little more than the molecule: the author's level still
        # leaves its faint rim out (else the level is the mask's edge value, ~0)
        n_contour = min(n_contour, int(0.6 * values.size))
    level_index = values.size - max(1, n_contour)
    contour = float(np.partition(values, level_index)[level_index])

    params = {
        "resolution": round(res, 3),
        "sigma_resolution": round(sigma_res, 4),
        "sigma_convention": "sigma = sharpening * 0.225 * resolution (ChimeraX molmap at 1), "
        "per axis, times a Butterworth low-pass at 1/resolution",
        "sharpening": round(sharpening, 3),
        "butterworth_order": order,
        "voxel_size": round(voxel, 5),
        "voxel_size_drawn": round(voxel_drawn, 5),
        "padding_low_xyz": [round(float(p), 2) for p in padding[0]],
        "padding_high_xyz": [round(float(p), 2) for p in padding[1]],
        "shape_xyz": [int(n) for n in shape_xyz],
        "origin_mode": origin_mode,
        "origin_xyz": [round(float(o), 4) for o in origin],
        "nstart_xyz": [int(n) for n in nstart],
        "b_global": round(b_global, 2),
        "b_atoms_median": round(float(np.median(atoms.b)), 2),
        "local_resolution": {
            "worst_factor": round(worst_factor, 3),
            "worst_resolution": round(res * worst_factor, 3),
            "gradient_weight": round(gradient_weight, 3),
            "field_length": round(field_length, 2),
        },
        "noise": noise_params,
        "scale": round(scale, 5),
        "offset": round(offset * 1.0, 6),
        "missing_density": missing,
        "extra_density": extra,
        "mask": mask,
        "nucleic_acid": nucleic,
        "uneven_order": order_field,
        "profile": profile.name,
        "contour_level": contour,
        "contour_volume_per_atom": round(contour_volume, 2),
    }
    sx, sy, sz = (int(n) for n in nstart)
    return SimulatedMap(data, voxel, origin, (sx, sy, sz), origin_mode, contour, params)


def _summary(emdb_id: str, pdb_id: str, params: dict[str, Any]) -> str:
    missing = params["missing_density"]
    extra = ", ".join(e["kind"] for e in params["extra_density"]) or "none"
    return (
        f"SIMULATED map, not an EMDB entry: written by cryosse simulate from PDB {pdb_id} "
        f"(id {emdb_id} is from the reserved simulated range EMD-{SIMULATED_IDS[0]}.."
        f"{SIMULATED_IDS[1]}). Resolution {params['resolution']:.2f} Å (sigma 0.225*res + "
        f"B-factors, global B {params['b_global']:.0f}), voxel {params['voxel_size']:.3f} Å, "
        f"{params['origin_mode']} positioning, local resolution down to "
        f"{params['local_resolution']['worst_resolution']:.2f} Å, SNR "
        f"{params['noise']['snr']:.2f}, missing density: "
        f"{missing['kind'] if missing else 'none'}, extra density: {extra}, mask: "
        f"{'yes' if params['mask'] else 'no'}. All parameters: other/simulation.json."
    )


def structure_pdb_id(path: Path) -> str:
    """The PDB id from a structure file name (`1abc.pdb.gz`, `1abc.cif`)."""
    stem = path.name.lower().split(".")[0]
    try:
        return normalize_pdb_id(stem)
    except CurationError as exc:
        raise SimulationError("invalid_id", str(exc)) from exc


_ASSEMBLIES: dict[str, Any] = {}


def _assembly_of(key: str, structure: gemmi.Structure) -> Any:
    """The checked assembly model of a structure file, kept for its next map (a structure's
    maps are simulated one after another; one entry is kept, so memory stays bounded)."""
    from cryosse.synthetic.assembly import checked_assembly

    if key not in _ASSEMBLIES:
        _ASSEMBLIES.clear()
        _ASSEMBLIES[key] = checked_assembly(structure)
    return _ASSEMBLIES[key]


def simulate_entry(
    model_path: Path,
    emdb_id: str,
    mirror_root: Path,
    seed: int,
    resolution: float | None = None,
    profile: Profile | str = "v1",
    resolution_range: tuple[float, float] = RESOLUTION,
) -> dict[str, Any]:
    """Simulate one map of one structure and write it as a mirror entry; return its record.
    With an `assembly` profile the entry's model is the assembly model (`assembly.py`,
    mmCIF), the same for every map of the structure; otherwise the file, copied unchanged."""
    from cryosse.synthetic.assembly import model_bytes

    profile = PROFILES[profile] if isinstance(profile, str) else profile
    emdb_id = normalize_emdb_id(emdb_id)
    if entry_origin(emdb_id) != "simulated":
        raise ValueError(f"{emdb_id} is outside the simulated range {SIMULATED_IDS}")
    pdb_id = structure_pdb_id(model_path)
    try:
        suffix = model_suffix(model_path)
    except ValueError as exc:
        raise SimulationError("model_unreadable", str(exc)) from exc
    structure = read_clean_structure(model_path)
    assembly_record = None
    model = (read_plain_bytes(model_path), suffix)
    if profile.assembly:
        built = _assembly_of(str(model_path), structure)
        assembly_record = built.record
        if built.record.get("used"):
            structure = built.structure
            model = (model_bytes(structure), ".cif")
    atoms = atoms_from_structure(structure, model_path.name)
    rng = entry_rng(seed, emdb_id, pdb_id)
    sim = simulate_atoms(atoms, rng, resolution, profile, resolution_range)
    record = {
        "simulated": True,
        "emdb_id": emdb_id,
        "pdb_id": pdb_id,
        "source_model": model_path.name,
        "seed": seed,
        "b_source": atoms.b_source,
        "n_atoms": len(atoms.xyz),
        "n_protein_residues": len(atoms.residues),
        "n_chains": len(np.unique(atoms.chain_of_residue)),
        "assembly": assembly_record,
        "parameters": sim.params,
    }
    ox, oy, oz = (float(v) for v in sim.origin) if sim.origin_mode == "origin" else (0.0, 0.0, 0.0)
    data = mrc_bytes(
        sim.data,
        sim.voxel,
        origin_xyz=(ox, oy, oz),
        nstart_xyz=sim.nstart,
        label=f"cryosse SIMULATED from {pdb_id}",
    )
    info = HeaderInfo(
        emdb_id=emdb_id,
        pdb_ids=(pdb_id,),
        title=f"SIMULATED {sim.params['resolution']:.1f} A map of PDB {pdb_id.upper()} "
        "(cryosse simulate; not an EMDB entry)",
        method="singleParticle",
        resolution=round(sim.params["resolution"], 2),
        comment=_summary(emdb_id, pdb_id, sim.params),
        contour_level=sim.contour,
    )
    write_entry(
        mirror_root,
        info,
        data,
        {pdb_id: model},
        record,
        "simulation.json",
    )
    return record


def resolution_stratum(index: int, count: int) -> tuple[float, float]:
    """The `index`-th of `count` equal slices of RESOLUTION: the maps of one structure spread
    over 5-10 Å instead of clustering by chance."""
    width = (RESOLUTION[1] - RESOLUTION[0]) / count
    return (RESOLUTION[0] + index * width, RESOLUTION[0] + (index + 1) * width)


def _simulate_job(job: tuple[Path, int, Path, int, str, tuple[float, float]]) -> dict[str, str]:
    """One map; a structure that cannot be simulated gives a "skipped" row with its reason."""
    path, number, mirror_root, seed, profile, band = job
    emdb_id = f"EMD-{number}"
    row = {
        "emdb_id": emdb_id,
        "pdb_id": "",
        "source": path.name,
        "status": "written",
        "reason": "",
        "resolution": "",
        "voxel_size": "",
        "shape_xyz": "",
        "snr": "",
        "chains": "",
        "assembly": "",
        "nucleic_acid": "",
        "mask": "",
    }
    try:
        record = simulate_entry(
            path, emdb_id, mirror_root, seed, profile=profile, resolution_range=band
        )
    except SimulationError as exc:
        row.update(status="skipped", reason=f"{exc.reason}: {exc}")
    except ValueError as exc:  # e.g. a model file of the same id with other coordinates
        row.update(status="skipped", reason=f"conflict: {exc}")
    else:
        p = record["parameters"]
        row.update(
            pdb_id=record["pdb_id"],
            resolution=f"{p['resolution']:.2f}",
            voxel_size=f"{p['voxel_size']:.3f}",
            shape_xyz="x".join(str(n) for n in p["shape_xyz"]),
            snr=f"{p['noise']['snr']:.2f}",
            chains=str(record["n_chains"]),
            assembly=_assembly_summary(record["assembly"]),
            nucleic_acid=str(p["nucleic_acid"]["base_pairs"]) if p["nucleic_acid"] else "",
            mask=(p["mask"] or {}).get("kind", "zone" if p["mask"] else "none"),
        )
    return row


def _assembly_summary(record: dict[str, Any] | None) -> str:
    if record is None:
        return ""
    if not record.get("used"):
        return f"not used: {record.get('reason', '')}"
    return f"{record['assembly_copies']} copies + {record['packed_neighbours']} neighbours"


def simulate_structures(
    models: Iterable[Path],
    mirror_root: Path,
    first_id: int = SIMULATED_IDS[0],
    maps_per_structure: int = 1,
    seed: int = 1,
    jobs: int = 1,
    progress: bool = False,
    profile: str = "v1",
) -> list[dict[str, str]]:
    """Simulate `maps_per_structure` maps of each model (the j-th in `resolution_stratum(j, n)`),
    ids in sorted model order from `first_id`, in `jobs` processes; a model that fails is
    reported (status "skipped" + reason), never fatal. Writes `<mirror_root>/simulated.tsv` and
    returns its rows."""
    if profile not in PROFILES:
        raise ValueError(f"unknown simulation profile {profile!r} (one of {', '.join(PROFILES)})")
    from multiprocessing import get_context

    from tqdm import tqdm

    paths = sorted(Path(p) for p in models)
    last = first_id + len(paths) * maps_per_structure - 1
    if first_id < SIMULATED_IDS[0] or last > SIMULATED_IDS[1]:
        raise ValueError(
            f"ids EMD-{first_id}..EMD-{last} leave the simulated range "
            f"EMD-{SIMULATED_IDS[0]}..EMD-{SIMULATED_IDS[1]}"
        )
    work = [
        (
            p,
            first_id + i * maps_per_structure + j,
            Path(mirror_root),
            seed,
            profile,
            resolution_stratum(j, maps_per_structure),
        )
        for i, p in enumerate(paths)
        for j in range(maps_per_structure)
    ]
    bar = tqdm(total=len(work), desc="simulating", unit="map", disable=not progress)
    if jobs > 1:
        # Each map has its own RNG, so the result does not depend on the process that made it.
        with get_context("spawn").Pool(jobs) as pool:
            rows = []
            for row in pool.imap(_simulate_job, work):
                rows.append(row)
                bar.update()
    else:
        rows = []
        for job in work:
            rows.append(_simulate_job(job))
            bar.update()
    bar.close()
    write_text_atomic(Path(mirror_root) / "simulated.tsv", tsv_text(SUMMARY_COLUMNS, rows))
    return rows
