"""Secondary structure from the real mkdssp (4.x), run once on the whole model.

All chains go to DSSP together so that inter-chain β-ladders count. mkdssp 4.2 builds its
residue list from `_pdbx_poly_seq_scheme` and silently returns zero residues (exit 0) on mmCIF
without it (as gemmi writes it) or on PDB files without HEADER/CRYST1. We therefore write an
mmCIF that carries `_pdbx_poly_seq_scheme` and filled `label_seq_id`, ask for mmCIF output with
the per-residue `_dssp_struct_summary` table, and fail loudly on an empty result.

The DSSP code → class rule is `cryosse.core.classes.code_to_class`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import gemmi

from cryosse.core.reasons import CurationError, Reason

MKDSSP_TIMEOUT_S = 600


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


def assign_dssp(
    structure: gemmi.Structure, executable: str = "mkdssp"
) -> dict[tuple[str, int, str], str]:
    """Run mkdssp on the whole model: (chain, seqnum, icode) → DSSP code ("" for loop).

    Raises CurationError(DSSP_FAILED) if mkdssp is missing or fails, and
    CurationError(DSSP_EMPTY) if it assigns no residue.
    """
    binary = shutil.which(executable)
    if binary is None:
        raise CurationError(
            Reason.DSSP_FAILED,
            f"{executable} (DSSP 4.x) is not installed: apt-get install dssp, "
            "or conda install -c conda-forge dssp",
        )
    with tempfile.TemporaryDirectory(prefix="cryosse-dssp-") as tmp:
        src, dst = Path(tmp) / "in.cif", Path(tmp) / "out.cif"
        mapping = _write_dssp_input(structure, src)
        if not mapping:
            raise CurationError(Reason.DSSP_EMPTY, "the model has no polymer residue for DSSP")
        try:
            result = subprocess.run(
                [binary, "--output-format", "mmcif", "--write-experimental", str(src), str(dst)],
                capture_output=True,
                text=True,
                timeout=MKDSSP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CurationError(
                Reason.DSSP_FAILED, f"mkdssp ran over {MKDSSP_TIMEOUT_S} s"
            ) from None
        if result.returncode != 0 or not dst.is_file():
            message = (result.stderr or result.stdout).strip().splitlines()
            raise CurationError(
                Reason.DSSP_FAILED,
                f"mkdssp exited with {result.returncode}: {message[-1] if message else ''}",
            )
        block = gemmi.cif.read(str(dst)).sole_block()
        table = block.find(
            "_dssp_struct_summary.", ["label_asym_id", "label_seq_id", "secondary_structure"]
        )
    codes: dict[tuple[str, int, str], str] = {}
    for row in table:
        key = mapping.get((row[0], int(row[1])))
        if key is not None:
            code = row[2]
            codes[key] = "" if code in (".", "?") else code
    if not codes:
        raise CurationError(
            Reason.DSSP_EMPTY,
            "mkdssp assigned no residue (incomplete backbone, e.g. a Cα-only model?)",
        )
    return codes
