"""A local archive mirror: EMDB and PDB files in the archives' own directory layout.

Institutions keep such mirrors with rsync; the embedded demo archive is one. Paths are built
only from validated ids, so nothing outside the mirror root can be reached.

    <root>/emdb/structures/EMD-1234/header/emd-1234-v30.xml
    <root>/emdb/structures/EMD-1234/map/emd_1234.map.gz
    <root>/pdb/1abc.cif.gz                       (flat, as in the demo), or
    <root>/pdb/data/structures/divided/mmCIF/ab/1abc.cif.gz   (wwPDB layout)
    <root>/pdb/data/status/obsolete.dat          (wwPDB list of obsolete ids, optional)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id
from cryosse.core.reasons import DataError, Reason

# Preference order: mmCIF first (the only format for extended ids), PDB format as a fallback.
_MODEL_SUFFIXES = (".cif.gz", ".cif", ".pdb.gz", ".pdb", ".ent.gz", ".ent")


@dataclass(frozen=True)
class LocalMirror:
    root: Path

    @classmethod
    def at(cls, root: str | Path) -> LocalMirror:
        return cls(Path(root).resolve())

    def entry_dir(self, emdb_id: str) -> Path:
        return self.root / "emdb" / "structures" / normalize_emdb_id(emdb_id)

    def header_path(self, emdb_id: str) -> Path:
        number = emdb_number(emdb_id)
        return self.entry_dir(emdb_id) / "header" / f"emd-{number}-v30.xml"

    def map_path(self, emdb_id: str, map_file: str | None = None) -> Path:
        """The primary map. The header's file name is used only if it is a plain file name."""
        number = emdb_number(emdb_id)
        default = f"emd_{number}.map.gz"
        name = map_file if map_file and Path(map_file).name == map_file else default
        if not name.startswith(f"emd_{number}"):
            name = default
        return self.entry_dir(emdb_id) / "map" / name

    def obsolete_list_path(self) -> Path:
        return self.root / "pdb" / "data" / "status" / "obsolete.dat"

    def model_path(self, pdb_id: str) -> Path:
        """The first existing model file for a PDB id; raise MODEL_MISSING if none."""
        pid = normalize_pdb_id(pdb_id)
        pdb_root = self.root / "pdb"
        candidates = [pdb_root / f"{pid}{suffix}" for suffix in _MODEL_SUFFIXES]
        middle = pid[-3:-1]
        candidates += [
            pdb_root / "data" / "structures" / "divided" / "mmCIF" / middle / f"{pid}.cif.gz",
            pdb_root / "data" / "structures" / "divided" / "pdb" / middle / f"pdb{pid}.ent.gz",
        ]
        for path in candidates:
            if path.is_file():
                return path
        raise DataError(Reason.MODEL_MISSING, f"no model file for {pid} in the mirror")
