"""Parse EMDB v3 header XML (emd-XXXX-v30.xml) into the facts curation needs.

XPaths follow EMDB's v3 header schema: resolution under
structure_determination_list/structure_determination/*_processing/final_reconstruction, the
recommended contour under map/contour_list (scoped to <map>, not the whole document), the fitted
models under crossreferences/pdb_list/pdb_reference/pdb_id.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryosse.core.ids import normalize_emdb_id
from cryosse.core.reasons import DataError, Reason


@dataclass(frozen=True)
class EntryHeader:
    emdb_id: str
    status: str  # REL, OBS, HPUB, ...
    resolution: float | None
    method: str | None
    fitted_pdb_ids: list[str] = field(default_factory=list)  # raw, validated later
    map_file: str | None = None
    contour_level: float | None = None
    voxel_size: tuple[float, float, float] | None = None
    dimensions: tuple[int, int, int] | None = None  # col, row, sec
    map_size_kbytes: int | None = None
    superseded_by: list[str] = field(default_factory=list)
    title: str | None = None

    @property
    def is_released(self) -> bool:
        return self.status.upper() == "REL"


def _text(node: ET.Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    return text or None


def _float(node: ET.Element | None) -> float | None:
    text = _text(node)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_header(path: str | Path) -> EntryHeader:
    """Read one header file; raise DataError(HEADER_MISSING / HEADER_INVALID)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(Reason.HEADER_MISSING, f"header file {path.name} not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataError(
            Reason.HEADER_INVALID, f"header {path.name} is not valid XML: {exc}"
        ) from exc
    return parse_header_element(root, source=path.name)


def parse_header_element(root: ET.Element, source: str = "header") -> EntryHeader:
    if root.tag != "emd":
        raise DataError(Reason.HEADER_INVALID, f"{source}: root element is <{root.tag}>, not <emd>")
    emdb_id = normalize_emdb_id(root.get("emdb_id", ""))

    status = _text(root.find("admin/current_status/code")) or "REL"
    superseded = [
        text
        for node in root.findall("admin/superseded_by_list/entry/entry")
        if (text := _text(node)) is not None
    ]

    resolution = None
    method = None
    for det in root.findall("structure_determination_list/structure_determination"):
        method = method or _text(det.find("method"))
        for processing in det:
            if not processing.tag.endswith("_processing"):
                continue
            value = _float(processing.find("final_reconstruction/resolution"))
            if value is not None and resolution is None:
                resolution = value

    fitted = [
        text
        for node in root.findall("crossreferences/pdb_list/pdb_reference/pdb_id")
        if (text := _text(node)) is not None
    ]

    map_node = root.find("map")
    map_file = contour = voxel = dims = size_kb = None
    if map_node is not None:
        map_file = _text(map_node.find("file"))
        contours = map_node.findall("contour_list/contour")
        # @primary is an xs:boolean: "true" or "1" (with optional whitespace)
        primary = next(
            (c for c in contours if (c.get("primary") or "").strip().lower() in ("true", "1")),
            contours[0] if contours else None,
        )
        contour = _float(primary.find("level")) if primary is not None else None
        # filtered rather than tested with all(), which mypy cannot narrow through
        spacing = [_float(map_node.find(f"pixel_spacing/{a}")) for a in "xyz"]
        given = [v for v in spacing if v is not None]
        if len(given) == 3:
            voxel = (given[0], given[1], given[2])
        dim_values = [_text(map_node.find(f"dimensions/{a}")) for a in ("col", "row", "sec")]
        digits = [v for v in dim_values if v is not None and v.isdigit()]
        if len(digits) == 3:
            dims = (int(digits[0]), int(digits[1]), int(digits[2]))
        size_text = map_node.get("size_kbytes")
        size_kb = int(size_text) if size_text and size_text.isdigit() else None

    return EntryHeader(
        emdb_id=emdb_id,
        status=status,
        resolution=resolution,
        method=method,
        fitted_pdb_ids=fitted,
        map_file=map_file,
        contour_level=contour,
        voxel_size=voxel,
        dimensions=dims,
        map_size_kbytes=size_kb,
        superseded_by=superseded,
        title=_text(root.find("admin/title")),
    )


def header_for_map(map_path: str | Path) -> Path | None:
    """An EMDB header XML beside the map (or in the archive layout's ../header/): the one of
    the map's own EMDB number (emd_NNNN.map.gz → emd-NNNN-v30.xml or emd-NNNN.xml), else the
    only emd-*.xml of the folder."""
    folder = Path(map_path).resolve().parent
    folders = [folder, folder.parent / "header"]
    number = re.match(r"emd[_-](\d+)", Path(map_path).name, re.IGNORECASE)
    if number:
        for where in folders:
            for name in (f"emd-{number[1]}-v30.xml", f"emd-{number[1]}.xml"):
                if (where / name).is_file():
                    return where / name
        return None
    found = sorted(folder.glob("emd-*.xml"))
    return found[0] if len(found) == 1 else None


def map_resolution(map_path: str | Path) -> dict[str, Any]:
    """{value_A, source, contour_level} from the EMDB header beside the map (header_for_map);
    None values, with the reason as the source, when there is none or it cannot be read."""
    header = header_for_map(map_path)
    if header is None:
        return {
            "value_A": None,
            "source": "no --resolution, no EMDB header beside the map",
            "contour_level": None,
        }
    try:
        parsed = parse_header(header)
    except DataError as exc:
        return {
            "value_A": None,
            "source": f"unreadable EMDB header: {exc.message}",
            "contour_level": None,
        }
    return {
        "value_A": parsed.resolution,
        "source": f"EMDB header {header.name}",
        "contour_level": parsed.contour_level,
    }
