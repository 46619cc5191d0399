"""Benchmark: `cryosse segment` against DeepSSETracer 1.1's inference scheme, side by side.

Maps: cubes of --sizes voxels (default 128, 256, 400) at 1 Å, made of real density: the EMD-6149
chain-X component map (../shared/realdata, 71 × 86 × 96 voxels, 76 % zero) mirrored
(numpy "symmetric" padding) until it fills the cube, written as MRC into a temporary folder.

Network: UNet3D with --base (default 8 on a CPU — the DeepSSETracer width is 64, about 25 s per
128³ forward on two cores; use --base 64 on a GPU), seeded random weights whose head is rescaled
so that each class logit is standardised over a 96³ crop of the map: the argmax then follows the
density and all three classes occur, which makes the agreement figures meaningful (a raw random
network predicts one class almost everywhere). --model uses a trained checkpoint instead.

Methods, each size, each in its own process (so that peak RSS, VmHWM, is per case):
    ours        cryosse.segment.predict.segment_map: normalise once over the whole map, tiles with
    the
                receptive-field overlap (44) and the blended window, tile side from
                --max-memory (default 4G), BatchNorm folded into the convolutions,
                inference_mode, fp32 on a CPU (bf16 autocast on a GPU).
    baseline    DeepSSETracer 1.1's scheme re-implemented from ../shared/notes/methods.md §3.2:
                ρ/max, negatives → 0, trailing all-zero planes trimmed, zero-padded by 1-8
                voxels to a multiple of 8, z-scored; if the largest side ≤ 120 one pass,
                else 120³ tiles at stride 120 with the last tile of each axis shifted back,
                each tile z-scored on its own, softmax, merged with the tent weight
                Π(1 − |i − 60| / 60), weighted average, argmax. Voxels whose weight sum is 0 (the
                tent is 0 at a tile's first plane) get probability 0, i.e. background. fp32,
                torch.no_grad, the network as trained (BatchNorm not folded), batch 1.
    ours-whole  the same as ours in one pass over the whole padded map (the reference "whole-map
                prediction" for ours), for sizes ≤ --whole-max
    base-whole  the baseline's single-pass path (whole-volume z-score, one forward) on the whole
                map, its own reference, for sizes ≤ --whole-max

Reported: seconds (reading the map to labels in memory; forward passes alone in brackets),
peak RSS (MiB) of the case's process and its increase over the process after imports, bytes
per map voxel of that increase, tiles and voxels computed per map voxel, and the agreement
(fraction of voxels with the same argmax class) of each method with its whole-map single pass.
The load average is printed before and after: the 2-core CPU here is shared, so the timings
are only comparable within one run.

    .venv/bin/python -m benchmarks.segment [--sizes 128 256 400] [--base 8] [--whole-max 256]
        [--max-memory 4G] [--threads 2] [--device cpu] [--model CKPT] [--json OUT]

--memory-sweep: only ours, at a fixed --max-memory (default 1G here) or --tile-size, each size
in its own process; prints peak RSS and its split into a fixed part (the network, the tile, the
process) and a part per map voxel, from a least-squares line through (voxels, peak increase) of
the sizes whose tiles have the same shape as the largest size's (a budget or tile side gives
each size the smallest tile that covers it, so sizes can differ). The per-voxel slope is what
the map-sized arrays cost; flat memory means it is small and the intercept bounded by the
budget. --tile-size 116 gives 256³ and 400³ the same 116³ tiles (3 and 5 per axis). --write:
ours also writes its output files (as the command line does), so that writing is measured too.

--real-maps: the shipped model (src/cryosse/models/default.pt, base 16, 2 Å network grid) with
default options and output files, as `cryosse segment MAP --out DIR` runs it, on EMD-5168 (the
full deposited map, 100³ at 1.742 Å) and EMD-8518 (chain A component, 55 × 81 × 91 at 1 Å),
each in its own process: "fixed MiB" is the RSS once torch is imported and the model loaded,
"+MiB" the peak over it and "B/vox" that increase per voxel of the 1 Å grid. What is left
over the fixed part is mostly the tile's forward (about 11 × base bytes per tile voxel, the
base-channel skip connection at full resolution) and, for a small map, torch's first-call
set-up. The figures measured so far are in docs/benchmarks.md.

--quick: sizes 64 and 136, base 4, a 64M budget (a smoke test: both methods tile at 136³; the
tiny budget forces 68³ tiles, 8 computed voxels per map voxel: small budgets cost speed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import torch

from benchmarks._harness import DEFAULT_REALDATA, host_facts, load_average, proc_status_kib
from cryosse.cli.segment import parse_memory
from cryosse.core.config import ModelSettings
from cryosse.io.density import read_map
from cryosse.learn.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from cryosse.learn.unet import UNet3D
from cryosse.segment.execution import SegmentOptions
from cryosse.segment.predict import segment_map

SOURCE_MAP = DEFAULT_REALDATA / "EMD-6149" / "X-1.0APIX.mrc.gz"
REAL_MAPS = {  # --real-maps: a full deposited map and a component map
    "EMD-5168 emd_5168": DEFAULT_REALDATA / "EMD-5168" / "emd_5168.map.gz",
    "EMD-8518 A-1.0APIX": DEFAULT_REALDATA / "EMD-8518" / "A-1.0APIX.mrc",
}
TILE = 120  # DeepSSETracer 1.1's tile side


def make_map(size: int, path: Path) -> None:
    data = read_map(SOURCE_MAP).data
    widths = [(0, max(0, size - n)) for n in data.shape]
    cube = np.pad(data, widths, mode="symmetric")[:size, :size, :size]
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(cube, dtype=np.float32))
        mrc.voxel_size = 1.0


def calibrated_checkpoint(base: int, map_path: Path, path: Path) -> None:
    """Seeded random weights, each class logit standardised over a 96³ crop (module docstring)."""
    from cryosse.learn.network_input import normalize_density

    torch.manual_seed(0)
    net = UNet3D(base=base).eval()
    crop, _ = normalize_density(read_map(map_path).data[:96, :96, :96])
    with torch.no_grad():
        logits = net(torch.from_numpy(crop)[None, None])[0].flatten(1)
        mean, std = logits.mean(dim=1), logits.std(dim=1)
        net.head.weight.copy_(net.head.weight / std[:, None, None, None, None] * 3)
        net.head.bias.copy_((net.head.bias - mean) / std * 3)
    save_checkpoint(
        make_checkpoint(net.state_dict(), ModelSettings(base=base), {"epoch": 0, "metric": 0.0}),
        path,
    )


# --- the baseline: DeepSSETracer 1.1's inference scheme (methods.md §3.2) -------------------


def _zscore(x: np.ndarray) -> np.ndarray:
    return ((x - x.mean()) / (x.std() + 1e-7)).astype(np.float32)


def _tile_starts(n: int) -> list[int]:
    starts = list(range(0, n, TILE))
    if starts[-1] + TILE > n:
        starts[-1] = n - TILE  # the last tile is shifted back so that it is full
    return sorted(set(starts))


def _tent() -> np.ndarray:
    c = TILE / 2
    return (1 - np.abs(np.arange(TILE) - c) / c).astype(np.float32)


def baseline_predict(
    model: UNet3D, data: np.ndarray, device: torch.device, whole: bool = False
) -> tuple[np.ndarray, dict[str, Any]]:
    forward = 0.0
    m = data / data.max()
    m[m < 0] = 0
    # trim trailing all-zero planes at the high end of each axis
    keep = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        nonzero = np.flatnonzero(m.any(axis=other))
        keep.append(int(nonzero[-1]) + 1 if len(nonzero) else 1)
    m = m[: keep[0], : keep[1], : keep[2]]
    m = np.pad(m, [(0, 8 - n % 8) for n in m.shape])  # always 1-8 voxels
    m = _zscore(m)
    labels = np.zeros(data.shape, dtype=np.int8)
    tiles = 1
    if whole or max(m.shape) <= TILE:
        started = time.perf_counter()
        with torch.no_grad():
            logits = model(torch.from_numpy(m)[None, None].to(device))[0]
        forward += time.perf_counter() - started
        pred = logits.argmax(dim=0).cpu().numpy().astype(np.int8)
        computed = m.size
    else:
        probs = np.zeros((3, *m.shape), dtype=np.float32)
        weight = np.zeros(m.shape, dtype=np.float32)
        tent = _tent()
        w3 = tent[:, None, None] * tent[None, :, None] * tent[None, None, :]
        starts = [_tile_starts(n) for n in m.shape]
        tiles = 0
        for z in starts[0]:
            for y in starts[1]:
                for x in starts[2]:
                    tile = _zscore(m[z : z + TILE, y : y + TILE, x : x + TILE])
                    started = time.perf_counter()
                    with torch.no_grad():
                        p = (
                            torch.softmax(
                                model(torch.from_numpy(tile)[None, None].to(device)), dim=1
                            )[0]
                            .cpu()
                            .numpy()
                        )
                    forward += time.perf_counter() - started
                    region = (slice(z, z + TILE), slice(y, y + TILE), slice(x, x + TILE))
                    probs[(slice(None), *region)] += p * w3
                    weight[region] += w3
                    tiles += 1
        np.divide(probs, weight, out=probs, where=weight > 0)
        probs[:, weight == 0] = 0.0
        pred = probs.argmax(axis=0).astype(np.int8)
        computed = tiles * TILE**3
    n = [min(a, b) for a, b in zip(data.shape, pred.shape, strict=True)]
    labels[: n[0], : n[1], : n[2]] = pred[: n[0], : n[1], : n[2]]
    return labels, {
        "tiles": tiles,
        "forward_s": forward,
        "computed_voxels": computed,
        "tile": "whole" if tiles == 1 else f"{TILE}³",
    }


# --- one case per process -----------------------------------------------------------------


def run_real_case(args: argparse.Namespace) -> None:
    """`cryosse segment MAP --out DIR` with the shipped model and default options, in this
    process: the fixed part is the RSS once torch is imported and the model loaded."""
    from cryosse.segment.checks import resolve_model

    torch.set_num_threads(args.threads)
    checkpoint, _ = resolve_model(None)
    rss_start = proc_status_kib("VmRSS") or 0
    started = time.perf_counter()
    options = SegmentOptions(device=args.device, threads=args.threads)
    result = segment_map(args.map, Path(args.labels), checkpoint, options)
    seconds = time.perf_counter() - started
    tiling = result.summary["tiling"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mib": (proc_status_kib("VmHWM") or 0) / 1024,
                "rss_start_mib": rss_start / 1024,
                "voxels": int(result.labels.size),
                "tiles": tiling["tiles"],
                "tile": "x".join(map(str, tiling["tile_shape_zyx"])),
                "estimated_tile_mib": round(tiling["estimated_tile_bytes"] / 2**20),
            }
        )
    )


def real_maps(args: argparse.Namespace) -> None:
    """--real-maps: the shipped model on real maps, each in its own process (docstring)."""
    facts = host_facts()
    print(
        f"host: {facts['cpu_model']}, {facts['nproc']} usable cores, torch {torch.__version__}, "
        f"{args.threads} threads, device {args.device}"
    )
    print(f"load average before: {load_average()}")
    print(
        f"  {'map':<24} {'1 Å voxels':>10} {'tile':>11} {'seconds':>8} {'fixed MiB':>9} "
        f"{'peak MiB':>9} {'+MiB':>6} {'B/vox':>6}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryosse-bench-") as tmp:
        for name, path in REAL_MAPS.items():
            command = [
                sys.executable,
                __file__,
                "--case",
                "real",
                "--map",
                str(path),
                "--labels",
                str(Path(tmp) / name),
                "--threads",
                str(args.threads),
                "--device",
                args.device,
            ]
            run = subprocess.run(command, capture_output=True, text=True, timeout=args.case_timeout)
            if run.returncode != 0:
                print(f"  {name:<24} failed ({run.returncode}): {run.stderr.strip()[-300:]}")
                continue
            res = json.loads(run.stdout.strip().splitlines()[-1])
            increase = res["peak_rss_mib"] - res["rss_start_mib"]
            rows.append({"map": name, **res})
            print(
                f"  {name:<24} {res['voxels']:>10} {res['tile']:>11} {res['seconds']:>8.1f} "
                f"{res['rss_start_mib']:>9.0f} {res['peak_rss_mib']:>9.0f} {increase:>6.0f} "
                f"{increase * 2**20 / res['voxels']:>6.0f}"
            )
    print(f"load average after: {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"host": facts, "rows": rows}, indent=2) + "\n")


def run_case(args: argparse.Namespace) -> None:
    if args.case == "real":
        run_real_case(args)
        return
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rss_start = proc_status_kib("VmRSS") or 0
    started = time.perf_counter()
    if args.case in ("ours", "ours-whole"):
        out_dir = Path(args.labels).with_suffix(".out") if args.write else None
        options = SegmentOptions(
            device=args.device,
            max_memory=parse_memory(args.max_memory),
            threads=args.threads,
            tile_size=100000 if args.case == "ours-whole" else args.tile_size,
            progress=args.progress,
        )
        result = segment_map(args.map, out_dir, args.checkpoint, options)
        labels, tiling = result.labels, result.summary["tiling"]
        info = {
            "tiles": tiling["tiles"],
            "forward_s": result.summary["timings_s"]["forward"],
            "computed_voxels": tiling["computed_voxels"],
            "tile": "x".join(map(str, tiling["tile_shape_zyx"])),
            "estimated_tile_mib": round(tiling["estimated_tile_bytes"] / 2**20),
        }
    else:
        model = load_checkpoint(args.checkpoint).model.to(device).eval()
        data = read_map(args.map).data
        labels, info = baseline_predict(model, data, device, whole=args.case == "base-whole")
    seconds = time.perf_counter() - started
    np.save(args.labels, labels)
    peak = (proc_status_kib("VmHWM") or 0) if device.type == "cpu" else 0
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mib": peak / 1024,
                "rss_start_mib": rss_start / 1024,
                "gpu_peak_mib": gpu_peak,
                "voxels": int(labels.size),
                **info,
            }
        )
    )


def _spawn(
    case: str, map_path: Path, checkpoint: Path, labels: Path, args: argparse.Namespace
) -> dict[str, Any] | str:
    command = [
        sys.executable,
        __file__,
        "--case",
        case,
        "--map",
        str(map_path),
        "--checkpoint",
        str(checkpoint),
        "--labels",
        str(labels),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--max-memory",
        args.max_memory,
    ]
    if args.tile_size:
        command += ["--tile-size", str(args.tile_size)]
    if args.write:
        command.append("--write")
    run = subprocess.run(command, capture_output=True, text=True, timeout=args.case_timeout)
    if run.returncode != 0:
        return f"failed ({run.returncode}): {run.stderr.strip().splitlines()[-1:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 400])
    parser.add_argument("--base", type=int, default=8)
    parser.add_argument("--whole-max", type=int, default=256)
    parser.add_argument("--max-memory", default="4G")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", help="a trained checkpoint instead of calibrated weights")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case-timeout", type=int, default=3600)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--memory-sweep", action="store_true")
    parser.add_argument("--real-maps", action="store_true")
    parser.add_argument("--tile-size", type=int, help="ours: a fixed tile side (else the budget)")
    parser.add_argument("--write", action="store_true", help="ours also writes its output files")
    # one case (child process)
    parser.add_argument("--case")
    parser.add_argument("--map")
    parser.add_argument("--checkpoint")
    parser.add_argument("--labels")
    return parser


def _measure_size(size: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every method on one size, each in its own process; agreement with the whole passes."""
    map_path = work / f"map{size}.mrc"
    make_map(size, map_path)
    checkpoint = Path(args.model) if args.model else work / f"model{size}.pt"
    if not args.model:
        calibrated_checkpoint(args.base, map_path, checkpoint)
    cases = ["ours", "baseline"]
    if size <= args.whole_max:
        cases += ["ours-whole", "base-whole"]
    results: dict[str, Any] = {}
    for case in cases:
        results[case] = _spawn(case, map_path, checkpoint, work / f"{case}{size}.npy", args)
    labels = {c: np.load(work / f"{c}{size}.npy") for c in cases if isinstance(results[c], dict)}
    for case in ("ours", "baseline"):
        ref = "ours-whole" if case == "ours" else "base-whole"
        res = results[case]
        if isinstance(res, dict) and case in labels and ref in labels:
            res["agreement"] = float((labels[case] == labels[ref]).mean())
        if isinstance(res, dict) and case in labels:
            res["classes"] = np.bincount(labels[case].ravel(), minlength=3).tolist()
    _print_size(size, results)
    for path in work.glob(f"*{size}.npy"):
        path.unlink()
    map_path.unlink()
    return {"size": size, **{c: results[c] for c in cases}}


def main() -> None:
    args = _parser().parse_args()
    if args.case:
        run_case(args)
        return
    if args.quick:
        args.sizes, args.base, args.max_memory, args.whole_max = [64, 136], 4, "64M", 136
    if args.memory_sweep:
        memory_sweep(args)
        return
    if args.real_maps:
        real_maps(args)
        return

    facts = host_facts()
    print(
        f"host: {facts['cpu_model']}, {facts['nproc']} usable cores, torch "
        f"{torch.__version__}, {args.threads} threads, device {args.device}"
    )
    print(f"load average before: {load_average()}")
    print(
        f"network: UNet3D base {args.base}, depth 2 "
        f"({'checkpoint ' + args.model if args.model else 'calibrated random weights'}); "
        f"ours: --max-memory {args.max_memory}"
    )
    with tempfile.TemporaryDirectory(prefix="cryosse-bench-") as tmp:
        rows = [_measure_size(size, Path(tmp), args) for size in args.sizes]
    print(f"load average after: {load_average()}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"host": facts, "args": vars(args), "rows": rows}, indent=2) + "\n"
        )


def memory_sweep(args: argparse.Namespace) -> None:
    """Ours alone at one fixed budget over the sizes (module docstring, --memory-sweep)."""
    if args.max_memory == "4G":  # the comparison's default: a fixed sweep uses a small budget
        args.max_memory = "1G"
    print(f"load average before: {load_average()}")
    print(
        f"memory sweep: ours only, UNet3D base {args.base}, --max-memory {args.max_memory}, "
        f"--tile-size {args.tile_size or '(from the budget)'}, "
        f"{'outputs written' if args.write else 'no output files'}, {args.threads} threads, "
        f"device {args.device}"
    )
    print(
        f"  {'size':>5} {'seconds':>8} {'tiles':>6} {'tile':>11} {'est. tile MiB':>13} "
        f"{'fixed MiB':>9} {'peak MiB':>9} {'+MiB':>7} {'B/vox':>6}"
    )
    points: list[tuple[int, float, str]] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryosse-bench-") as tmp:
        work = Path(tmp)
        for size in args.sizes:
            map_path, checkpoint = work / f"map{size}.mrc", work / f"model{size}.pt"
            make_map(size, map_path)
            calibrated_checkpoint(args.base, map_path, checkpoint)
            res = _spawn("ours", map_path, checkpoint, work / f"ours{size}.npy", args)
            map_path.unlink()
            shutil.rmtree(work / f"ours{size}.out", ignore_errors=True)
            if not isinstance(res, dict):
                print(f"  {size:>5} {res}")
                continue
            increase = res["peak_rss_mib"] - res["rss_start_mib"]
            points.append((res["voxels"], increase * 2**20, res["tile"]))
            rows.append({"size": size, **res})
            print(
                f"  {size:>5} {res['seconds']:>8.1f} {res['tiles']:>6} {res['tile']:>11} "
                f"{res['estimated_tile_mib']:>13} {res['rss_start_mib']:>9.0f} "
                f"{res['peak_rss_mib']:>9.0f} "
                f"{increase:>7.0f} {increase * 2**20 / res['voxels']:>6.1f}"
            )
    same = [(v, p) for v, p, tile in points if points and tile == points[-1][2]]
    if len(same) >= 2:
        voxels, peak = (np.array(v, dtype=np.float64) for v in zip(*same, strict=True))
        slope, intercept = np.polyfit(voxels, peak, 1)
        print(
            f"  fit over the {len(same)} sizes with {points[-1][2]} tiles: peak increase = "
            f"{intercept / 2**20:.0f} MiB (tile, network, process) + {slope:.1f} B per map "
            f"voxel (map-sized arrays)"
        )
    else:
        print("  no fit: fewer than two sizes share the largest size's tile shape")
    print(f"load average after: {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")


def _print_size(size: int, results: dict[str, Any]) -> None:
    print(f"\n{size}³ ({size**3 / 1e6:.1f} M voxels)")
    print(
        f"  {'method':<11} {'seconds':>16} {'peak MiB':>9} {'+MiB':>7} {'B/vox':>6} "
        f"{'tiles':>6} {'tile':>11} {'comp/vox':>8} {'agreement':>10}"
    )
    for case, res in results.items():
        if not isinstance(res, dict):
            print(f"  {case:<11} {res}")
            continue
        increase = res["peak_rss_mib"] - res["rss_start_mib"]
        agreement = f"{res['agreement'] * 100:.4f}%" if "agreement" in res else "-"
        print(
            f"  {case:<11} {res['seconds']:>7.1f} ({res['forward_s']:>6.1f}) "
            f"{res['peak_rss_mib']:>9.0f} {increase:>7.0f} "
            f"{increase * 2**20 / res['voxels']:>6.0f} {res['tiles']:>6} {res['tile']:>11} "
            f"{res['computed_voxels'] / res['voxels']:>8.2f} {agreement:>10}"
        )
    ours, base = results.get("ours"), results.get("baseline")
    if isinstance(ours, dict) and isinstance(base, dict):
        print(
            f"  speed-up ours vs baseline: {base['seconds'] / ours['seconds']:.2f}× total, "
            f"{base['forward_s'] / ours['forward_s']:.2f}× forward; classes ours "
            f"{ours.get('classes')}, baseline {base.get('classes')}"
        )


if __name__ == "__main__":
    main()
