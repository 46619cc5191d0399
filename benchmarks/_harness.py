"""What the benchmarks share: the machine facts each prints first, the memory readers, one
plain-text table layout and the `--realdata` argument with its pair list.

Run every benchmark from the repository root as a module: `python -m benchmarks.X`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
from pathlib import Path
from typing import Any

from cryosse.io.realdata import RealEntry, RealFit, read_entries

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = (REPO_ROOT / ".." / "shared" / "realdata").resolve()


# ---------------------------------------------------------------------------- the machine --


def host_facts() -> dict[str, Any]:
    """CPU model and flags from /proc/cpuinfo, usable cores, Python and platform."""
    cpu, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name") and cpu in ("unknown", "x86_64", ""):
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "cpu_flags": sorted(flags),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded; None where the system has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------- the memory --


def proc_status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM); None where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mib() -> tuple[float, float | None]:
    """(ru_maxrss, VmHWM) of this process in MiB; VmHWM is None where /proc is missing."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    hwm = proc_status_kib("VmHWM")
    return maxrss, None if hwm is None else hwm / 1024.0


# ------------------------------------------------------------------------------ the table --


def text_table(
    header: list[str], rows: list[list[str]], *, left: set[int], total: bool = False
) -> list[str]:
    """Columns padded to their widest cell (left-aligned where the index is in `left`), a
    dashed rule under the header and, with `total`, a second rule above the last row."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    if total:
        return [line(header), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])]
    return [line(header), rule, *(line(r) for r in rows)]


# --------------------------------------------------------------------------- the realdata --


def add_realdata_argument(parser: argparse.ArgumentParser) -> None:
    """`--realdata DIR`, the real map/model pairs (default ../shared/realdata)."""
    parser.add_argument(
        "--realdata",
        type=Path,
        default=DEFAULT_REALDATA,
        help=f"realdata folder (default: {DEFAULT_REALDATA})",
    )


def primary_fits(realdata: Path) -> list[tuple[RealEntry, RealFit]]:
    """The documented (map, model) pairs, role "map" × role "model", good fit only, in the
    order of realdata's INDEX.json where it has one."""
    fits = [(e, f) for e in read_entries(realdata) for f in e.fits if f.primary]
    index = realdata / "INDEX.json"
    if index.is_file():
        listed = json.loads(index.read_text(encoding="utf-8"))["pairs"]
        rank = {p["folder"].strip("/"): i for i, p in enumerate(listed)}
        fits.sort(key=lambda pair: rank.get(pair[0].folder.name, len(rank)))
    return fits
