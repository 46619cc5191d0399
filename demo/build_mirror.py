#!/usr/bin/env python3
"""Build the offline demo mirror of EMDB/PDB from the real map/model pairs in ``realdata``.

The mirror is laid out like the public archives::

    <out>/emdb/structures/EMD-XXXX/map/emd_XXXX.map.gz
    <out>/emdb/structures/EMD-XXXX/header/emd-XXXX-v30.xml
    <out>/pdb/<pdbid>.pdb.gz
    <out>/MANIFEST.tsv

Map and model bytes are stored exactly as found in ``realdata`` (a gzipped source is decompressed
first), each wrapped in a single deterministic gzip stream (level 9, mtime 0, no file name), so that
re-running the script gives byte-identical files.  The header XML uses the element names of the EMDB
v3.0 header schema and holds only facts that are known: values read from the MRC header, plus the
title, resolution, map kind and source recorded in each pair's ``provenance.json`` and the method
listed in ``ENTRIES`` below.  Unknown elements (contour level, dates, citations, ...) are omitted.

Usage::

    python demo/build_mirror.py --realdata ../shared/realdata --out demo/mirror
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import gemmi
import mrcfile
import numpy as np

GZIP_LEVEL = 9

# MRC mode -> EMDB v3 <data_type> text.
MRC_MODE_TO_EMDB_DATA_TYPE: dict[int, str] = {
    0: "IMAGE STORED AS SIGNED BYTE",
    1: "IMAGE STORED AS SIGNED INTEGER (2 BYTES)",
    2: "IMAGE STORED AS FLOATING POINT NUMBER (4 BYTES)",
    6: "IMAGE STORED AS UNSIGNED INTEGER (2 BYTES)",
}

# EMDB v3 <method> value -> the element that holds the processing details.
METHOD_PROCESSING_ELEMENT: dict[str, str] = {
    "singleParticle": "singleparticle_processing",
    "helical": "helical_processing",
}


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


@dataclass(frozen=True)
class MapFacts:
    """Facts read from an MRC header with mrcfile (permissive)."""

    nx: int
    ny: int
    nz: int
    nxstart: int
    nystart: int
    nzstart: int
    voxel_xyz: tuple[float, float, float]
    mode: int
    size_bytes: int


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def deterministic_gzip(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly: level 9, mtime 0 and an empty file name."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=buffer, mtime=0
    ) as stream:
        stream.write(data)
    return buffer.getvalue()


def read_original_bytes(path: Path) -> bytes:
    """Return the bytes of ``path`` as originally published (decompressing a ``.gz`` copy)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(raw)
    return raw


def write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, leaving an identical file untouched."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
        tmp_path = Path(tmp.name)
    tmp_path.chmod(0o644)
    tmp_path.replace(path)


def read_map_facts(mrc_bytes: bytes) -> MapFacts:
    """Read grid size, NSTART, voxel size and mode from MRC bytes (mrcfile, permissive)."""
    with tempfile.TemporaryDirectory() as tmpdir:
        path = Path(tmpdir) / "map.mrc"
        path.write_bytes(mrc_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.open(path, permissive=True, header_only=True) as mrc:
                header = mrc.header
                voxel = mrc.voxel_size
                return MapFacts(
                    nx=int(header.nx),
                    ny=int(header.ny),
                    nz=int(header.nz),
                    nxstart=int(header.nxstart),
                    nystart=int(header.nystart),
                    nzstart=int(header.nzstart),
                    voxel_xyz=(float(voxel.x), float(voxel.y), float(voxel.z)),
                    mode=int(header.mode),
                    size_bytes=len(mrc_bytes),
                )


def format_float32(value: float) -> str:
    """Shortest decimal text that identifies ``value`` as a float32 (1.05, not 1.0499999523)."""
    return np.format_float_positional(np.float32(value), trim="0")


def format_resolution(value: float) -> str:
    """Resolution text as recorded in provenance.json (e.g. 3.2, 5.0)."""
    return repr(float(value))


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


def header_xml(
    entry: Entry,
    title: str,
    resolution: float,
    resolution_source: str,
    map_kind: str,
    map_source: str,
    facts: MapFacts,
) -> str:
    """Render the EMDB v3.0-style header XML, with real facts only."""
    emdb_id = f"EMD-{entry.emdb_number}"
    if facts.mode not in MRC_MODE_TO_EMDB_DATA_TYPE:
        raise ValueError(f"{emdb_id}: unsupported MRC mode {facts.mode}")
    processing = METHOD_PROCESSING_ELEMENT[entry.method]
    # EMDB's unit: 1000 bytes, floored (EMD-25107: 42,593,024 bytes -> size_kbytes="42593")
    size_kbytes = facts.size_bytes // 1000
    vx, vy, vz = (format_float32(v) for v in facts.voxel_xyz)
    comment = (
        f"Demo mirror header written by demo/build_mirror.py from real facts only. "
        f"Map kind: {map_kind}. Map source: {map_source}. "
        f"Resolution source: {resolution_source}. "
        f"Dimensions, origin (NSTART), voxel size and data type are read from the MRC header."
    )
    # "--" is not allowed inside an XML comment.
    comment = comment.replace("--", "- -")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<!-- {comment} -->",
        f'<emd emdb_id="{emdb_id}" version="3.0">',
        "  <admin>",
        "    <current_status>",
        "      <code>REL</code>",
        "    </current_status>",
        f"    <title>{escape(title)}</title>",
        "  </admin>",
        "  <crossreferences>",
        "    <pdb_list>",
        "      <pdb_reference>",
        f"        <pdb_id>{escape(entry.pdb_id)}</pdb_id>",
        "      </pdb_reference>",
        "    </pdb_list>",
        "  </crossreferences>",
        "  <structure_determination_list>",
        "    <structure_determination>",
        f"      <method>{entry.method}</method>",
        f"      <{processing}>",
        "        <final_reconstruction>",
        f'          <resolution res_type="BY AUTHOR" units="Å">'
        f"{format_resolution(resolution)}</resolution>",
        "        </final_reconstruction>",
        f"      </{processing}>",
        "    </structure_determination>",
        "  </structure_determination_list>",
        f'  <map format="CCP4" size_kbytes={quoteattr(str(size_kbytes))}>',
        f"    <file>emd_{entry.emdb_number}.map.gz</file>",
        f"    <data_type>{MRC_MODE_TO_EMDB_DATA_TYPE[facts.mode]}</data_type>",
        "    <dimensions>",
        f"      <col>{facts.nx}</col>",
        f"      <row>{facts.ny}</row>",
        f"      <sec>{facts.nz}</sec>",
        "    </dimensions>",
        "    <origin>",
        f"      <col>{facts.nxstart}</col>",
        f"      <row>{facts.nystart}</row>",
        f"      <sec>{facts.nzstart}</sec>",
        "    </origin>",
        "    <pixel_spacing>",
        f'      <x units="Å">{vx}</x>',
        f'      <y units="Å">{vy}</y>',
        f'      <z units="Å">{vz}</z>',
        "    </pixel_spacing>",
        "  </map>",
        "</emd>",
    ]
    return "\n".join(lines) + "\n"


def find_file_record(provenance: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the provenance.json record of the file stored as ``name``."""
    for record in provenance["files"]:
        if record["file"] == name:
            return record
    raise KeyError(f"{name} not listed in provenance.json")


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


def build_entry(entry: Entry, realdata: Path, out: Path) -> list[dict[str, str]]:
    """Write the map, header and model of one entry; return its MANIFEST rows."""
    folder = realdata / entry.folder
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    if provenance["emdb_id"] != entry.emdb_number or provenance["pdb_id"].lower() != entry.pdb_id:
        raise ValueError(f"{entry.folder}: provenance ids do not match {entry}")
    emdb_id = f"EMD-{entry.emdb_number}"
    rows: list[dict[str, str]] = []

    # Map: the original MRC bytes in one deterministic gzip stream.
    map_record = find_file_record(provenance, entry.map_file)
    map_bytes = read_original_bytes(folder / entry.map_file)
    if sha256_hex(map_bytes) != map_record["original_sha256"]:
        raise ValueError(f"{entry.folder}/{entry.map_file}: sha256 differs from provenance.json")
    facts = read_map_facts(map_bytes)
    map_rel = Path("emdb/structures") / emdb_id / "map" / f"emd_{entry.emdb_number}.map.gz"
    map_gz = deterministic_gzip(map_bytes)
    write_if_changed(out / map_rel, map_gz)
    check_map_gz(out / map_rel, facts)
    map_source = source_text(map_record["source"])
    rows.append(
        {
            "path": map_rel.as_posix(),
            "role": "map",
            "emdb_id": emdb_id,
            "pdb_id": entry.pdb_id,
            "sha256": sha256_hex(map_gz),
            "bytes": str(len(map_gz)),
            "source": map_source,
        }
    )

    # Header: EMDB v3.0 element names, real facts only.
    xml = header_xml(
        entry,
        title=provenance["title"],
        resolution=provenance["resolution_A"],
        resolution_source=provenance["resolution_source"],
        map_kind=provenance["map_kind"],
        map_source=map_source,
        facts=facts,
    ).encode("utf-8")
    header_rel = Path("emdb/structures") / emdb_id / "header" / f"emd-{entry.emdb_number}-v30.xml"
    write_if_changed(out / header_rel, xml)
    rows.append(
        {
            "path": header_rel.as_posix(),
            "role": "header",
            "emdb_id": emdb_id,
            "pdb_id": entry.pdb_id,
            "sha256": sha256_hex(xml),
            "bytes": str(len(xml)),
            "source": HEADER_SOURCE,
        }
    )

    # Model: the .pdb bytes exactly as found, gzipped deterministically.
    model_record = find_file_record(provenance, entry.model_file)
    model_bytes = read_original_bytes(folder / entry.model_file)
    if sha256_hex(model_bytes) != model_record["original_sha256"]:
        raise ValueError(f"{entry.folder}/{entry.model_file}: sha256 differs from provenance.json")
    model_rel = Path("pdb") / f"{entry.pdb_id}.pdb.gz"
    model_gz = deterministic_gzip(model_bytes)
    write_if_changed(out / model_rel, model_gz)
    check_model_gz(out / model_rel)
    rows.append(
        {
            "path": model_rel.as_posix(),
            "role": "model",
            "emdb_id": emdb_id,
            "pdb_id": entry.pdb_id,
            "sha256": sha256_hex(model_gz),
            "bytes": str(len(model_gz)),
            "source": source_text(model_record["source"]),
        }
    )
    return rows


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
    write_if_changed(out / "MANIFEST.tsv", manifest_tsv(rows).encode("utf-8"))
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
