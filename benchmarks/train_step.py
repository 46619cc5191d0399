"""Benchmark: one U-Net training step, the fp32 reference path against the optimised paths.

A training step is `cryosse.learn.training.train_step`, the function `train_run` calls per batch
(timed
here as it is, not a copy): forward pass of
`UNet3D` (default base = 64, depth = 2: the 4.59 M-parameter DeepSSETracer network), the FL_DL
loss (`SegmentationLoss("FL_DL", gamma=2)`) over the central box of the crop (the crop minus
17 voxels per side, clipped so that it is never empty), backward pass, Adam step. Every
configuration starts from the same seeded weights and trains on the same seeded input: a
Gaussian-noise density and labels that are a function of it (helix where the density is
> 0.8, sheet where it is < -0.8, background elsewhere), so the network has something to learn.

Measured side by side, per box size (--sizes, default 64 and 112):

    (a) reference     eager fp32, batch 1, channels-first (the default path on CPU)
    (b) bf16          bf16 autocast (Device.amp), batch 1
    (c) bf16+CL       (b) + channels_last_3d model and input
    (d) bf16+CL+comp  (c) + torch.compile; on by default on a GPU, off on a CPU (--compile
                      turns it on); a compile that fails or runs past --compile-timeout is
                      skipped with the reason printed
    (e) batched       the fastest of (b)-(d) at that size with batch 2 (CPU) or 4 (GPU)

On a CPU, to keep the default run near ten minutes, sizes after the first (112³) get only (a)
and the fastest batch-1 configuration of the first size, no (e); --all-configs measures every
configuration at every size (the default on a GPU).

On a GPU every optimised configuration also runs with cudnn.benchmark = True (the reference
with False). Per configuration: the first step (compile, autotuning, allocator warm-up), then
--warmup untimed and --steps timed steps; reported are the median step time, voxels per second
(batch × size³ / median step time), the speed-up in voxels/s over the reference, the loss of
the first step and the peak memory. Peak memory on a GPU is torch.cuda.max_memory_allocated,
reset per configuration; on a CPU it is the process's peak resident set (VmHWM, reset per
configuration through /proc/self/clear_refs) and its increase over the RSS when the
configuration started. Where VmHWM cannot be reset, ru_maxrss is shown instead, labelled as
the peak of the whole process so far.

Loss curves: a short training of the reference (fp32) and of the optimised path (bf16 +
channels_last_3d, + compile where compile is on and worked) from the same initial weights
(a copied state_dict), the same seeds and the same fixed batch, printed side by side with the
largest relative difference: the optimised path must learn the same thing. CPU: 48³, base 16,
15 steps; GPU: 112³, the full network, 50 steps. Twice: with dropout 0, where the two curves
differ only by the arithmetic, and with the network's dropout 0.5, where the dropout masks
also differ (the same seed draws different masks for a channels_last tensor).

Cost of the full grid: 33 runs × --epochs (default 100) × (1,246 training steps of one 112³
crop + 47 whole ~112³ validation boxes, one prediction each by the package's `predict_box`, in
the optimised eager configuration that `validate` uses; after one warm-up, the median of
--steps forwards, at most 5, on a GPU, one on a CPU). The training step is the fastest
batch-1 optimised configuration at 112³ (a measurement at another size is scaled by the voxel
count, and said so). Measured on a CPU, the estimate is printed in CPU-hours on this machine;
the GPU figure is then derived from the project brief's "one H100: 31 ms per 112³ training
step in bf16", which this script did not measure. Early stopping (patience 10) can only
shorten the runs: the estimate is for every run going to --epochs.

Run from the repository root (CUDA when available, else CPU):

    .venv/bin/python -m benchmarks.train_step [--quick] [--sizes 64 112] [--warmup N]
        [--steps N] [--base 64] [--batch N] [--compile | --no-compile] [--all-configs]
        [--epochs 100] [--json OUT]

--quick is a smoke test (base 8, sizes 32 and 48, 1 + 2 steps, short curves). The load average
printed with the results says whether other processes were competing for the cores. A 112³
step of the full network needs 5-8 GiB of RAM. Run times and results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import json
import math
import os
import platform
import resource
import signal
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmarks._harness import host_facts, load_average, proc_status_kib, text_table
from cryosse.learn.augment import Box
from cryosse.learn.device import Device
from cryosse.learn.losses import SegmentationLoss
from cryosse.learn.predict import predict_box
from cryosse.learn.training import seed_everything, train_step
from cryosse.learn.unet import UNet3D, count_parameters

SEED = 0
LR = 1e-3  # the largest learning rate of the grid: the loss curve moves within a few steps
PADDING = 17  # voxels per side outside the central box (the 17 Å padding at 1 Å/voxel)
GRID_RUNS = 33
TRAIN_BOXES = 1246
VAL_BOXES = 47
GRID_SIZE = 112
H100_STEP_S = 0.031  # project brief: "one H100: 31 ms per 112³ training step in bf16"


@dataclass(frozen=True)
class Config:
    key: str
    name: str
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    batch: int = 1
    cudnn_benchmark: bool = False


# ------------------------------------------------------------------------------ helpers --


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class _CompileTimeout(Exception):
    pass


_TIMED_OUT: list[float] = []  # set by the alarm: torch may wrap the exception it raises


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise _CompileTimeout after `seconds` (main thread, where SIGALRM exists)."""
    _TIMED_OUT.clear()
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        _TIMED_OUT.append(seconds)
        raise _CompileTimeout(f"first compiled step ran past --compile-timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _why(error: BaseException) -> str:
    if _TIMED_OUT:
        return f"first compiled step ran past --compile-timeout {_TIMED_OUT[0]:g} s"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


class PeakMemory:
    """Peak memory of one configuration, in MiB (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start = 0.0
        self.kind = ""

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated() / 2**20
            self.kind = "cuda max_memory_allocated"
            return
        rss = proc_status_kib("VmRSS")
        self.start = rss / 1024 if rss is not None else 0.0
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")  # resets VmHWM to the current RSS
            self.kind = "VmHWM (peak RSS, reset per config)"
        except OSError:
            self.kind = "ru_maxrss (peak RSS of the whole process so far)"

    def peak(self) -> tuple[float, float]:
        """(peak, peak - value at reset), MiB."""
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
        elif self.kind.startswith("VmHWM"):
            peak = (proc_status_kib("VmHWM") or 0) / 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak - self.start


def machine(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_start": load_average(),
    }
    host = host_facts()
    info["cpu_model"] = host["cpu_model"]
    wanted = ("avx512_bf16", "amx_bf16", "amx_tile")
    info["cpu_bf16_flags"] = [f for f in host["cpu_flags"] if f in wanted]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["gpu_capability"] = f"{props.major}.{props.minor}"
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


# --------------------------------------------------------------------------- the inputs --


def central_mask(size: int) -> torch.Tensor:
    """The central box of a size³ crop: PADDING voxels off each side, at least one voxel."""
    margin = min(PADDING, (size - 1) // 2)
    mask = torch.zeros((size, size, size), dtype=torch.bool)
    mask[margin : size - margin, margin : size - margin, margin : size - margin] = True
    return mask


def make_data(size: int, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(density [B,1,S,S,S] float32, labels [B,S,S,S] int64, mask [B,S,S,S] bool), seeded;
    the first map is the same whatever the batch size."""
    generator = torch.Generator().manual_seed(SEED)
    x = torch.randn((batch, 1, size, size, size), generator=generator)
    y = torch.zeros((batch, size, size, size), dtype=torch.int64)
    y[x[:, 0] > 0.8] = 1
    y[x[:, 0] < -0.8] = 2
    mask = central_mask(size).expand(batch, -1, -1, -1).contiguous()
    return x, y, mask


def _prepare(
    cfg: Config,
    base: int,
    device: torch.device,
    state: dict[str, Any] | None = None,
    dropout: float = 0.5,
):
    seed_everything(SEED)
    model = UNet3D(base=base, dropout=dropout).to(device)
    if state is not None:
        model.load_state_dict(state)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    step_fn = torch.compile(model) if cfg.compile else model
    return model, optimizer, step_fn


def _inputs(cfg: Config, data, device: torch.device):
    x, y, m = (t[: cfg.batch].to(device) for t in data)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x, y, m


def _train_step(step_fn, optimizer, loss_fn, x, y, m, cfg: Config, device) -> torch.Tensor:
    """The training's own step (cryosse.learn.training.train_step), in this configuration."""
    arithmetic = Device(device, autocast=cfg.bf16, channels_last=cfg.channels_last)
    return torch.tensor(train_step(step_fn, optimizer, loss_fn, (x, y, m), arithmetic))


# ------------------------------------------------------------------------- measurements --


def measure_config(
    cfg: Config,
    size: int,
    base: int,
    data,
    device: torch.device,
    warmup: int,
    steps: int,
    compile_timeout: float | None,
) -> dict[str, Any]:
    """Time one configuration: first step, `warmup` untimed steps, `steps` timed steps."""
    row: dict[str, Any] = {"config": asdict(cfg), "size": size}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
    meter = PeakMemory(device)
    _free(device)
    meter.reset()
    model, optimizer, step_fn = _prepare(cfg, base, device)
    loss_fn = SegmentationLoss("FL_DL", gamma=2.0)
    x, y, m = _inputs(cfg, data, device)
    model.train()
    try:
        started = time.perf_counter()
        with _time_limit(compile_timeout if cfg.compile else None):
            first_loss = _train_step(step_fn, optimizer, loss_fn, x, y, m, cfg, device)
            _sync(device)
        row["first_step_s"] = time.perf_counter() - started
        row["first_loss"] = float(first_loss)
        for _ in range(warmup):
            _train_step(step_fn, optimizer, loss_fn, x, y, m, cfg, device)
        _sync(device)
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            loss = _train_step(step_fn, optimizer, loss_fn, x, y, m, cfg, device)
            _sync(device)
            times.append(time.perf_counter() - started)
        row["step_times_s"] = times
        row["median_step_s"] = statistics.median(times)
        row["voxels_per_s"] = cfg.batch * size**3 / row["median_step_s"]
        row["last_loss"] = float(loss)
        row["peak_mib"], row["peak_increase_mib"] = meter.peak()
        row["memory_kind"] = meter.kind
        if not math.isfinite(row["last_loss"]):
            row["note"] = "non-finite loss"
    except Exception as error:  # a compile that fails, or any config that cannot run
        if not cfg.compile:
            raise
        row["skipped"] = _why(error)
    finally:
        del model, optimizer, step_fn, x, y, m
        if cfg.compile:
            torch._dynamo.reset()
        _free(device)
    return row


def measure_inference(
    cfg: Config, size: int, base: int, device: torch.device, repeats: int
) -> dict[str, Any]:
    """One eval-mode prediction of a size³ box as `validate` makes it: the package's
    `predict_box` (eager, no compile)."""
    cfg = replace(cfg, compile=False, batch=1)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
    _free(device)
    model, optimizer, _ = _prepare(cfg, base, device)
    x, y, m = make_data(size, 1)
    box = Box("benchmark", x[0, 0].numpy(), y[0].numpy(), m[0].numpy(), zero_level=0.0)
    arithmetic = Device(device, autocast=cfg.bf16, channels_last=cfg.channels_last)
    times = []
    for i in range(repeats + 1):
        started = time.perf_counter()
        predict_box(model, box, arithmetic)
        _sync(device)
        if i:  # the first forward is the warm-up
            times.append(time.perf_counter() - started)
    del model, optimizer, box
    _free(device)
    return {
        "config": asdict(cfg),
        "size": size,
        "times_s": times,
        "median_s": statistics.median(times),
    }


def loss_curves(
    reference: Config,
    optimised: Config,
    size: int,
    base: int,
    steps: int,
    dropout: float,
    device: torch.device,
    compile_timeout: float | None,
) -> dict[str, Any]:
    """Train both configs from the same weights on the same fixed batch; both loss curves."""
    seed_everything(SEED)
    state = copy.deepcopy(UNet3D(base=base).state_dict())
    data = make_data(size, 1)
    loss_fn = SegmentationLoss("FL_DL", gamma=2.0)
    curves: dict[str, list[float]] = {}
    note = ""

    def train(cfg: Config) -> list[float]:
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
        _free(device)
        model, optimizer, step_fn = _prepare(cfg, base, device, state, dropout)
        x, y, m = _inputs(cfg, data, device)
        model.train()
        seed_everything(
            SEED + 1
        )  # the same dropout draws (the masks still depend on the memory format)
        try:
            losses = []
            for i in range(steps):
                with _time_limit(compile_timeout if cfg.compile and i == 0 else None):
                    loss = _train_step(step_fn, optimizer, loss_fn, x, y, m, cfg, device)
                losses.append(float(loss))
            return losses
        finally:
            del model, optimizer, step_fn, x, y, m
            if cfg.compile:
                torch._dynamo.reset()
            _free(device)

    curves["reference"] = train(reference)
    try:
        curves["optimised"] = train(optimised)
    except Exception as error:
        if not optimised.compile:
            raise
        note = f"compile failed ({_why(error)}); optimised curve without compile"
        optimised = replace(optimised, compile=False, name=optimised.name.replace("+comp", ""))
        curves["optimised"] = train(optimised)
    ref, opt = curves["reference"], curves["optimised"]
    rel = [abs(a - b) / abs(a) if a else math.inf for a, b in zip(ref, opt, strict=True)]
    return {
        "size": size,
        "base": base,
        "steps": steps,
        "lr": LR,
        "dropout": dropout,
        "reference": asdict(reference),
        "optimised": asdict(optimised),
        "reference_losses": ref,
        "optimised_losses": opt,
        "max_relative_difference": max(rel),
        "relative_difference": rel,
        "note": note,
    }


def grid_estimate(step_s: float, infer_s: float, epochs: int, batch: int = 1) -> dict[str, float]:
    """Hours for the whole grid: GRID_RUNS × epochs × (training steps + validation forwards)."""
    train_steps = math.ceil(TRAIN_BOXES / batch)
    per_epoch = train_steps * step_s + VAL_BOXES * infer_s
    return {
        "step_s": step_s,
        "infer_s": infer_s,
        "batch": batch,
        "train_steps": train_steps,
        "epoch_s": per_epoch,
        "hours": GRID_RUNS * epochs * per_epoch / 3600,
    }


# ------------------------------------------------------------------------------- report --


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{round(value):,}"


def _hours(h: float) -> str:
    return f"{h:,.1f} h ({h / 24:,.1f} days)"


def _machine_lines(info: dict[str, Any]) -> list[str]:
    out = [f"device: {info['device']}; torch {info['torch']}, python {info['python']}"]
    if "gpu" in info:
        out.append(
            f"GPU: {info['gpu']} ({info['gpu_memory_gib']} GiB, capability "
            f"{info['gpu_capability']}), CUDA {info['cuda']}, cuDNN {info['cudnn']}"
        )
    out.append(
        f"CPU: {info['cpu_model']}, {info['cpu_count']} logical cores, torch threads "
        f"{info['torch_threads']}, capability {info['cpu_capability']}, bf16 flags: "
        f"{', '.join(info['cpu_bf16_flags']) or 'none'}"
    )
    if info["load_average_start"] is not None:
        out.append(
            f"load average (1, 5, 15 min): {info['load_average_start']} at start, "
            f"{info.get('load_average_end')} at end; this run adds about {info['torch_threads']} "
            f"itself, more is other processes competing for the {info['cpu_count']} cores "
            "(times inflated)"
        )
    return out


def _step_row(size: int, r: dict[str, Any], ref: dict[str, Any] | None) -> list[str]:
    c = r["config"]
    if "skipped" in r:
        return [f"{size}³", c["name"], str(c["batch"]), *["-"] * 7, "skipped: " + r["skipped"]]
    speed = r["voxels_per_s"] / ref["voxels_per_s"] if ref else math.nan
    return [
        f"{size}³",
        c["name"],
        str(c["batch"]),
        f"{r['first_step_s']:.3f}",
        f"{r['median_step_s']:.3f}",
        f"{r['voxels_per_s']:,.0f}",
        f"{speed:.2f}x",
        _mib(r["peak_mib"]),
        _mib(r["peak_increase_mib"]),
        f"{r['first_loss']:.4f}",
        r.get("note", "ok"),
    ]


def _step_lines(figures: dict[str, Any]) -> list[str]:
    """The step table, then the fastest configuration of each size against the target."""
    header = ["size", "config", "batch", "first s", "median s", "voxels/s", "speed-up"]
    header += ["peak MiB", "+MiB", "loss 1st", "status"]
    body = []
    for size, rows in figures["steps"].items():
        ref = next((r for r in rows if r["config"]["key"] == "a" and "skipped" not in r), None)
        body += [_step_row(size, r, ref) for r in rows]
    out = text_table(header, body, left={1, 10})
    kinds = {r.get("memory_kind") for rows in figures["steps"].values() for r in rows}
    out.append(
        f"peak memory: {', '.join(sorted(k for k in kinds if k))}; +MiB = over the value "
        "when the config started"
    )
    out.append("")
    best = figures["best"]
    for size, b in best.items():
        batched = b["batched_speedup"]
        out.append(
            f"{size}³: fastest optimised batch-1 config {b['name']!r}: {b['speedup']:.2f}x the "
            f"reference's voxels/s; batched: "
            + ("not measured" if math.isnan(batched) else f"{batched:.2f}x")
        )
    target = "GPU target: optimised >= 3x the reference's voxels/s"
    if figures["machine"]["device"].startswith("cuda"):
        top = max((b["best_speedup"] for b in best.values()), default=math.nan)
        out.append(f"{target}: best {top:.2f}x -> {'met' if top >= 3 else 'NOT met'}")
    else:
        out.append(f"{target} (not assessed: measured on a CPU)")
    return out


def _curve_lines(curves: list[dict[str, Any]]) -> list[str]:
    first = curves[0]
    out = [
        f"loss curves: {first['size']}³, base {first['base']}, {first['steps']} steps of Adam "
        f"lr {first['lr']:g} on one fixed batch, same initial weights and seeds; "
        f"reference {first['reference']['name']!r} vs optimised {first['optimised']['name']!r}"
    ]
    header, columns = ["step"], []
    for curve in curves:
        if curve["note"]:
            out.append(f"note (dropout {curve['dropout']:g}): {curve['note']}")
        tag = f"p={curve['dropout']:g}"
        header += [f"ref {tag}", f"opt {tag}", "rel. diff"]
        columns += [
            [f"{v:.5f}" for v in curve["reference_losses"]],
            [f"{v:.5f}" for v in curve["optimised_losses"]],
            [f"{100 * v:.2f} %" for v in curve["relative_difference"]],
        ]
    rows = [[str(i + 1), *(c[i] for c in columns)] for i in range(len(columns[0]))]
    out += text_table(header, rows, left=set())
    for curve in curves:
        out.append(
            f"dropout {curve['dropout']:g}: max relative difference "
            f"{100 * curve['max_relative_difference']:.2f} %; loss "
            f"{curve['reference_losses'][0]:.4f} -> {curve['reference_losses'][-1]:.4f} "
            f"(reference), {curve['optimised_losses'][0]:.4f} -> "
            f"{curve['optimised_losses'][-1]:.4f} (optimised)"
        )
    out.append(
        "(dropout 0: the curves differ only by the arithmetic of the optimised path; dropout "
        "0.5, the real network: the dropout masks also differ with the memory format)"
    )
    return out


def _estimate_lines(figures: dict[str, Any]) -> list[str]:
    est = figures["estimate"]
    unit = "GPU-hours" if est["device"] == "cuda" else "CPU-hours on this machine"
    out = [
        f"full grid: {GRID_RUNS} runs × {est['epochs']} epochs × ({TRAIN_BOXES} training steps of "
        f"one {GRID_SIZE}³ crop + {VAL_BOXES} validation forwards of {GRID_SIZE}³); "
        f"every run to the last epoch (early stopping only shortens it)"
    ]
    if est["scaled_from"] != GRID_SIZE:
        out.append(
            f"note: {GRID_SIZE}³ not measured; times scaled by voxel count from "
            f"{est['scaled_from']}³"
        )
    if figures["settings"]["base"] != 64:
        out.append(f"note: base {figures['settings']['base']}, not the real network")
    for label, e in est["rows"].items():
        out.append(
            f"  {label:<34} step {e['step_s']:.3f} s, forward {e['infer_s']:.3f} s, "
            f"{e['epoch_s'] / 60:,.1f} min/epoch -> {_hours(e['hours'])} ({unit}, measured)"
        )
    h100 = est["h100"]
    out.append(
        f"  GPU, NOT measured here: one H100 at {1000 * H100_STEP_S:.0f} ms per {GRID_SIZE}³ "
        "training step in bf16 (figure quoted from the project brief); validation forward "
        f"scaled by this run's forward/step ratio {h100['ratio']:.2f} -> {_hours(h100['hours'])}"
        " GPU-hours"
    )
    return out


def report(figures: dict[str, Any]) -> str:
    out = _machine_lines(figures["machine"])
    s = figures["settings"]
    out.append(
        f"model: UNet3D base {s['base']} depth 2 ({figures['parameters']:,} parameters"
        f"{'' if s['base'] == 64 else '; NOT the real network, which is base 64'}); loss FL_DL "
        f"γ=2; Adam lr {LR:g}; steps: 1 first + {s['warmup']} warm-up + {s['steps']} timed; "
        f"compile {'on' if s['compile'] else 'off'}"
    )
    out += [f"note: {note}" for note in figures["notes"]]
    out.append("")
    out += _step_lines(figures)
    out.append("")
    out += _curve_lines(figures["curves"])
    out.append("")
    out += _estimate_lines(figures)
    return "\n".join(out)


# --------------------------------------------------------------------------------- main --


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="box sides (default 64 112)")
    parser.add_argument(
        "--warmup", type=int, help="untimed steps after the first step (default 1 on CPU, 5 on GPU)"
    )
    parser.add_argument("--steps", type=int, help="timed steps (default 2 on CPU, 20 on GPU)")
    parser.add_argument("--base", type=int, help="U-Net base width (default 64: the real one)")
    parser.add_argument("--batch", type=int, help="batch of config (e) (default 2 CPU, 4 GPU)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure torch.compile (default: on on GPU, off on CPU)",
    )
    parser.add_argument(
        "--compile-timeout",
        type=float,
        default=600.0,
        help="give up a compile whose first step takes longer (s)",
    )
    parser.add_argument(
        "--all-configs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="every config at every size (default on GPU); on CPU, later "
        "sizes get the reference and the first size's fastest config",
    )
    parser.add_argument("--curve-steps", type=int, help="loss-curve steps (15 CPU, 50 GPU)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs per run for the estimate")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: base 8, sizes 32 48, 1 + 2 steps"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    return parser


@dataclass(frozen=True)
class Plan:
    """What one run measures: the options with their CPU, GPU or --quick defaults filled in."""

    device: torch.device
    sizes: list[int]
    warmup: int
    steps: int
    base: int
    batch: int
    use_compile: bool
    curve_steps: int
    all_configs: bool
    curve_size: int
    curve_base: int
    compile_timeout: float
    epochs: int
    quick: bool

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def _plan(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Plan:
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")

    def pick(value: Any, quick: Any, gpu: Any, cpu: Any) -> Any:
        return value if value is not None else quick if args.quick else gpu if cuda else cpu

    base = pick(args.base, 8, 64, 64)
    plan = Plan(
        device=torch.device("cuda" if cuda else "cpu"),
        sizes=pick(args.sizes, [32, 48], [64, 112], [64, 112]),
        warmup=pick(args.warmup, 1, 5, 1),
        steps=pick(args.steps, 2, 20, 2),
        base=base,
        batch=pick(args.batch, 2, 4, 2),
        use_compile=pick(args.compile, False, True, False),
        curve_steps=pick(args.curve_steps, 10, 50, 15),
        all_configs=pick(args.all_configs, True, True, False),
        curve_size=GRID_SIZE if cuda and not args.quick else 48,
        curve_base=8 if args.quick else base if cuda else 16,
        compile_timeout=args.compile_timeout,
        epochs=args.epochs,
        quick=args.quick,
    )
    if any(s % 4 or s < 8 for s in plan.sizes) or plan.curve_size % 4:
        parser.error("box sides must be multiples of 4 (two poolings) and at least 8")
    if plan.steps < 1 or plan.warmup < 0 or plan.batch < 1 or base < 2 or base % 2:
        parser.error("need --steps >= 1, --warmup >= 0, --batch >= 1, an even --base >= 2")
    return plan


def _optimised_configs(plan: Plan, notes: list[str]) -> list[Config]:
    cuda = plan.cuda
    optimised = [
        Config("b", "bf16", bf16=True, cudnn_benchmark=cuda),
        Config("c", "bf16+CL", bf16=True, channels_last=True, cudnn_benchmark=cuda),
    ]
    if plan.use_compile:
        optimised.append(
            Config(
                "d",
                "bf16+CL+comp",
                bf16=True,
                channels_last=True,
                compile=True,
                cudnn_benchmark=cuda,
            )
        )
    else:
        notes.append("torch.compile not measured (off by default on CPU; --compile turns it on)")
    sizes = plan.sizes
    if not plan.all_configs and len(sizes) > 1:
        notes.append(
            f"sizes after {sizes[0]}³: only the reference and the fastest batch-1 config of "
            f"{sizes[0]}³, no batched config (CPU default, to keep the run short; --all-configs "
            "measures everything)"
        )
    return optimised


def _measure_size(
    plan: Plan, size: int, configs: list[Config], reduced: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each configuration at one size, then (unless reduced) the fastest one batched."""
    data = make_data(size, plan.batch)

    def measure(cfg: Config) -> dict[str, Any]:
        print(f"  {size}³ {cfg.name} ...", file=sys.stderr, flush=True)
        return measure_config(
            cfg, size, plan.base, data, plan.device, plan.warmup, plan.steps, plan.compile_timeout
        )

    rows = []
    for cfg in configs:
        rows.append(measure(cfg))
        if "skipped" in rows[-1]:
            print(f"    skipped: {rows[-1]['skipped']}", file=sys.stderr, flush=True)
    ran = [r for r in rows[1:] if "skipped" not in r]
    top = max(ran, key=lambda r: r["voxels_per_s"])
    top_cfg = Config(**top["config"])
    if not reduced:
        name = f"{top_cfg.name} batch {plan.batch}"
        rows.append(measure(replace(top_cfg, key="e", name=name, batch=plan.batch)))
    ref_vps = rows[0]["voxels_per_s"]
    batched_vps = rows[-1].get("voxels_per_s", math.nan) if not reduced else math.nan
    best = {
        "name": top_cfg.name,
        "config": asdict(top_cfg),
        "speedup": top["voxels_per_s"] / ref_vps,
        "batched_speedup": batched_vps / ref_vps,
        "best_speedup": max(top["voxels_per_s"], batched_vps) / ref_vps,
    }
    _free(plan.device)
    return rows, best


def _estimate(
    plan: Plan,
    reference: Config,
    results: dict[int, list[dict[str, Any]]],
    best: dict[int, dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grid estimate at 112³ (or the largest measured size, scaled by voxel count), and
    the inference forwards it rests on."""
    est_size = GRID_SIZE if GRID_SIZE in results else max(plan.sizes)
    scale = (GRID_SIZE / est_size) ** 3
    rows = results[est_size]
    top_cfg = Config(**best[est_size]["config"])
    top_row = next(r for r in rows if r["config"] == asdict(top_cfg))
    repeats = max(1, min(plan.steps, 5)) if plan.cuda or plan.quick else 1  # + 1 warm-up
    print(f"  {est_size}³ inference forwards ...", file=sys.stderr, flush=True)
    infer_ref = measure_inference(reference, est_size, plan.base, plan.device, repeats)
    infer_opt = measure_inference(top_cfg, est_size, plan.base, plan.device, repeats)
    ref_s, opt_s = infer_ref["median_s"] * scale, infer_opt["median_s"] * scale
    estimate_rows = {
        "reference fp32, batch 1": grid_estimate(
            rows[0]["median_step_s"] * scale, ref_s, plan.epochs
        ),
        f"optimised {top_cfg.name}, batch 1": grid_estimate(
            top_row["median_step_s"] * scale, opt_s, plan.epochs
        ),
    }
    if rows[-1]["config"]["key"] == "e" and "skipped" not in rows[-1]:
        estimate_rows[f"optimised {top_cfg.name}, batch {plan.batch}"] = grid_estimate(
            rows[-1]["median_step_s"] * scale, opt_s, plan.epochs, plan.batch
        )
    ratio = infer_opt["median_s"] / top_row["median_step_s"]
    h100 = grid_estimate(H100_STEP_S, H100_STEP_S * ratio, plan.epochs)
    h100["ratio"] = ratio
    estimate = {
        "device": plan.device.type,
        "epochs": plan.epochs,
        "scaled_from": est_size,
        "rows": estimate_rows,
        "h100": h100,
    }
    return estimate, {"reference": infer_ref, "optimised": infer_opt}


def _curves(plan: Plan, results: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The reference and the optimised path's loss curves, with dropout 0 and 0.5."""
    print(
        f"  loss curves {plan.curve_size}³ base {plan.curve_base} ...", file=sys.stderr, flush=True
    )
    curve_cfg = Config("opt", "bf16+CL", bf16=True, channels_last=True, cudnn_benchmark=plan.cuda)
    compiled_ok = any(
        r["config"]["compile"] and "skipped" not in r for rows in results.values() for r in rows
    )
    if plan.use_compile and compiled_ok:
        curve_cfg = replace(curve_cfg, name="bf16+CL+comp", compile=True)
    reference_curve = Config("ref", "reference fp32")
    return [
        loss_curves(
            reference_curve,
            curve_cfg,
            plan.curve_size,
            plan.curve_base,
            plan.curve_steps,
            dropout,
            plan.device,
            plan.compile_timeout,
        )
        for dropout in (0.0, 0.5)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    plan = _plan(args, parser)
    if not plan.cuda:
        torch.set_num_threads(os.cpu_count() or 1)
    wall = time.perf_counter()
    notes: list[str] = []
    info = machine(plan.device)
    print(
        f"benchmark on {plan.device} ({info.get('gpu') or info['cpu_model']}), torch "
        f"{torch.__version__}",
        file=sys.stderr,
        flush=True,
    )
    reference = Config("a", "reference fp32")
    optimised = _optimised_configs(plan, notes)
    results: dict[int, list[dict[str, Any]]] = {}
    best: dict[int, dict[str, Any]] = {}
    for index, size in enumerate(plan.sizes):
        reduced = index > 0 and not plan.all_configs
        # reduced: only the reference and the fastest batch-1 config of the first size
        first = [Config(**best[plan.sizes[0]]["config"])] if reduced else optimised
        results[size], best[size] = _measure_size(plan, size, [reference, *first], reduced)
    estimate, inference = _estimate(plan, reference, results, best)
    curves = _curves(plan, results)
    figures = {
        "machine": info,
        "settings": {
            "sizes": plan.sizes,
            "warmup": plan.warmup,
            "steps": plan.steps,
            "base": plan.base,
            "batch": plan.batch,
            "compile": plan.use_compile,
            "quick": plan.quick,
            "compile_timeout_s": plan.compile_timeout,
        },
        "parameters": count_parameters(UNet3D(base=plan.base)),
        "notes": notes,
        "steps": results,
        "best": best,
        "inference": inference,
        "curves": curves,
        "estimate": estimate,
    }
    figures["wall_s"] = time.perf_counter() - wall
    info["load_average_end"] = load_average()
    print(report(figures))
    print(f"\nwall time of this benchmark: {figures['wall_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
