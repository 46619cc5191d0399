"""Secondary structure from the real mkdssp (4.x), run once per model.

All chains go to DSSP together so that inter-chain β-ladders count. mkdssp 4.2 builds its
residue list from `_pdbx_poly_seq_scheme` and silently returns zero residues (exit 0) on mmCIF
without it (as gemmi writes it) or on PDB files without HEADER/CRYST1. We therefore write an
mmCIF that carries `_pdbx_poly_seq_scheme` and filled `label_seq_id`, ask for mmCIF output with
the per-residue `_dssp_struct_summary` table, and fail loudly on an empty result.

The work is bounded by the residues that matter: given a `region` (the map's extent, widened as
far as a chain's box may reach), only residues whose Cα lies within it, widened by
`DSSP_MARGIN`, go to mkdssp, so a 560,000-atom model fitted into a small map costs what the map
holds (a 558,500-atom model: whole, over mkdssp's 600 s timeout; the 622 residues of a 60 Å map,
1.1 s). Every residue within the region keeps exactly the assignment of a whole-model run (its
hydrogen-bond partners, and theirs, lie within the margin: tests/curate/test_faults.py); the
residues outside it get no code (loop), and no box reaches them.

A mkdssp killed by a signal (the OOM killer, a scheduler) or failing on a full disk or an I/O
error is a fault of the machine (cryosse.core.reasons.EnvironmentFault), not an exclusion.

The DSSP code → class rule is `cryosse.core.classes.code_to_class`.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import gemmi
import numpy as np

from cryosse.core.reasons import DataError, EnvironmentFault, Reason, killed_by

MKDSSP_TIMEOUT_S = 600
# Å kept around a region for DSSP. A residue's code depends on the hydrogen bonds of residues
# up to 5 along its helix (about 8 Å of rise) and on the bridge partners of its ladder and their
# neighbours (Cα-Cα about 5 Å, plus a 4-residue β-bulge): all within 15 Å of its Cα.
DSSP_MARGIN = 15.0
# What mkdssp prints (strerror) when the machine, not the model, failed it
_ENVIRONMENT_MESSAGES = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EIO, errno.ENOMEM))
# What mkdssp 4.2 prints when its experimental categories get two rows with one key
_DUPLICATE_KEY = "Duplicate Key violation"
# DSSP's codes in the standard _struct_conf (mkdssp 4.2); an isolated bridge (B) is a STRN
# like a strand (E): both are sheet (cryosse.core.classes)
_CONF_TYPE_CODES = {
    "HELX_RH_AL_P": "H",
    "HELX_RH_3T_P": "G",
    "HELX_RH_PI_P": "I",
    "HELX_LH_PP_P": "P",
    "STRN": "E",
    "TURN_TY1_P": "T",
    "BEND": "S",
}


def trim_to_region(
    structure: gemmi.Structure, low: np.ndarray, high: np.ndarray, margin: float = DSSP_MARGIN
) -> tuple[gemmi.Structure, int]:
    """A copy of the first model holding only residues whose Cα (else first atom) lies within
    [low - margin, high + margin] Å, and the number of residues left out."""
    lo = np.asarray(low, dtype=np.float64) - margin
    hi = np.asarray(high, dtype=np.float64) + margin
    st = structure.clone()
    dropped = 0
    model = st[0]
    for c in range(len(model) - 1, -1, -1):
        chain = model[c]
        for r in range(len(chain) - 1, -1, -1):
            res = chain[r]
            atom = res.find_atom("CA", "*") or (res[0] if len(res) else None)
            if atom is None:
                continue
            p = atom.pos
            if not (lo[0] <= p.x <= hi[0] and lo[1] <= p.y <= hi[1] and lo[2] <= p.z <= hi[2]):
                del chain[r]
                dropped += 1
        if len(chain) == 0:
            del model[c]
    return st, dropped


def mkdssp_version(executable: str = "mkdssp") -> str | None:
    path = shutil.which(executable)
    if path is None:
        return None
    try:  # a broken install that hangs must not hang the start-up check
        result = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=False, timeout=60
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else None


def _write_dssp_input(structure: gemmi.Structure, path: Path) -> dict[tuple[str, int], tuple]:
    """Write mkdssp-ready mmCIF; return (label_asym_id, label_seq_id) → (chain, seqnum, icode)."""
    st = structure.clone()
    # Fresh subchains and entities: edited or merged chains may carry stale label_asym_ids.
    st.add_entity_types(True)
    st.assign_subchains(True)
    st.ensure_entities()
    st.deduplicate_entities()
    st.add_entity_ids(True)
    st.assign_label_seq_id(True)
    # mkdssp computes secondary structure itself: deposited HELIX/SHEET records (sometimes
    # stale) and refinement statistics (mkdssp 4.2 aborts on gemmi's refine_ls_shell loop)
    # only give it more to trip over.
    st.helices.clear()
    st.sheets.clear()
    groups = gemmi.MmcifOutputGroups(True)
    groups.database_status = False  # gemmi omits the mandatory status_code
    groups.struct_ref = False
    groups.refine = False
    groups.reflns = False
    block = st.make_mmcif_block(groups)
    loop = block.init_mmcif_loop(
        "_pdbx_poly_seq_scheme.",
        [
            "asym_id",
            "entity_id",
            "seq_id",
            "mon_id",
            "ndb_seq_num",
            "pdb_seq_num",
            "auth_seq_num",
            "pdb_mon_id",
            "auth_mon_id",
            "pdb_strand_id",
            "pdb_ins_code",
            "hetero",
        ],
    )
    mapping: dict[tuple[str, int], tuple] = {}
    for chain in st[0]:
        for res in chain:
            if res.entity_type != gemmi.EntityType.Polymer or res.label_seq is None:
                continue
            icode = res.seqid.icode.strip()
            mapping[(res.subchain, res.label_seq)] = (chain.name, res.seqid.num, icode)
            loop.add_row(
                [
                    res.subchain,
                    res.entity_id,
                    str(res.label_seq),
                    res.name,
                    str(res.label_seq),
                    str(res.seqid.num),
                    str(res.seqid.num),
                    res.name,
                    res.name,
                    chain.name,
                    icode or ".",
                    "n",
                ]
            )
    doc = gemmi.cif.Document()
    doc.add_copied_block(block)
    doc.write_file(str(path))
    return mapping


def _run_mkdssp(binary: str, src: Path, dst: Path, experimental: bool) -> str | None:
    """Run mkdssp on src into dst: None when it worked, else the one-line reason; raises
    EnvironmentFault when the machine, not the model, failed it."""
    extra = ["--write-experimental"] if experimental else []
    try:
        result = subprocess.run(
            [binary, "--output-format", "mmcif", *extra, str(src), str(dst)],
            capture_output=True,
            text=True,
            timeout=MKDSSP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # the work is bounded by the region (the map), so overrunning is the model's doing
        return f"mkdssp ran over {MKDSSP_TIMEOUT_S} s"
    message = (result.stderr or result.stdout).strip().splitlines()
    signal_name = killed_by(result.returncode)
    if signal_name is not None:
        raise EnvironmentFault(f"mkdssp was killed ({signal_name}): run again")
    if result.returncode != 0 and any(
        text in line for line in message for text in _ENVIRONMENT_MESSAGES
    ):
        raise EnvironmentFault(f"mkdssp failed on the machine: {message[-1]}")
    if result.returncode != 0 or not dst.is_file():
        return f"mkdssp exited with {result.returncode}: {message[-1] if message else ''}"
    return None


def _summary_rows(path: Path) -> list[tuple[str, int, str]]:
    """(label_asym_id, label_seq_id, code) of every residue: _dssp_struct_summary."""
    block = gemmi.cif.read(str(path)).sole_block()
    table = block.find(
        "_dssp_struct_summary.", ["label_asym_id", "label_seq_id", "secondary_structure"]
    )
    return [(row[0], int(row[1]), row[2]) for row in table]


def _struct_conf_rows(path: Path) -> list[tuple[str, int, str]]:
    """The same from the standard _struct_conf ranges (residues in none are loop)."""
    block = gemmi.cif.read(str(path)).sole_block()
    table = block.find(
        "_struct_conf.",
        ["conf_type_id", "beg_label_asym_id", "beg_label_seq_id", "end_label_seq_id"],
    )
    return [
        (row[1], seq, _CONF_TYPE_CODES.get(row[0], ""))
        for row in table
        for seq in range(int(row[2]), int(row[3]) + 1)
    ]


def assign_dssp(
    structure: gemmi.Structure,
    executable: str = "mkdssp",
    region: tuple[np.ndarray, np.ndarray] | None = None,
    per_residue_table: bool = False,
) -> dict[tuple[str, int, str], str]:
    """Run mkdssp on the model: (chain, seqnum, icode) → DSSP code ("" for loop); with
    `region` (low, high xyz Å) only on the residues within it and DSSP_MARGIN around it.
    per_residue_table: fail where mkdssp cannot write its experimental per-residue table,
    rather than read its standard ranges (the check that built the offline mirror).

    Raises DataError(DSSP_FAILED) if mkdssp fails on the model, DataError(DSSP_EMPTY)
    if it assigns no residue, and EnvironmentFault if it is missing, was killed or the
    machine failed it.
    """
    if region is not None:
        structure, _ = trim_to_region(structure, *region)
    binary = shutil.which(executable)
    if binary is None:
        # the machine's fault (a compute node without DSSP), not the entry's: the job fails
        # instead of excluding every entry it curates
        raise EnvironmentFault(
            f"{executable} (DSSP 4.x) is not installed on this machine: apt-get install dssp, "
            "or conda install -c conda-forge dssp"
        )
    with tempfile.TemporaryDirectory(prefix="cryosse-dssp-") as tmp:
        src, dst = Path(tmp) / "in.cif", Path(tmp) / "out.cif"
        mapping = _write_dssp_input(structure, src)
        if not mapping:
            raise DataError(Reason.DSSP_EMPTY, "the model has no polymer residue for DSSP")
        failure = _run_mkdssp(binary, src, dst, experimental=True)
        if failure is None:
            rows = _summary_rows(dst)
        elif _DUPLICATE_KEY in failure and not per_residue_table:
            # mkdssp 4.2 cannot write its experimental categories when two sheet ranges get
            # the same key (a sheet across symmetry copies): its standard _struct_conf has
            # the same assignment (B and E both as STRN, both sheet)
            failure = _run_mkdssp(binary, src, dst, experimental=False)
            if failure is None:
                rows = _struct_conf_rows(dst)
        if failure is not None:
            raise DataError(Reason.DSSP_FAILED, failure)
    codes: dict[tuple[str, int, str], str] = {}
    for asym, seq, code in rows:
        key = mapping.get((asym, seq))
        if key is not None:
            codes[key] = "" if code in (".", "?") else code
    if not codes:
        raise DataError(
            Reason.DSSP_EMPTY,
            "mkdssp assigned no residue (incomplete backbone, e.g. a Cα-only model?)",
        )
    return codes
