"""Write one entry of a local EMDB/PDB mirror: v3 header XML, gzipped map, gzipped model.

Used by `cryosse simulate`, `cryosse derive` and the offline mirror builder, so that simulated,
derived and real entries reach the pipeline through the same layout (`mirror.LocalMirror`):

    <root>/emdb/structures/EMD-XXXX/header/emd-XXXX-v30.xml
    <root>/emdb/structures/EMD-XXXX/map/emd_XXXX.map.gz
    <root>/emdb/structures/EMD-XXXX/other/<provenance>.json   (simulation/derivation record)
    <root>/pdb/<pdbid>.pdb.gz | <pdbid>.cif.gz

The header uses the element names of EMDB's v3.0 schema and holds only what the writer knows
(demo/build_mirror.py writes the demo mirror with it too): the map facts are read back from the
MRC bytes that are stored. Every file is written atomically and gzipped deterministically
(mtime 0, no file name), so a rerun gives byte-identical files.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import mrcfile
import numpy as np

from cryosse import __version__
from cryosse.core.atomic import atomic_path
from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id

GZIP_LEVEL = 9
# Level 6: float maps compress barely better at 9 and take several times longer (the demo
# mirror keeps 9, the level its committed files were written with).
MAP_GZIP_LEVEL = 6
MRC_MODE_TO_EMDB_DATA_TYPE: dict[int, str] = {
    0: "IMAGE STORED AS SIGNED BYTE",
    1: "IMAGE STORED AS SIGNED INTEGER (2 BYTES)",
    2: "IMAGE STORED AS FLOATING POINT NUMBER (4 BYTES)",
    6: "IMAGE STORED AS UNSIGNED INTEGER (2 BYTES)",
}
METHOD_PROCESSING_ELEMENT: dict[str, str] = {
    "singleParticle": "singleparticle_processing",
    "helical": "helical_processing",
}


@dataclass(frozen=True)
class MapFacts:
    """Facts read back from stored MRC bytes (file axis order)."""

    nx: int
    ny: int
    nz: int
    nxstart: int
    nystart: int
    nzstart: int
    voxel_xyz: tuple[float, float, float]
    mode: int
    size_bytes: int


@dataclass(frozen=True)
class HeaderInfo:
    """What an entry's header states besides the map facts."""

    emdb_id: str
    pdb_ids: tuple[str, ...]
    title: str
    method: str  # EMDB v3 <method>: singleParticle or helical
    resolution: float | None  # None: the element is omitted (unknown)
    comment: str
    contour_level: float | None = None
    # None: the shortest text that reads back as the same float (3.2, 5.0), as provenance.json
    # records it (the demo mirror's headers)
    resolution_decimals: int | None = 2


def deterministic_gzip(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """Gzip reproducibly: mtime 0, empty file name (level 9 unless told)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", compresslevel=level, fileobj=buffer, mtime=0
    ) as stream:
        stream.write(data)
    return buffer.getvalue()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` atomically; an identical existing file is left untouched (mtime kept)."""
    if path.is_file() and path.read_bytes() == data:
        return
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def mrc_bytes(
    data_zyx: np.ndarray,
    voxel_size: float,
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0),
    nstart_xyz: tuple[int, int, int] = (0, 0, 0),
    label: str = "",
) -> bytes:
    """A float32 MRC file (MAPC/R/S = 1/2/3) as bytes, with a fixed label (byte-identical reruns).

    The position is given either by ORIGIN (Å) or by NSTART (voxels); readers use ORIGIN when
    it is non-zero, else NSTART × voxel size (`density.read_map`).
    """
    with tempfile.TemporaryDirectory() as tmpdir:
        path = Path(tmpdir) / "map.mrc"
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(np.ascontiguousarray(data_zyx, dtype=np.float32))
            mrc.voxel_size = float(voxel_size)
            mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = origin_xyz
            mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = nstart_xyz
            mrc.header.label[0] = (label or f"cryosse {__version__}").encode()[:80]
            mrc.header.nlabl = 1
            mrc.update_header_stats()
        return path.read_bytes()


def read_map_facts(data: bytes) -> MapFacts:
    """Grid size, NSTART, voxel size and mode of MRC bytes (mrcfile, permissive)."""
    with tempfile.TemporaryDirectory() as tmpdir:
        path = Path(tmpdir) / "map.mrc"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.open(path, permissive=True, header_only=True) as mrc:
                h, v = mrc.header, mrc.voxel_size
                return MapFacts(
                    int(h.nx),
                    int(h.ny),
                    int(h.nz),
                    int(h.nxstart),
                    int(h.nystart),
                    int(h.nzstart),
                    (float(v.x), float(v.y), float(v.z)),
                    int(h.mode),
                    len(data),
                )


def _float32_text(value: float) -> str:
    return np.format_float_positional(np.float32(value), trim="0")


def _resolution_lines(info: HeaderInfo) -> list[str]:
    """The author's resolution inside the method's processing element (none when unknown)."""
    if info.resolution is None:
        return []
    if info.resolution_decimals is None:
        resolution_text = repr(float(info.resolution))
    else:
        resolution_text = f"{info.resolution:.{info.resolution_decimals}f}"
    processing = METHOD_PROCESSING_ELEMENT[info.method]
    return [
        f"      <{processing}>",
        "        <final_reconstruction>",
        f'          <resolution res_type="BY AUTHOR" units="Å">{resolution_text}</resolution>',
        "        </final_reconstruction>",
        f"      </{processing}>",
    ]


def _contour_lines(level: float | None) -> list[str]:
    if level is None:
        return []
    return [
        "    <contour_list>",
        '      <contour primary="true">',
        f"        <level>{level:.6g}</level>",
        "        <source>SOFTWARE</source>",
        "      </contour>",
        "    </contour_list>",
    ]


def _map_lines(number: str, facts: MapFacts, contour_level: float | None) -> list[str]:
    """The <map> element: file, contour, and the facts read back from the MRC bytes."""
    vx, vy, vz = (_float32_text(v) for v in facts.voxel_xyz)
    return [
        # EMDB's unit: 1000 bytes, floored (EMD-25107: 42,593,024 bytes -> "42593")
        f'  <map format="CCP4" size_kbytes={quoteattr(str(facts.size_bytes // 1000))}>',
        f"    <file>emd_{number}.map.gz</file>",
        *_contour_lines(contour_level),
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
    ]


def header_xml(info: HeaderInfo, facts: MapFacts) -> str:
    """EMDB v3.0-style header XML holding `info` and the map facts only."""
    emdb_id = normalize_emdb_id(info.emdb_id)
    if facts.mode not in MRC_MODE_TO_EMDB_DATA_TYPE:
        raise ValueError(f"{emdb_id}: unsupported MRC mode {facts.mode}")
    if info.method not in METHOD_PROCESSING_ELEMENT:  # refused even without a resolution
        raise KeyError(info.method)
    comment = info.comment.replace("--", "- -")  # "--" is not allowed inside an XML comment
    pdb_references = [
        line
        for pdb_id in info.pdb_ids
        for line in (
            "      <pdb_reference>",
            f"        <pdb_id>{escape(pdb_id)}</pdb_id>",
            "      </pdb_reference>",
        )
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<!-- {escape(comment)} -->",
        f'<emd emdb_id="{emdb_id}" version="3.0">',
        "  <admin>",
        "    <current_status>",
        "      <code>REL</code>",
        "    </current_status>",
        f"    <title>{escape(info.title)}</title>",
        "  </admin>",
        "  <crossreferences>",
        "    <pdb_list>",
        *pdb_references,
        "    </pdb_list>",
        "  </crossreferences>",
        "  <structure_determination_list>",
        "    <structure_determination>",
        f"      <method>{info.method}</method>",
        *_resolution_lines(info),
        "    </structure_determination>",
        "  </structure_determination_list>",
        *_map_lines(emdb_number(emdb_id), facts, info.contour_level),
        "</emd>",
    ]
    return "\n".join(lines) + "\n"


def model_suffix(path: Path) -> str:
    """`.pdb` or `.cif` for a model file name (optionally gzipped)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".cif", ".mmcif")):
        return ".cif"
    if name.endswith((".pdb", ".ent")):
        return ".pdb"
    raise ValueError(f"{path.name}: not a .pdb/.ent/.cif model file")


def read_plain_bytes(path: Path) -> bytes:
    """File bytes, decompressed when the name ends in .gz."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


def write_entry(
    root: Path,
    info: HeaderInfo,
    map_data: bytes,
    models: dict[str, tuple[bytes, str]],
    record: dict[str, Any] | None = None,
    record_name: str = "provenance.json",
    map_gzip_level: int = MAP_GZIP_LEVEL,
) -> list[Path]:
    """Write header, map and models (pdb id -> (plain bytes, ".pdb"/".cif")) of one entry.

    A model file already in the mirror with different bytes is an error: one PDB id must mean
    one set of coordinates for every entry that cites it.
    """
    emdb_id = normalize_emdb_id(info.emdb_id)
    number = emdb_number(emdb_id)
    entry = root / "emdb" / "structures" / emdb_id
    facts = read_map_facts(map_data)
    written = []
    for pdb_id, (data, suffix) in sorted(models.items()):
        path = root / "pdb" / f"{normalize_pdb_id(pdb_id)}{suffix}.gz"
        blob = deterministic_gzip(data)
        if path.is_file() and path.read_bytes() != blob:
            raise ValueError(f"{path} exists with other coordinates; refusing to overwrite it")
        write_bytes_atomic(path, blob)
        written.append(path)
    map_path = entry / "map" / f"emd_{number}.map.gz"
    write_bytes_atomic(map_path, deterministic_gzip(map_data, map_gzip_level))
    header_path = entry / "header" / f"emd-{number}-v30.xml"
    write_bytes_atomic(header_path, header_xml(info, facts).encode("utf-8"))
    written += [map_path, header_path]
    if record is not None:
        record_path = entry / "other" / record_name
        text = json.dumps(record, indent=1, sort_keys=True) + "\n"
        write_bytes_atomic(record_path, text.encode("utf-8"))
        written.append(record_path)
    return written
