"""Benchmark: cost of curating the real map/model pairs in ../shared/realdata.

For every (map, model) pair documented in realdata (cryosse.io.realdata, in the order of its
INDEX.json; the primary pairing of each folder: file roles "map" × "model" with a good fit
check; header variants, alternative models and the deliberately non-overlapping negative pairing
are skipped), one `LocatedEntry` is built by hand and `cryosse.curate.entry.curate_entry` is run
on it in a fresh spawned process. Per pair it prints the map box, voxel size, protein residues,
samples kept, wall time of `curate_entry`, the peak RSS of the child (`ru_maxrss`), and the
seconds per step from `EntryResult.timings` (read, dssp, crop, label, write; "other" = wall −
steps: fit checks, chain choice, residue table); with --repeat N, the run with the median wall
time gives the times and the peak RSS is the maximum over runs. Then a totals line and each
step's share of the total wall time. Every pair is curated with
`CurationSettings.from_config(SETTINGS_CONFIG)` (resolution 0–100 Å, chains without a helix
kept): this measures cost, not the filters. Samples are written to a temporary directory that is
removed afterwards.

Note on memory: on Linux a spawned child's `ru_maxrss` starts from the parent's RSS (the parent's
address space is counted until exec), so this parent imports only the standard library; the
baseline line shows a child that only imports cryosse (`import cryosse.curate.entry`, i.e. with
numpy,
gemmi, mrcfile), so the increment per pair is visible. `VmHWM` (the child's own high-water mark)
goes to the JSON output as a cross-check.

Run from the repository root:

    .venv/bin/python -m benchmarks.curation [--realdata PATH] [--repeat N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    add_realdata_argument,
    host_facts,
    peak_rss_mib,
    primary_fits,
    text_table,
)
from cryosse.core.hashing import sha256_file

STEPS = ("read", "dssp", "crop", "label", "write")
# config sections (CurationSettings.from_config): every resolution, chains without a helix too
SETTINGS_CONFIG: dict[str, Any] = {
    "resolution": {"min": 0.0, "max": 100.0},
    "chains": {"require_helix": False},
}


# ---------------------------------------------------------------- children (fresh processes) --


def _baseline_child() -> dict[str, Any]:
    """A child that only imports cryosse (and the modules curation needs); no work."""
    before = peak_rss_mib()
    import dataclasses

    import cryosse
    from cryosse.curate.dssp import mkdssp_version
    from cryosse.curate.entry import curate_entry  # noqa: F401  (the import is what is measured)
    from cryosse.curate.settings import CurationSettings

    after = peak_rss_mib()
    return {
        "python_only_mib": before[0],
        "python_only_hwm_mib": before[1],
        "ru_maxrss_mib": after[0],
        "vmhwm_mib": after[1],
        "mkdssp": mkdssp_version(),
        "cryosse_version": cryosse.__version__,
        "settings": dataclasses.asdict(CurationSettings.from_config(SETTINGS_CONFIG)),
    }


def _map_box(path: str) -> tuple[list[int], list[float]]:
    """(nx, ny, nz) in spatial x/y/z order and the voxel size, from the MRC header only."""
    import warnings

    import mrcfile

    with warnings.catch_warnings():  # e.g. EMD-6374's zero machine stamp; read_map accepts it
        warnings.simplefilter("ignore")
        with mrcfile.open(path, mode="r", permissive=True, header_only=True) as mrc:
            h = mrc.header
            axes = [int(h.mapc), int(h.mapr), int(h.maps)]
            counts = [int(h.nx), int(h.ny), int(h.nz)]
            voxel = [float(mrc.voxel_size.x), float(mrc.voxel_size.y), float(mrc.voxel_size.z)]
    shape = [0, 0, 0]
    for count, axis in zip(counts, axes, strict=True):
        shape[axis - 1] = count
    return shape, voxel


def _curate_child(pair: dict[str, Any], samples_dir: str) -> dict[str, Any]:
    """Curate one pair; everything after `curate_entry` is bookkeeping for the table."""
    import traceback
    from dataclasses import asdict

    from cryosse.acquire.locate import LocatedEntry, LocatedModel
    from cryosse.core.ids import normalize_pdb_id
    from cryosse.curate.entry import curate_entry
    from cryosse.curate.settings import CurationSettings

    settings = CurationSettings.from_config(SETTINGS_CONFIG)
    located = LocatedEntry(
        pair["emdb_id"],
        "ok",
        resolution=pair["resolution"],
        map_path=pair["map_path"],
        map_sha256=pair["map_sha256"],
        models=[
            LocatedModel(
                normalize_pdb_id(pair["pdb_id"]),
                path=pair["model_path"],
                sha256=pair["model_sha256"],
            )
        ],
    )
    out: dict[str, Any] = {"error": None}
    start = time.perf_counter()
    try:
        result = curate_entry(located, settings, samples_dir)
    except Exception as exc:  # curate_entry should never raise; report it instead of dying
        out["wall_s"] = time.perf_counter() - start
        out["error"] = traceback.format_exception_only(exc)[-1].strip()
        out["ru_maxrss_mib"], out["vmhwm_mib"] = peak_rss_mib()
        return out
    out["wall_s"] = time.perf_counter() - start
    out["ru_maxrss_mib"], out["vmhwm_mib"] = peak_rss_mib()
    out["timings"] = {step: float(result.timings.get(step, 0.0)) for step in STEPS}
    out["samples"] = list(result.samples)
    out["rows"] = [asdict(row) for row in result.rows]

    # Figures for the table, taken after the measurement so that they do not count.
    try:
        out["map_shape_xyz"], out["voxel_size"] = _map_box(pair["map_path"])
    except Exception:  # an unreadable map is already an exclusion row of the curation
        out["map_shape_xyz"], out["voxel_size"] = None, None
    try:
        from cryosse.io.structure import protein_residues, read_model

        out["residues"] = len(protein_residues(read_model(pair["model_path"])))
    except Exception:
        out["residues"] = None
    return out


def _in_fresh_process(func: Any, *args: Any) -> dict[str, Any]:
    """Run func(*args) in a new spawned interpreter; a crashed child becomes an error dict."""
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(func, *args).result()
    except Exception as exc:
        return {"error": f"child process failed: {type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------------------- parent side --


def find_pairs(realdata: Path) -> list[dict[str, Any]]:
    """The documented primary (map, model) pairs of realdata, with their checksums."""
    pairs: list[dict[str, Any]] = []
    for entry, fit in primary_fits(realdata):
        map_path, model_path = entry.folder / fit.map_file, entry.folder / fit.model_file
        pairs.append(
            {
                "pair": f"{entry.emdb_id}/{entry.pdb_id.lower()}",
                "emdb_id": entry.emdb_id,
                "pdb_id": entry.pdb_id.lower(),
                "resolution": entry.resolution,
                "map_file": fit.map_file,
                "model_file": fit.model_file,
                "map_path": str(map_path),
                "model_path": str(model_path),
                "map_sha256": sha256_file(map_path),
                "model_sha256": sha256_file(model_path),
            }
        )
    return pairs


def machine() -> dict[str, Any]:
    facts = host_facts()
    facts.pop("cpu_flags")
    return facts


def measure(pair: dict[str, Any], repeat: int, workdir: Path, index: int) -> dict[str, Any]:
    """Curate one pair `repeat` times, each in a fresh process; medians of the times."""
    runs = []
    for rep in range(repeat):
        samples_dir = workdir / f"{index:02d}-{rep}" / "samples"
        runs.append(_in_fresh_process(_curate_child, pair, str(samples_dir)))
    good = [r for r in runs if r.get("error") is None and "timings" in r]
    first = good[0] if good else runs[0]
    row: dict[str, Any] = {
        **{
            k: pair[k]
            for k in ("pair", "emdb_id", "pdb_id", "resolution", "map_file", "model_file")
        },
        "runs": len(runs),
        "errors": [r["error"] for r in runs if r.get("error")],
        "map_shape_xyz": first.get("map_shape_xyz"),
        "voxel_size": first.get("voxel_size"),
        "residues": first.get("residues"),
        "samples": first.get("samples", []),
        "rows": first.get("rows", []),
    }
    # The run with the (lower) median wall time gives both wall and steps, so they add up.
    walls = [r["wall_s"] for r in runs if "wall_s" in r]
    row["wall_s_all"] = walls
    row["wall_s"] = statistics.median_low(walls) if walls else None
    median_run = next((r for r in good if r["wall_s"] == row["wall_s"]), None)
    row["timings"] = {step: median_run["timings"][step] if median_run else None for step in STEPS}
    rss = [r["ru_maxrss_mib"] for r in runs if r.get("ru_maxrss_mib") is not None]
    hwm = [r["vmhwm_mib"] for r in runs if r.get("vmhwm_mib") is not None]
    row["ru_maxrss_mib"] = max(rss) if rss else None
    row["vmhwm_mib"] = max(hwm) if hwm else None
    row["status"] = _status(row)
    return row


def _status(row: dict[str, Any]) -> str:
    if not row["rows"]:
        return "error: " + "; ".join(row["errors"] or ["no result"])
    entry = [r for r in row["rows"] if r["level"] == "entry"]
    if row["samples"]:
        return "kept"
    reason = entry[-1]["reason"] if entry else "?"
    return f"excluded ({reason})"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(figures: dict[str, Any]) -> str:
    m, base, pairs = figures["machine"], figures["baseline"], figures["pairs"]
    base_mib = base.get("ru_maxrss_mib")
    settings = ", ".join(f"{k}={v}" for k, v in figures["settings"].items())
    out = [
        "cryosse curation benchmark (benchmarks/curation.py)",
        f"machine : nproc={m['nproc']} (os.cpu_count={m['cpu_count']}), CPU: {m['cpu_model']}",
        f"python  : {m['python']} on {m['platform']}; cryosse {base.get('cryosse_version')}",
        f"mkdssp  : {base.get('mkdssp')}",
        f"data    : {figures['realdata']} ({len(pairs)} map/model pairs)",
        f"settings: CurationSettings({settings})",
        f"repeat  : {figures['repeat']} fresh process(es) per pair; wall and steps from the "
        "run with the median wall time, peak RSS the maximum",
        "baseline: child that only imports cryosse.curate.entry: "
        f"ru_maxrss {_fmt(base_mib, 1)} MiB "
        f"(bare interpreter {_fmt(base.get('python_only_mib'), 1)} MiB, its own VmHWM "
        f"{_fmt(base.get('python_only_hwm_mib'), 1)} MiB; "
        f"parent at spawn {_fmt(figures['parent_rss_mib'], 1)} MiB)",
        "",
    ]
    out.append(_pair_table(figures, base_mib))
    out.append("")
    share = figures["share_percent"]
    out.append(
        "share of total wall time: "
        + ", ".join(f"{k} {share[k]:.1f} %" for k in (*STEPS, "other"))
        + "  (other = fit checks, chain choice, residue table)"
    )
    notes = _exclusions(pairs)
    if notes:
        out += ["", "exclusions and errors (from EntryResult.rows):", *notes]
    return "\n".join(out)


def _pair_row(p: dict[str, Any], base_mib: float | None) -> list[str]:
    shape = "×".join(str(n) for n in p["map_shape_xyz"]) if p["map_shape_xyz"] else "-"
    vox = p["voxel_size"]
    vox_parts = [f"{v:.3f}" for v in vox] if vox else ["-"]
    vox_txt = vox_parts[0] if len(set(vox_parts)) == 1 else "/".join(vox_parts)
    rss = p["ru_maxrss_mib"]
    inc = None if rss is None or base_mib is None else rss - base_mib
    steps = p["timings"]
    other = None
    if p["wall_s"] is not None and all(steps[s] is not None for s in STEPS):
        other = p["wall_s"] - sum(steps[s] for s in STEPS)
    return [
        p["pair"],
        p["map_file"],
        p["model_file"],
        shape,
        vox_txt,
        "-" if p["residues"] is None else str(p["residues"]),
        str(len(p["samples"])),
        _fmt(p["wall_s"]),
        _fmt(rss, 1),
        _fmt(inc, 1),
        *(_fmt(steps[s]) for s in STEPS),
        _fmt(other),
        p["status"],
    ]


def _pair_table(figures: dict[str, Any], base_mib: float | None) -> str:
    """One row per pair, then the totals."""
    pairs = figures["pairs"]
    header = [
        "pair",
        "map",
        "model",
        "voxels nx×ny×nz",
        "Å/voxel",
        "residues",
        "kept",
        "wall s",
        "peak MiB",
        "+base MiB",
        *(f"{s} s" for s in STEPS),
        "other s",
        "status",
    ]
    body = [_pair_row(p, base_mib) for p in pairs]
    tot = figures["totals"]
    body.append(
        [
            f"total ({len(pairs)})",
            "",
            "",
            f"{tot['voxels']:,} vox",
            "",
            str(tot["residues"]),
            str(tot["samples"]),
            _fmt(tot["wall_s"]),
            _fmt(tot["max_ru_maxrss_mib"], 1),
            "",
            *(_fmt(tot["steps_s"][s]) for s in STEPS),
            _fmt(tot["other_s"]),
            "",
        ]
    )
    return "\n".join(text_table(header, body, left={0, 1, 2, len(header) - 1}, total=True))


def _exclusions(pairs: list[dict[str, Any]]) -> list[str]:
    """A line per error and per excluded entry or chain."""
    notes = []
    for p in pairs:
        for err in p["errors"]:
            notes.append(f"  {p['pair']} {p['map_file']}: ERROR {err}")
        for r in p["rows"]:
            if r["status"] == "excluded":
                where = "/".join(x for x in (r["pdb_id"], r["chain"]) if x)
                notes.append(
                    f"  {p['pair']} {p['map_file']}: {r['level']} {where or r['emdb_id']} "
                    f"excluded ({r['reason']}): {r['message']}"
                )
    return notes


def summarize(pairs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, float]]:
    steps_s = {s: sum(p["timings"][s] or 0.0 for p in pairs) for s in STEPS}
    wall = sum(p["wall_s"] or 0.0 for p in pairs)
    other = wall - sum(steps_s.values())
    rss = [p["ru_maxrss_mib"] for p in pairs if p["ru_maxrss_mib"] is not None]
    totals = {
        "wall_s": wall,
        "steps_s": steps_s,
        "other_s": other,
        "voxels": sum(
            p["map_shape_xyz"][0] * p["map_shape_xyz"][1] * p["map_shape_xyz"][2]
            for p in pairs
            if p["map_shape_xyz"]
        ),
        "residues": sum(p["residues"] or 0 for p in pairs),
        "samples": sum(len(p["samples"]) for p in pairs),
        "max_ru_maxrss_mib": max(rss) if rss else None,
    }
    share = {k: (100.0 * v / wall if wall else 0.0) for k, v in {**steps_s, "other": other}.items()}
    return totals, share


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_realdata_argument(parser)
    parser.add_argument(
        "--repeat", type=int, default=1, help="fresh processes per pair; median wall time"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    realdata = args.realdata.resolve()
    if not realdata.is_dir():
        parser.error(f"realdata folder not found: {realdata}")

    pairs = find_pairs(realdata)
    if not pairs:
        parser.error(f"no map/model pairs found in {realdata}")
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    baseline = _in_fresh_process(_baseline_child)
    if baseline.get("error"):
        print(f"baseline child failed: {baseline['error']}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cryosse-bench-") as tmp:
        rows = []
        for i, pair in enumerate(pairs):
            print(
                f"[{i + 1}/{len(pairs)}] {pair['pair']} {pair['map_file']} ...",
                file=sys.stderr,
                flush=True,
            )
            rows.append(measure(pair, args.repeat, Path(tmp), i))
    totals, share = summarize(rows)
    figures = {
        "machine": machine(),
        "realdata": str(realdata),
        "repeat": args.repeat,
        "settings": baseline["settings"],
        "parent_rss_mib": parent_rss,
        "baseline": baseline,
        "pairs": rows,
        "totals": totals,
        "share_percent": share,
    }
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(not p["errors"] for p in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
