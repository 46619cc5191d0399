"""Validation of EMDB and PDB identifiers, and the EMDB id ranges reserved for cryosse's own maps.

Every id is validated here before it reaches a file path, a URL or a command line, so a
malformed or hostile id ("../x", "1abc; rm") can never escape into the file system or a shell.

Simulated maps (`cryosse simulate`) get ids in `SIMULATED_IDS`, maps derived from real ones
(`cryosse derive`) ids in `DERIVED_IDS`: EMDB numbers its entries sequentially and far below
90000, so the id alone tells a map's origin (`entry_origin`), wherever the map goes.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from cryosse.core.reasons import DataError, Reason

if TYPE_CHECKING:
    import numpy as np

# ASCII only: "\d" and IGNORECASE letters would also accept other scripts' digits and letters.
# EMDB's XSD allows EMD- + 4 or more digits; 7 leaves room for decades of growth and still
# refuses absurd ones.
_EMDB_RE = re.compile(r"(?:EMD-)?([0-9]{4,7})", re.IGNORECASE | re.ASCII)
# Classic 4-character PDB ids start with a digit 1-9; the extended form is "pdb_" + 8 characters,
# the first four of them digits ("pdb_00001abc"); such entries exist only as mmCIF.
_PDB_RE = re.compile(r"[1-9][a-z0-9]{3}", re.IGNORECASE | re.ASCII)
_PDB_EXT_RE = re.compile(r"pdb_[0-9]{4}[0-9][a-z0-9]{3}", re.IGNORECASE | re.ASCII)


# Inclusive ranges of EMDB numbers; the tests' fixtures use EMD-90xxx and EMD-99999 only outside
# a mirror that cryosse builds.
SIMULATED_IDS = (92000, 99999)
DERIVED_IDS = (91000, 91999)
_RESERVED_IDS = {"simulated": SIMULATED_IDS, "derived": DERIVED_IDS}


def _emdb_match(value: str) -> re.Match[str] | None:
    return _EMDB_RE.fullmatch(value.strip()) if isinstance(value, str) else None


def _pdb_text(value: str) -> str | None:
    """The canonical PDB id text, or None when `value` is not a PDB id."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if _PDB_RE.fullmatch(text) or _PDB_EXT_RE.fullmatch(text) else None


def normalize_emdb_id(value: str) -> str:
    """Return the canonical form "EMD-1234" of an EMDB id, or raise DataError.

    Accepts "EMD-1234", "emd-1234567" and bare digits "1234".
    """
    match = _emdb_match(value)
    if match is None:
        raise DataError(Reason.INVALID_ID, f"{value!r} is not a valid EMDB id (EMD- + 4-7 digits)")
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
    text = _pdb_text(value)
    if text is not None:
        return text
    raise DataError(
        Reason.INVALID_ID,
        f"{value!r} is not a valid PDB id (4 characters, or the extended pdb_0000xxxx form)",
    )


def is_valid_emdb_id(value: str) -> bool:
    return _emdb_match(value) is not None


def is_valid_pdb_id(value: str) -> bool:
    return _pdb_text(value) is not None


def sample_id(emdb_id: str, pdb_id: str, chain: str) -> str:
    """The id of one (entry, model, chain) sample, safe as a directory name."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,4}", chain):
        raise DataError(Reason.INVALID_ID, f"chain name {chain!r} is not usable in a sample id")
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


def entry_origin(emdb_id: str) -> str:
    """ "simulated", "derived" or "emdb", from the reserved id ranges."""
    number = int(emdb_number(emdb_id))
    for origin, (first, last) in _RESERVED_IDS.items():
        if first <= number <= last:
            return origin
    return "emdb"


def reserved_entry_id(emdb_id: str, origin: str) -> str:
    """The canonical form of an id that must lie in the reserved range of `origin` ("simulated"
    or "derived"); ValueError when it does not."""
    emdb_id = normalize_emdb_id(emdb_id)
    if entry_origin(emdb_id) != origin:
        raise ValueError(f"{emdb_id} is outside the {origin} range {_RESERVED_IDS[origin]}")
    return emdb_id


def fits_reserved_range(first: int, last: int, origin: str) -> bool:
    """Whether the EMDB numbers `first`..`last` all lie in the reserved range of `origin`."""
    low, high = _RESERVED_IDS[origin]
    return first >= low and last <= high


def entry_rng(seed: int, emdb_id: str, key: str) -> np.random.Generator:
    """The RNG of one generated map, keyed by seed, entry id and its source (a PDB id, an EMDB
    id): one map never depends on another, nor on the process that draws it."""
    import numpy as np  # here, so that id checks do not load numpy

    digest = hashlib.sha256(f"{seed}:{emdb_id}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
