"""A model file checked against the count it publishes itself, since the PDB archive publishes
no checksum per entry: mmCIF `_pdbx_poly_seq_scheme` (every residue it marks as modelled must
be in `_atom_site`), PDB format MASTER (its atom count must be that of ATOM/HETATM records).
A plain-text model that publishes neither could be cut at a line end unnoticed: the HTTP
archive prefers a source that can be verified, and records "not verifiable beyond its length"
where none serves one.
"""

from __future__ import annotations

import gzip
import tempfile
import zlib
from pathlib import Path

import gemmi

from cryosse.acquire.verification import NOT_VERIFIABLE, file_identity, recalled, remember
from cryosse.core.reasons import is_environment_fault

# The cache keeps these suffixes, in this order of preference (see LocalMirror.model_path).
_MODEL_SUFFIXES = (".cif.gz", ".cif", ".pdb.gz", ".pdb", ".ent.gz", ".ent")


def model_suffix(url: str) -> str:
    """The file suffix a model URL serves (".cif.gz", ".pdb", ...), for its name in the cache."""
    name = url.rsplit("/", 1)[-1].split("?", 1)[0].lower()
    for suffix in _MODEL_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"model URL {url!r} does not end in one of {', '.join(_MODEL_SUFFIXES)}")


def check_model_content(path: Path) -> str:
    """Check a model against the count it publishes itself; return what the record says.

    mmCIF: every residue `_pdbx_poly_seq_scheme` marks as modelled (a monomer id, not "?")
    must have atoms in `_atom_site`. PDB format: the MASTER record's atom count must be the
    number of ATOM/HETATM records. ValueError when the file is shown cut; a note starting
    NOT_VERIFIABLE when it publishes no such count (then only its length vouches for it)."""
    name = path.name.removeprefix(".part-")
    key = file_identity(path)
    done = recalled(key)
    if done is not None:
        return done
    try:
        if any(name.endswith(s) for s in (".cif", ".cif.gz")):
            note = _check_mmcif_counts(path, name)
        else:
            note = _check_pdb_counts(path, name)
    except (OSError, EOFError, RuntimeError, zlib.error) as exc:
        if is_environment_fault(exc):
            raise
        raise ValueError(f"{name} does not read to its end: {exc}") from exc
    remember(key, note)
    return note


def _check_mmcif_counts(path: Path, name: str) -> str:
    document = gemmi.cif.read(str(path))
    if len(document) == 0:
        raise ValueError(f"{name}: no data block")
    block = document[0]
    scheme = block.find("_pdbx_poly_seq_scheme.", ["asym_id", "seq_id", "pdb_mon_id"])
    if len(scheme) == 0:
        return (
            f"{NOT_VERIFIABLE} beyond its length: the file publishes no residue list "
            "(_pdbx_poly_seq_scheme) to count its atoms against"
        )
    modelled = {(row[0], row[1]) for row in scheme if not gemmi.cif.is_null(row[2])}
    atoms = block.find("_atom_site.", ["label_asym_id", "label_seq_id"])
    present = {(row[0], row[1]) for row in atoms}
    missing = sorted(modelled - present)
    if missing:
        chain, seq = missing[0]
        raise ValueError(
            f"{name}: {len(missing)} of the {len(modelled)} residues its _pdbx_poly_seq_scheme "
            f"marks as modelled have no atom in _atom_site (first: {chain} {seq}): the file "
            "is cut"
        )
    return (
        f"verified: the {len(modelled)} modelled residues of its _pdbx_poly_seq_scheme all "
        "have atoms"
    )


def _check_pdb_counts(path: Path, name: str) -> str:
    opener = gzip.open if name.endswith(".gz") else open
    coordinates, models, master = 0, 0, None
    with opener(path, "rb") as handle:
        for line in handle:
            record = line[:6]
            if record in (b"ATOM  ", b"HETATM"):
                coordinates += 1
            elif record == b"MODEL ":
                models += 1
            elif record == b"MASTER":
                try:
                    master = int(line[50:55])
                except ValueError:
                    master = None
    if master is None:
        return (
            f"{NOT_VERIFIABLE} beyond its length: the file has no MASTER record with its atom count"
        )
    if coordinates < master and models <= 1:
        raise ValueError(
            f"{name}: {coordinates} ATOM/HETATM records, its MASTER record says {master}: "
            "the file is cut"
        )
    if coordinates != master:
        # more records than stated (an ensemble, a file edited after release): not a cut,
        # but the count vouches for nothing
        return (
            f"{NOT_VERIFIABLE} beyond its length: {coordinates} ATOM/HETATM records, its "
            f"MASTER record says {master}"
        )
    return f"verified: {coordinates} ATOM/HETATM records, as its MASTER record states"


def _check_model_text(path: Path) -> None:
    """A model file must read as a structure with atoms (not an HTML error page, not empty)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(4096).lstrip()
    if not head or head.startswith((b"<", b"{")):
        raise ValueError(f"{path.name} is not a model file (starts with {head[:20]!r})")
    # gemmi picks the format from the name; the download's name is ".part-<name>".
    suffix = next((x for x in _MODEL_SUFFIXES if path.name.endswith(x)), "")
    try:
        with tempfile.TemporaryDirectory() as work:
            link = Path(work) / f"model{suffix}"
            link.symlink_to(path.resolve())
            structure = gemmi.read_structure(str(link))
    except (RuntimeError, ValueError, OSError) as exc:
        if is_environment_fault(exc):
            raise  # the machine failed (disk full, I/O error), not the download: no exclusion
        raise ValueError(f"{path.name} does not read as a model: {exc}") from exc
    if len(structure) == 0 or structure[0].count_atom_sites() == 0:
        raise ValueError(f"{path.name} holds no atom")


def check_model_file(path: Path) -> None:
    """A downloaded model: a structure with atoms, not shown cut by its own counts."""
    _check_model_text(path)
    check_model_content(path)
