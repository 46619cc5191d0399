"""The atoms a map is simulated from: model 1 of a structure file, without hydrogens, waters and
alternative conformations, each heavy atom with its electron count × occupancy and B-factor.

A file without B-factors (all equal) gets `B_DEFAULT`; B-factors are clipped to `B_CLIP`, so one
wild value cannot blur a map away.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from cryosse.core.ids import normalize_pdb_id
from cryosse.core.reasons import DataError

B_CLIP = (5.0, 150.0)
B_DEFAULT = 40.0


class SimulationError(ValueError):
    """A structure that cannot be simulated; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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


def structure_pdb_id(path: Path) -> str:
    """The PDB id from a structure file name (`1abc.pdb.gz`, `1abc.cif`)."""
    stem = path.name.lower().split(".")[0]
    try:
        return normalize_pdb_id(stem)
    except DataError as exc:
        raise SimulationError("invalid_id", str(exc)) from exc


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
