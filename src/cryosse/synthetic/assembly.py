"""The molecule a medium-resolution EMDB map shows: the biological assembly with its neighbours.

A deposited model is often one copy of a larger assembly (REMARK 350 or
`_pdbx_struct_oper_list`); an EMDB map of a complex shows every copy, touching. The simulated
model is therefore the deposited chains plus

- the copies made by the first biological assembly's operators (`gemmi.make_assembly`), and
- for crystal structures (a real unit cell and space group), the packed neighbours: the
  symmetry mates (space-group operations × lattice translations of −1, 0, 1) that touch the
  deposited chains or the assembly (an atom within `CONTACT` Å), the `MAX_MATES` with the
  largest contacts,

each kept when at least `MIN_COPY_ATOMS` of its atoms lie within `MARGIN` Å of the deposited
chains' bounding box (a region the curated boxes, chain box + 17 Å, never leave). Copies are kept
whole: chains cut at the region's edge made mkdssp 4.2 fail on 2 of the first 20 maps (duplicate
`struct_sheet_range` keys). Memory stays bounded: over `MAX_ATOMS` heavy atoms, the margin drops
to `MIN_MARGIN` Å, and when that is still too many the deposited model is used alone, with the
reason recorded. Copies get fresh chain
names (1-4 characters, [A-Za-z0-9], as sample ids need), the deposited chains keep theirs, and
come first, so curation keeps the deposited copy of each sequence. Everything is a function of
the structure alone, so every realisation of one structure shares one model file.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from typing import Any

import gemmi
import numpy as np
from scipy.spatial import cKDTree

MARGIN = 20.0  # Å around the deposited chains
MIN_MARGIN = 10.0
MAX_ATOMS = 60_000  # heavy atoms of the simulated model (deposited chains included)
CONTACT = 4.0  # Å: a symmetry mate closer than this touches
MAX_MATES = 3  # packed neighbours kept, by the size of their contact
MIN_COPY_ATOMS = 20  # a copy with fewer atoms in the region is left out (a stray fragment)
_NAME_CHARS = string.ascii_uppercase + string.ascii_lowercase + string.digits


@dataclass
class AssemblyModel:
    structure: gemmi.Structure  # model 1 only: deposited chains first, then the copies
    record: dict[str, Any] = field(default_factory=dict)


def _positions(chain: gemmi.Chain) -> np.ndarray:
    return np.array([a.pos.tolist() for r in chain for a in r], dtype=np.float64).reshape(-1, 3)


def _fresh_names(used: set[str]) -> itertools.chain[str]:
    one = (c for c in _NAME_CHARS if c not in used)
    two = (a + b for a in _NAME_CHARS for b in _NAME_CHARS if a + b not in used)
    return itertools.chain(one, two)


def _assembly_copies(structure: gemmi.Structure) -> tuple[list[gemmi.Chain], str]:
    """Chains of the first assembly that are not the deposited chains themselves."""
    if not structure.assemblies:
        return [], "no assembly operators"
    assembly = structure.assemblies[0]
    # Generators may name subchains that cleaning removed (waters): drop those names.
    present = {r.subchain for c in structure[0] for r in c}
    for generator in assembly.generators:
        kept = [s for s in generator.subchains if s in present]
        if len(kept) != len(generator.subchains):
            generator.subchains = kept
    try:
        model = gemmi.make_assembly(assembly, structure[0], gemmi.HowToNameCopiedChain.Dup)
    except (RuntimeError, ValueError) as exc:
        return [], f"assembly {assembly.name}: {exc}"
    deposited = [_positions(c) for c in structure[0]]
    copies = []
    for chain in model:
        xyz = _positions(chain)
        same = any(d.shape == xyz.shape and np.allclose(d, xyz, atol=1e-3) for d in deposited)
        if not same and len(xyz):
            copies.append(chain.clone())
    return copies, f"assembly {assembly.name}"


def _crystal_mates(structure: gemmi.Structure, around: np.ndarray, reach: float) -> list:
    """Symmetry mates of the deposited chains with an atom within CONTACT Å of `around`."""
    cell = structure.cell
    group = structure.find_spacegroup()
    if group is None or min(cell.a, cell.b, cell.c) < 10:
        return []  # cryo-EM models carry a dummy 1 Å cell
    frac_m = np.array(cell.frac.mat.tolist())
    frac_v = np.array(cell.frac.vec.tolist())
    orth_m = np.array(cell.orth.mat.tolist())
    orth_v = np.array(cell.orth.vec.tolist())
    tree = cKDTree(around)
    centre = around.mean(axis=0)
    mates = []
    for chain in structure[0]:
        xyz = _positions(chain)
        if not len(xyz):
            continue
        frac = xyz @ frac_m.T + frac_v
        radius = float(np.linalg.norm(xyz - xyz.mean(axis=0), axis=1).max())
        for op in group.operations():
            rot = np.array(op.rot, dtype=np.float64) / op.DEN
            tran = np.array(op.tran, dtype=np.float64) / op.DEN
            moved = frac @ rot.T + tran
            moved -= np.floor(moved.mean(axis=0))  # the copy's centre into the unit cell
            moved_centre = moved.mean(axis=0)
            for shift in itertools.product((-1, 0, 1), repeat=3):
                c = (moved_centre + shift) @ orth_m.T + orth_v
                if np.linalg.norm(c - centre) > reach + radius + CONTACT:
                    continue
                full = (moved + shift) @ orth_m.T + orth_v
                if np.allclose(full, xyz, atol=1e-3):
                    continue  # the identity
                touching = int((tree.query(full, distance_upper_bound=CONTACT)[0] <= CONTACT).sum())
                if touching:
                    mates.append((touching, chain, full))
    # The largest contacts only: a molecule touched by a few neighbours, still facing solvent
    # elsewhere, rather than buried in a crystal.
    mates.sort(key=lambda m: -m[0])
    return [(chain, full) for _, chain, full in mates[:MAX_MATES]]


def _moved_copy(chain: gemmi.Chain, xyz: np.ndarray, name: str) -> gemmi.Chain:
    """The whole chain, renamed, its atoms moved to `xyz` (atoms in chain order)."""
    out = gemmi.Chain(name)
    i = 0
    for residue in chain:
        n = len(residue)
        pos = xyz[i : i + n]
        i += n
        copy = residue.clone()
        copy.subchain = ""  # fresh subchains below: the source's would repeat across copies
        for atom, p in zip(copy, pos, strict=True):
            atom.pos = gemmi.Position(*p)
        out.add_residue(copy)
    return out


def build_assembly(
    structure: gemmi.Structure,
    margin: float = MARGIN,
    max_atoms: int = MAX_ATOMS,
    max_mates: int = MAX_MATES,
) -> AssemblyModel:
    """The deposited chains + assembly copies + packed neighbours within `margin` Å of the
    deposited chains' bounding box (see the module docstring); `structure` is not changed."""
    deposited = np.concatenate([_positions(c) for c in structure[0]] or [np.zeros((0, 3))])
    n_deposited = len(deposited)
    record: dict[str, Any] = {"deposited_atoms": n_deposited}
    if n_deposited == 0:
        return AssemblyModel(structure.clone(), {**record, "used": False, "reason": "no atoms"})
    copies, how = _assembly_copies(structure)
    record["assembly"] = how
    for reach in (margin, MIN_MARGIN):
        lo, hi = deposited.min(axis=0) - reach, deposited.max(axis=0) + reach
        region = [(c, _positions(c)) for c in copies]
        around = np.concatenate([deposited] + [x for _, x in region])
        if max_mates:
            mates = _crystal_mates(structure, around, float(np.linalg.norm(hi - lo)) / 2)
            region += mates[:max_mates]
        kept = []
        total = n_deposited
        for chain, xyz in region:
            inside = np.all((xyz >= lo) & (xyz <= hi), axis=1).sum()
            if inside >= MIN_COPY_ATOMS:
                kept.append((chain, xyz))
                total += len(xyz)
        if total <= max_atoms:
            break
    else:
        record.update(
            used=False,
            reason=f"over {max_atoms} atoms within {MIN_MARGIN:.0f} Å ({total}): "
            "deposited model alone",
        )
        return AssemblyModel(structure.clone(), record)
    out = structure.clone()
    while len(out) > 1:
        del out[1]
    used = {c.name for c in out[0]}
    names = _fresh_names(used)
    n_assembly = n_mates = 0
    for chain, xyz in kept:
        copy = _moved_copy(chain, xyz, next(names))
        if len(copy):
            out[0].add_chain(copy, unique_name=False)
            if any(chain is c for c in copies):
                n_assembly += 1
            else:
                n_mates += 1
    out.setup_entities()
    n_atoms = sum(len(r) for c in out[0] for r in c)
    record.update(
        used=n_assembly + n_mates > 0,
        reason="" if n_assembly + n_mates else "no copy or neighbour within the margin",
        margin=reach,
        assembly_copies=n_assembly,
        packed_neighbours=n_mates,
        chains=len(out[0]),
        atoms=n_atoms,
    )
    return AssemblyModel(out, record)


def checked_assembly(structure: gemmi.Structure) -> AssemblyModel:
    """`build_assembly`, checked with mkdssp as curation will run it: when mkdssp fails on the
    assembly model (mkdssp 4.2 writes duplicate `struct_sheet_range` keys for some β-sheets
    running across copies), the packed neighbours are dropped, then the copies, each time with
    the reason recorded. A missing mkdssp is an environment fault: the mirror would silently
    depend on the machine, so it raises. The check asks for mkdssp's per-residue table, as
    curation did when the loss study's mirror was built: curation now reads mkdssp's standard
    ranges where that table fails, but the mirror must rebuild byte-identical to the one the
    study's record was trained on (docs/benchmark/README.md)."""
    from cryosse.core.reasons import DataError
    from cryosse.curate.dssp import assign_dssp, mkdssp_version

    if mkdssp_version() is None:
        raise RuntimeError("mkdssp (4.x) is needed to check assembly models; install it")
    failures = []
    for max_mates in (MAX_MATES, 0):
        built = build_assembly(structure, max_mates=max_mates)
        if not built.record.get("used"):
            break
        try:
            assign_dssp(built.structure, per_residue_table=True)
        except DataError as exc:
            failures.append(f"mkdssp fails with {max_mates} neighbours: {str(exc)[:80]}")
            continue
        built.record["dssp_fallbacks"] = failures
        return built
    record = {**built.record, "used": False, "dssp_fallbacks": failures}
    if failures:
        record["reason"] = "; ".join(failures) + "; deposited model alone"
    return AssemblyModel(structure.clone(), record)


def model_bytes(structure: gemmi.Structure) -> bytes:
    """The model as mmCIF text (chain names longer than one character need it)."""
    doc = structure.make_mmcif_document()
    return doc.as_string().encode("utf-8")


def model_composition(structure: gemmi.Structure) -> dict[str, int]:
    """Protein chains and residues, nucleic-acid chains and nucleotides of model 1."""
    counts = {"protein_chains": 0, "protein_residues": 0, "nucleic_chains": 0, "nucleotides": 0}
    for chain in structure[0]:
        protein = nucleic = 0
        for residue in chain:
            info = gemmi.find_tabulated_residue(residue.name)
            if info is None:
                continue
            if info.is_amino_acid() and residue.find_atom("CA", "*") is not None:
                protein += 1
            elif info.is_nucleic_acid():
                nucleic += 1
        counts["protein_residues"] += protein
        counts["nucleotides"] += nucleic
        counts["protein_chains"] += protein > 0
        counts["nucleic_chains"] += nucleic > 0
    return counts
