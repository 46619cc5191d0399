"""Many simulated maps: ids in sorted model order, resolutions spread over the window, processes
in parallel, and `<mirror>/simulated.tsv` with one row per map (a structure that cannot be
simulated is a "skipped" row with its reason, never fatal).

Each map has its own RNG (`core.ids.entry_rng`), so a map does not depend on the process that
made it nor on the order the processes finish in.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryosse.core.atomic import write_text_atomic
from cryosse.core.ids import SIMULATED_IDS, fits_reserved_range
from cryosse.core.tsv import tsv_text
from cryosse.synthetic.atoms import SimulationError
from cryosse.synthetic.parameters import PROFILES, RESOLUTION
from cryosse.synthetic.simulate import simulate_entry

SUMMARY_COLUMNS = [
    "emdb_id",
    "pdb_id",
    "source",
    "status",
    "reason",
    "resolution",
    "voxel_size",
    "shape_xyz",
    "snr",
    "chains",
    "assembly",
    "nucleic_acid",
    "mask",
]


def resolution_stratum(index: int, count: int) -> tuple[float, float]:
    """The `index`-th of `count` equal slices of RESOLUTION: the maps of one structure spread
    over 5-10 Å instead of clustering by chance."""
    width = (RESOLUTION[1] - RESOLUTION[0]) / count
    return (RESOLUTION[0] + index * width, RESOLUTION[0] + (index + 1) * width)


def _simulate_job(job: tuple[Path, int, Path, int, str, tuple[float, float]]) -> dict[str, str]:
    """One map; a structure that cannot be simulated gives a "skipped" row with its reason."""
    path, number, mirror_root, seed, profile, band = job
    emdb_id = f"EMD-{number}"
    row = dict.fromkeys(SUMMARY_COLUMNS, "")
    row.update(emdb_id=emdb_id, source=path.name, status="written")
    try:
        record = simulate_entry(
            path, emdb_id, mirror_root, seed, profile=profile, resolution_range=band
        )
    except SimulationError as exc:
        row.update(status="skipped", reason=f"{exc.reason}: {exc}")
    except ValueError as exc:  # e.g. a model file of the same id with other coordinates
        row.update(status="skipped", reason=f"conflict: {exc}")
    else:
        p = record["parameters"]
        row.update(
            pdb_id=record["pdb_id"],
            resolution=f"{p['resolution']:.2f}",
            voxel_size=f"{p['voxel_size']:.3f}",
            shape_xyz="x".join(str(n) for n in p["shape_xyz"]),
            snr=f"{p['noise']['snr']:.2f}",
            chains=str(record["n_chains"]),
            assembly=_assembly_summary(record["assembly"]),
            nucleic_acid=str(p["nucleic_acid"]["base_pairs"]) if p["nucleic_acid"] else "",
            mask=(p["mask"] or {}).get("kind", "zone" if p["mask"] else "none"),
        )
    return row


def _counted(rows: Iterable[dict[str, str]], bar: Any) -> list[dict[str, str]]:
    """The rows, in order, each ticked on the progress bar as it arrives."""
    done = []
    for row in rows:
        done.append(row)
        bar.update()
    return done


def _assembly_summary(record: dict[str, Any] | None) -> str:
    if record is None:
        return ""
    if not record.get("used"):
        return f"not used: {record.get('reason', '')}"
    return f"{record['assembly_copies']} copies + {record['packed_neighbours']} neighbours"


def simulate_structures(
    models: Iterable[Path],
    mirror_root: Path,
    first_id: int = SIMULATED_IDS[0],
    maps_per_structure: int = 1,
    seed: int = 1,
    jobs: int = 1,
    progress: bool = False,
    profile: str = "v1",
) -> list[dict[str, str]]:
    """Simulate `maps_per_structure` maps of each model (the j-th in `resolution_stratum(j, n)`),
    ids in sorted model order from `first_id`, in `jobs` processes; a model that fails is
    reported (status "skipped" + reason), never fatal. Writes `<mirror_root>/simulated.tsv` and
    returns its rows."""
    if profile not in PROFILES:
        raise ValueError(f"unknown simulation profile {profile!r} (one of {', '.join(PROFILES)})")
    from multiprocessing import get_context

    from tqdm import tqdm

    paths = sorted(Path(p) for p in models)
    last = first_id + len(paths) * maps_per_structure - 1
    if not fits_reserved_range(first_id, last, "simulated"):
        raise ValueError(
            f"ids EMD-{first_id}..EMD-{last} leave the simulated range "
            f"EMD-{SIMULATED_IDS[0]}..EMD-{SIMULATED_IDS[1]}"
        )
    work = [
        (
            p,
            first_id + i * maps_per_structure + j,
            Path(mirror_root),
            seed,
            profile,
            resolution_stratum(j, maps_per_structure),
        )
        for i, p in enumerate(paths)
        for j in range(maps_per_structure)
    ]
    bar = tqdm(total=len(work), desc="simulating", unit="map", disable=not progress)
    if jobs > 1:
        with get_context("spawn").Pool(jobs) as pool:
            rows = _counted(pool.imap(_simulate_job, work), bar)
    else:
        rows = _counted(map(_simulate_job, work), bar)
    bar.close()
    write_text_atomic(Path(mirror_root) / "simulated.tsv", tsv_text(SUMMARY_COLUMNS, rows))
    return rows
