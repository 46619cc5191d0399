"""Read atomic models (mmCIF or PDB, gzipped or not) with gemmi and list protein residues.

Only the first model is kept, alternative conformations are resolved to the first one,
hydrogens removed. A protein residue is an amino acid (standard or modified) with a Cα atom;
nucleic acids, ligands and waters are kept in the structure (DSSP ignores them, and they count
as background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from cryosse.core.reasons import DataError, Reason, is_environment_fault


@dataclass(frozen=True)
class Residue:
    chain: str  # author chain name
    seqnum: int  # author residue number
    icode: str  # insertion code, "" if none
    name: str  # residue name, e.g. ALA
    one_letter: str
    ca: tuple[float, float, float]

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.chain, self.seqnum, self.icode)

    @property
    def residue_id(self) -> str:
        return f"{self.seqnum}{self.icode}"


def read_model(path: str | Path) -> gemmi.Structure:
    """Read a model file; raise DataError(MODEL_MISSING / MODEL_UNREADABLE)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(Reason.MODEL_MISSING, f"model file {path.name} not found")
    try:
        structure = gemmi.read_structure(str(path), merge_chain_parts=True)
    except (RuntimeError, ValueError, OSError, EOFError) as exc:
        if is_environment_fault(exc):
            raise  # the machine failed, not the file: the job fails and a re-run retries
        raise DataError(Reason.MODEL_UNREADABLE, f"{path.name}: {exc}") from exc
    if len(structure) == 0 or structure[0].count_atom_sites() == 0:
        raise DataError(Reason.MODEL_UNREADABLE, f"{path.name}: no atom could be read")
    while len(structure) > 1:
        del structure[1]
    _check_coordinates(structure, path)
    structure.remove_alternative_conformations()
    structure.remove_hydrogens()
    structure.setup_entities()
    return structure


def _check_coordinates(structure: gemmi.Structure, path: Path) -> None:
    """Refuse (MODEL_UNREADABLE) a model with NaN or infinite coordinates, naming the first
    such atom: they would otherwise surface as misleading reasons (a model outside the map)."""
    bad, first = 0, ""
    for chain in structure[0]:
        for res in chain:
            for atom in res:
                p = atom.pos
                if not (math.isfinite(p.x) and math.isfinite(p.y) and math.isfinite(p.z)):
                    bad += 1
                    first = (
                        first or f"{atom.name} of {res.name} {res.seqid.num} in chain {chain.name}"
                    )
    if bad:
        raise DataError(
            Reason.MODEL_UNREADABLE,
            f"{path.name}: {bad} atom(s) with NaN or infinite coordinates (first: {first})",
        )


def is_amino_acid(residue: gemmi.Residue) -> bool:
    info = gemmi.find_tabulated_residue(residue.name)
    if info is not None:
        return bool(info.is_amino_acid())
    # Unknown component: count it as protein only when it carries a full backbone.
    return all(residue.find_atom(n, "*") is not None for n in ("N", "CA", "C"))


def protein_residues(structure: gemmi.Structure) -> list[Residue]:
    """All amino-acid residues with a Cα atom, in model order."""
    residues: list[Residue] = []
    for chain in structure[0]:
        for res in chain:
            if not is_amino_acid(res):
                continue
            ca = res.find_atom("CA", "*")
            if ca is None or ca.element != gemmi.Element("C"):
                continue
            if res.seqid.num is None:
                # a blank PDB resSeq: the residue could not be matched to DSSP or named
                raise DataError(
                    Reason.MODEL_UNREADABLE,
                    f"residue {res.name} of chain {chain.name} has no residue number",
                )
            info = gemmi.find_tabulated_residue(res.name)
            code = info.one_letter_code.upper() if info is not None else "X"
            residues.append(
                Residue(
                    chain=chain.name,
                    seqnum=res.seqid.num,
                    icode=res.seqid.icode.strip(),
                    name=res.name,
                    one_letter=code if code.isalpha() else "X",
                    ca=(ca.pos.x, ca.pos.y, ca.pos.z),
                )
            )
    return residues


def chain_atom_coordinates(structure: gemmi.Structure, chain_name: str) -> np.ndarray:
    """Coordinates (N×3) of every atom of the protein residues of one chain."""
    coords = [
        (atom.pos.x, atom.pos.y, atom.pos.z)
        for chain in structure[0]
        if chain.name == chain_name
        for res in chain
        if is_amino_acid(res)
        for atom in res
    ]
    return np.array(coords, dtype=np.float64).reshape(-1, 3)


def ca_array(residues: list[Residue]) -> np.ndarray:
    return np.array([r.ca for r in residues], dtype=np.float64).reshape(-1, 3)
