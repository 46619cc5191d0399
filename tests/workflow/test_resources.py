"""Memory requests of curation jobs, from real acquisition records of the demo archive."""

from __future__ import annotations

import json
from pathlib import Path

from cryosse.acquire.stage import run_acquire
from cryosse.workflow.resources import (
    CURATION_BASE_MB,
    CURATION_MB_PER_MAP_MB,
    CURATION_UNKNOWN_MB,
    curation_mem_mb,
)
from tests.conftest import DEMO_MIRROR

ARCHIVE = {"mirror": str(DEMO_MIRROR)}
RESOLUTION = {"min": 3.0, "max": 10.0}


def acquired(emdb: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{emdb}.json"
    run_acquire(emdb_id=emdb, archive=ARCHIVE, download={}, resolution=RESOLUTION, out_json=out)
    return out


def test_memory_follows_the_map_size(tmp_path: Path) -> None:
    small = acquired("EMD-8518", tmp_path)  # 55×81×91 float32: 1,585 kB in its header
    big = acquired("EMD-5168", tmp_path)  # 100³ float32
    kbytes = {p: json.loads(p.read_text())["map_size_kbytes"] for p in (small, big)}
    assert kbytes[small] < kbytes[big]
    for path, kb in kbytes.items():
        expected = CURATION_BASE_MB + CURATION_MB_PER_MAP_MB * kb / 1000
        assert expected <= curation_mem_mb(path) < expected + 100  # rounded up to 100 MB
    assert curation_mem_mb(small) <= curation_mem_mb(big)
    # A retry (e.g. after an out-of-memory kill) asks for proportionally more.
    assert curation_mem_mb(big, attempt=2) >= 2 * curation_mem_mb(big) - 100


def test_excluded_or_unknown_maps(tmp_path: Path) -> None:
    missing = acquired("EMD-99999", tmp_path)  # not in the mirror: excluded at acquisition
    assert json.loads(missing.read_text())["status"] == "excluded"
    assert curation_mem_mb(missing) == CURATION_BASE_MB
    record = json.loads(acquired("EMD-8518", tmp_path).read_text())
    record["map_size_kbytes"] = None
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps(record))
    assert curation_mem_mb(unknown) == CURATION_UNKNOWN_MB


def test_large_maps_ask_for_gigabytes(tmp_path: Path) -> None:
    record = json.loads(acquired("EMD-8518", tmp_path).read_text())
    record["map_size_kbytes"] = 1000**3 * 4 // 1000  # a 1000³ float32 map, 4 GB
    large = tmp_path / "large.json"
    large.write_text(json.dumps(record))
    assert curation_mem_mb(large) == CURATION_BASE_MB + CURATION_MB_PER_MAP_MB * 4000
