"""Build the offline demo mirror of EMDB/PDB from the real map/model pairs in ``realdata``.

The mirror is laid out like the public archives::

    <out>/emdb/structures/EMD-XXXX/map/emd_XXXX.map.gz
    <out>/emdb/structures/EMD-XXXX/header/emd-XXXX-v30.xml
    <out>/pdb/<pdbid>.pdb.gz
    <out>/MANIFEST.tsv

The entries are written by the package's mirror writer
(``cryosse.synthetic.mirror_entry.write_entry``, the
one that simulated, derived and offline entries go through): map and model bytes exactly as found
in ``realdata`` (a gzipped source is decompressed first), each in one deterministic gzip stream
(level 9, mtime 0, no file name), so that re-running the script gives byte-identical files. The
header XML uses the element names of the EMDB v3.0 header schema and holds only facts that are
known: values read from the MRC header, plus the title, resolution, map kind and source recorded
in each pair's ``provenance.json`` and the method listed in ``ENTRIES`` below. Unknown elements
(contour level, dates, citations, ...) are omitted.

Usage::

    python demo/build_mirror.py --realdata ../shared/realdata --out demo/mirror
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gemmi
import mrcfile
import numpy as np

from cryosse.core.hashing import sha256_bytes
from cryosse.synthetic.mirror_entry import (
    GZIP_LEVEL,
    HeaderInfo,
    MapFacts,
    read_map_facts,
    read_plain_bytes,
    write_bytes_atomic,
    write_entry,
)


@dataclass(frozen=True)
class Entry:
    """One EMDB entry of the demo mirror and the realdata files it is built from."""

    folder: str  # realdata folder, e.g. "EMD-3488"
    emdb_number: str  # e.g. "3488"
    pdb_id: str  # fitted model, lowercase, e.g. "5me2"
    map_file: str  # file name inside the realdata folder
    model_file: str  # file name inside the realdata folder
    method: str  # EMDB v3 <method> value


ENTRIES: tuple[Entry, ...] = (
    Entry("EMD-3488", "3488", "5me2", "emd_3488.mrc.gz", "5me2.pdb", "singleParticle"),
    Entry("EMD-5168", "5168", "3mfp", "emd_5168.map.gz", "3MFP.pdb", "helical"),
    Entry("EMD-8518", "8518", "5u8s", "A-1.0APIX.mrc", "A_fitted.pdb", "singleParticle"),
    Entry("EMD-6149", "6149", "3j8g", "X-1.0APIX.mrc.gz", "X_fitted.pdb", "singleParticle"),
    Entry("EMD-21457", "21457", "6vyb", "emd_21457_seg.mrc", "6vyb_Ndom.pdb", "singleParticle"),
    # Not in the demo's entry list: the entry README journey 3 adds with `cryosse add`.
    Entry("EMD-3491", "3491", "5mdx", "L-1.0APIX.mrc", "L_fitted.pdb", "singleParticle"),
)

MANIFEST_COLUMNS: tuple[str, ...] = (
    "path",
    "role",
    "emdb_id",
    "pdb_id",
    "sha256",
    "bytes",
    "source",
)
HEADER_SOURCE = "written by demo/build_mirror.py from realdata provenance.json and the MRC header"


def source_text(source: dict[str, Any]) -> str:
    """One-line description of where a realdata file came from."""
    kind = source["kind"]
    if kind == "github":
        return f"github:{source['repo']}@{source['commit']}:{source['path']}"
    if kind == "pypi-sdist":
        return (
            f"pypi-sdist:{source['package']} ({source['sdist_file']}, "
            f"sha256 {source['sdist_sha256']}):{source['member']}"
        )
    raise ValueError(f"unknown source kind {kind!r}")


def header_comment(map_kind: str, map_source: str, resolution_source: str) -> str:
    """Where the header's facts come from (the XML comment at its top)."""
    return (
        f"Demo mirror header written by demo/build_mirror.py from real facts only. "
        f"Map kind: {map_kind}. Map source: {map_source}. "
        f"Resolution source: {resolution_source}. "
        f"Dimensions, origin (NSTART), voxel size and data type are read from the MRC header."
    )


def find_file_record(provenance: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the provenance.json record of the file stored as ``name``."""
    for record in provenance["files"]:
        if record["file"] == name:
            return record
    raise KeyError(f"{name} not listed in provenance.json")


def read_checked(folder: Path, name: str, provenance: dict[str, Any]) -> bytes:
    """The original bytes of a realdata file, checked against its sha256 in provenance.json."""
    data = read_plain_bytes(folder / name)
    if sha256_bytes(data) != find_file_record(provenance, name)["original_sha256"]:
        raise ValueError(f"{folder.name}/{name}: sha256 differs from provenance.json")
    return data


def check_map_gz(path: Path, expected: MapFacts) -> None:
    """Open a stored map straight from its .gz with mrcfile (permissive) and compare the header."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(path, permissive=True) as mrc:
            if mrc.data is None:
                raise ValueError(f"{path}: mrcfile read no data")
            nz, ny, nx = mrc.data.shape
            if (nx, ny, nz) != (expected.nx, expected.ny, expected.nz):
                raise ValueError(f"{path}: data shape {(nx, ny, nz)} != header")
            if not np.isfinite(mrc.data).all():
                raise ValueError(f"{path}: non-finite voxels")


def check_model_gz(path: Path) -> None:
    """Open a stored model with gemmi and require at least one atom."""
    structure = gemmi.read_structure(str(path))
    if len(structure) == 0 or structure[0].count_atom_sites() == 0:
        raise ValueError(f"{path}: gemmi found no atoms")


def manifest_row(out: Path, path: Path, role: str, entry: Entry, source: str) -> dict[str, str]:
    """The MANIFEST row of one stored file, from the bytes on disk."""
    data = path.read_bytes()
    return {
        "path": path.relative_to(out).as_posix(),
        "role": role,
        "emdb_id": f"EMD-{entry.emdb_number}",
        "pdb_id": entry.pdb_id,
        "sha256": sha256_bytes(data),
        "bytes": str(len(data)),
        "source": source,
    }


def build_entry(entry: Entry, realdata: Path, out: Path) -> list[dict[str, str]]:
    """Write the map, header and model of one entry; return its MANIFEST rows."""
    folder = realdata / entry.folder
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    if provenance["emdb_id"] != entry.emdb_number or provenance["pdb_id"].lower() != entry.pdb_id:
        raise ValueError(f"{entry.folder}: provenance ids do not match {entry}")
    map_bytes = read_checked(folder, entry.map_file, provenance)
    model_bytes = read_checked(folder, entry.model_file, provenance)
    map_source = source_text(find_file_record(provenance, entry.map_file)["source"])
    info = HeaderInfo(
        emdb_id=f"EMD-{entry.emdb_number}",
        pdb_ids=(entry.pdb_id,),
        title=provenance["title"],
        method=entry.method,
        resolution=provenance["resolution_A"],
        comment=header_comment(provenance["map_kind"], map_source, provenance["resolution_source"]),
        resolution_decimals=None,  # as recorded in provenance.json (3.2, 5.0)
    )
    written = write_entry(
        out, info, map_bytes, {entry.pdb_id: (model_bytes, ".pdb")}, map_gzip_level=GZIP_LEVEL
    )
    (map_path,) = (p for p in written if p.parent.name == "map")
    (header_path,) = (p for p in written if p.parent.name == "header")
    (model_path,) = (p for p in written if p.parent.name == "pdb")
    check_map_gz(map_path, read_map_facts(map_bytes))
    check_model_gz(model_path)
    model_source = source_text(find_file_record(provenance, entry.model_file)["source"])
    return [
        manifest_row(out, map_path, "map", entry, map_source),
        manifest_row(out, header_path, "header", entry, HEADER_SOURCE),
        manifest_row(out, model_path, "model", entry, model_source),
    ]


def manifest_tsv(rows: list[dict[str, str]]) -> str:
    """Render MANIFEST.tsv (tab-separated, header line, one row per stored file)."""
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for row in rows:
        values = [row[column] for column in MANIFEST_COLUMNS]
        if any("\t" in value or "\n" in value for value in values):
            raise ValueError(f"tab or newline in manifest row {row}")
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"


def build_mirror(realdata: Path, out: Path) -> list[dict[str, str]]:
    """Build the whole mirror under ``out`` and return the MANIFEST rows."""
    rows: list[dict[str, str]] = []
    for entry in ENTRIES:
        rows.extend(build_entry(entry, realdata, out))
    write_bytes_atomic(out / "MANIFEST.tsv", manifest_tsv(rows).encode("utf-8"))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--realdata",
        type=Path,
        required=True,
        help="folder with the real map/model pairs (one EMD-XXXX folder with provenance.json each)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="mirror root to write (e.g. demo/mirror)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    rows = build_mirror(args.realdata, args.out)
    total = sum(int(row["bytes"]) for row in rows)
    for row in rows:
        print(f"{row['bytes']:>9}  {row['sha256']}  {row['path']}")
    print(f"{len(rows)} files, {total} bytes, manifest: {args.out / 'MANIFEST.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
