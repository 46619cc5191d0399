"""Validation of EMDB and PDB identifiers.

Every id is validated here before it reaches a file path, a URL or a command line, so a
malformed or hostile id ("../x", "1abc; rm") can never escape into the file system or a shell.
"""

from __future__ import annotations

import re

from cryosse.core.reasons import CurationError, Reason

# ASCII only: "\d" and IGNORECASE letters would also accept other scripts' digits and letters.
# EMDB's XSD allows EMD- + 4 or more digits; 7 leaves room for decades of growth and still
# refuses absurd ones.
_EMDB_RE = re.compile(r"(?:EMD-)?([0-9]{4,7})", re.IGNORECASE | re.ASCII)
# Classic 4-character PDB ids start with a digit 1-9; the extended form is "pdb_" + 8 characters,
# the first four of them digits ("pdb_00001abc"); such entries exist only as mmCIF.
_PDB_RE = re.compile(r"[1-9][a-z0-9]{3}", re.IGNORECASE | re.ASCII)
_PDB_EXT_RE = re.compile(r"pdb_[0-9]{4}[0-9][a-z0-9]{3}", re.IGNORECASE | re.ASCII)


def normalize_emdb_id(value: str) -> str:
    """Return the canonical form "EMD-1234" of an EMDB id, or raise CurationError.

    Accepts "EMD-1234", "emd-1234567" and bare digits "1234".
    """
    match = _EMDB_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise CurationError(
            Reason.INVALID_ID, f"{value!r} is not a valid EMDB id (EMD- + 4-7 digits)"
        )
    return f"EMD-{match.group(1)}"


def emdb_number(emdb_id: str) -> str:
    """The digits of an EMDB id: "EMD-1234" -> "1234"."""
    return normalize_emdb_id(emdb_id)[4:]


def upper_pdb_id(pdb_id: str) -> str:
    """The upper-case spelling archives use in file names: "5ME2", "pdb_00005ME2" (the
    extended form keeps its "pdb_" prefix lower case)."""
    pid = normalize_pdb_id(pdb_id)
    if pid.startswith("pdb_"):
        return "pdb_" + pid[4:].upper()
    return pid.upper()


def normalize_pdb_id(value: str) -> str:
    """Return the canonical lower-case form of a PDB id ("5me2" or "pdb_00005me2")."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if _PDB_RE.fullmatch(text) or _PDB_EXT_RE.fullmatch(text):
        return text
    raise CurationError(
        Reason.INVALID_ID,
        f"{value!r} is not a valid PDB id (4 characters, or the extended pdb_0000xxxx form)",
    )


def is_valid_emdb_id(value: str) -> bool:
    try:
        normalize_emdb_id(value)
    except CurationError:
        return False
    return True


def is_valid_pdb_id(value: str) -> bool:
    try:
        normalize_pdb_id(value)
    except CurationError:
        return False
    return True


def sample_id(emdb_id: str, pdb_id: str, chain: str) -> str:
    """The id of one (entry, model, chain) sample, safe as a directory name."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,4}", chain):
        raise CurationError(Reason.INVALID_ID, f"chain name {chain!r} is not usable in a sample id")
    return f"{normalize_emdb_id(emdb_id)}_{normalize_pdb_id(pdb_id)}_{chain}"


def split_entry_ids(raw_ids: list[str]) -> tuple[list[str], list[str]]:
    """(valid ids in canonical form, without duplicates, in order; invalid raw ids)."""
    valid: list[str] = []
    invalid: list[str] = []
    for raw in raw_ids:
        if is_valid_emdb_id(raw):
            canonical = normalize_emdb_id(raw)
            if canonical not in valid:
                valid.append(canonical)
        else:
            invalid.append(raw)
    return valid, invalid
