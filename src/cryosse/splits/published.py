"""Test chains named by a table, with the figures published for them.

A test-chain table is a TSV: lines starting with "#" are comments (its source), then a header
that names at least `emdb_id`, `pdb_id` and `chain`; every row is one sample
(`cryosse.core.ids.sample_id`), which `splits.test_chains` pins to the test split. Optional columns
carry what was published for the case: `resolution_A`, `ca_helix` / `ca_sheet` / `ca_other`,
and per-case F1 in percent, one column per `<loss>_<level>_<class>` (level `voxel` or
`residue`, class `helix` or `sheet`), "NA" (or empty) where none was given.

`config/paper_test_set.tsv` is such a table: the 62 test cases of Mu et al. 2024
(DeepSSETracer 1.1), Table 2, with their published voxel F1 for CE, FL, DL and FL_DL and
residue F1 for FL_DL.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id, sample_id
from cryosse.core.reasons import DataError
from cryosse.core.run_grid import LOSSES

REQUIRED_COLUMNS = ("emdb_id", "pdb_id", "chain")
LEVELS = ("voxel", "residue")
_F1_COLUMN = re.compile(
    rf"(?P<loss>{'|'.join(sorted(LOSSES, key=len, reverse=True))})_"
    rf"(?P<level>{'|'.join(LEVELS)})_(?P<cls>{'|'.join(SCORED_CLASSES)})"
)

F1Key = tuple[str, str, str]  # (loss, level, class)


@dataclass(frozen=True)
class PublishedCase:
    emdb_id: str  # canonical "EMD-1234"
    pdb_id: str  # canonical lower case
    chain: str
    resolution: str = ""
    counts: str = ""  # "H/S/O" Cα counts as published
    f1: dict[F1Key, float | None] = field(default_factory=dict)  # percent; None: NA

    @property
    def sample_id(self) -> str:
        return sample_id(self.emdb_id, self.pdb_id, self.chain)

    @property
    def label(self) -> str:
        """The case as the paper's Table 2 names it: EMDB_PDB_Chain, e.g. 0090_6GYK_M."""
        return f"{emdb_number(self.emdb_id)}_{self.pdb_id.upper()}_{self.chain}"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def _percent(value: str, where: str) -> float | None:
    if value.strip() in ("", "NA"):
        return None
    number = float(value)
    if not 0.0 <= number <= 100.0:
        raise ValueError(f"{where}: F1 {value!r} is not a percentage")
    return number


def read_test_chains(path: str | Path) -> list[PublishedCase]:
    """The cases of a test-chain table, in its order; ValueError on a malformed table (missing
    column, invalid id, a case listed twice, an F1 outside 0-100)."""
    path = Path(path)
    rows = _rows(path)
    header = list(rows[0]) if rows else []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: test-chain table without column(s) {', '.join(missing)}")
    f1_columns = {c: _F1_COLUMN.fullmatch(c) for c in header}
    cases: list[PublishedCase] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        where = f"{path} row {number}"
        try:
            case = PublishedCase(
                emdb_id=normalize_emdb_id(row["emdb_id"]),
                pdb_id=normalize_pdb_id(row["pdb_id"]),
                chain=row["chain"].strip(),
                resolution=(row.get("resolution_A") or "").strip(),
                counts=(row.get("counts_published") or "").strip(),
                f1={
                    (m["loss"], m["level"], m["cls"]): _percent(row[c] or "", where)
                    for c, m in f1_columns.items()
                    if m
                },
            )
            sid = case.sample_id
        except (DataError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if sid in seen:
            raise ValueError(f"{where}: {sid} is listed twice")
        seen.add(sid)
        cases.append(case)
    return cases


def published_keys(cases: list[PublishedCase]) -> list[F1Key]:
    """The (loss, level, class) figures the table gives, in the losses' order, voxel first."""
    given = {key for case in cases for key in case.f1}
    return [
        (loss, level, cls)
        for loss in LOSSES
        for level in LEVELS
        for cls in SCORED_CLASSES
        if (loss, level, cls) in given
    ]
