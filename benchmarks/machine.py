"""The machine facts every benchmark prints first (imported by the scripts beside it)."""

from __future__ import annotations

import os
import platform
from typing import Any


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
