"""Where and in which arithmetic the network runs: the device and the fastest correct CPU path.

On a GPU: bf16 autocast unless turned off. On a CPU the choice depends on the machine: with
oneDNN bf16 convolutions (AVX-512 BF16 or AMX), bf16 autocast + channels_last_3d is the fast
path; without them torch falls back to a slow reference kernel and fp32 is faster. Measured on
this project's U-Net, one training step, one thread (benchmarks/train_step.py):
    AMD EPYC, avx512_bf16, no AMX: base 16, 48³: fp32 1.2 s, bf16 + channels_last 0.35 s;
    Intel Xeon with AMX, 2 threads: base 64, 64³: fp32 9.9 s, bf16 + channels_last 1.94 s;
    AVX2 only: bf16 convolutions 40-80× slower than fp32.
"auto" (the default of `cpu_bf16` and `channels_last`) takes the fast path the machine has;
true/false force it. `describe_cpu` names the flags that decided, for the run's summary.

`choose_device` is the one device picker: training, evaluation and calibration call it, and
`cryosse segment` can (it refuses a forced bf16 on a CPU without bf16 convolutions, where
training, which may force it to measure, does not).
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

Choice = bool | str  # True, False or "auto"
DEVICE_NAMES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device that cannot be had: an unknown name, CUDA without a GPU, slow bf16 refused."""


@dataclass
class Device:
    torch_device: torch.device
    autocast: bool
    channels_last: bool = False

    @contextlib.contextmanager
    def amp(self) -> Iterator[None]:
        if self.autocast:
            with torch.autocast(self.torch_device.type, dtype=torch.bfloat16):
                yield
        else:
            yield

    def describe(self) -> dict[str, object]:
        return {
            "device": str(self.torch_device),
            "bf16": self.autocast,
            "channels_last": self.channels_last,
            "cpu": describe_cpu(),
        }


def cpu_bf16_supported() -> bool:
    """Whether oneDNN has bf16 convolutions on this CPU (AVX-512 BF16 / AMX)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def describe_cpu() -> dict[str, object]:
    """The CPU model and the flags that decide the fast path."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = _cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return {
        "model": model,
        "flags": [f for f in wanted if f in flags],
        "onednn_bf16": cpu_bf16_supported(),
        "torch_threads": torch.get_num_threads(),
    }


def _resolve(choice: Choice, auto: bool) -> bool:
    if isinstance(choice, str):
        if choice != "auto":
            raise ValueError(f"expected true, false or 'auto', got {choice!r}")
        return auto
    return bool(choice)


def choose_device(
    name: str = "auto",
    bf16: bool = True,
    cpu_bf16: Choice = "auto",
    channels_last: Choice = "auto",
    refuse_slow_cpu_bf16: bool = False,
) -> Device:
    """The device `name` (auto: CUDA when available) and its arithmetic (module docstring).

    `refuse_slow_cpu_bf16`: a DeviceError instead of bf16 on a CPU without bf16 convolutions,
    where it runs far slower than fp32 (for users' runs; training may force it to measure).
    """
    if name not in DEVICE_NAMES:
        raise DeviceError(f"device {name!r}: expected {', '.join(DEVICE_NAMES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device cuda: no CUDA device is available to torch {torch.__version__}")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        autocast = bool(bf16)
        return Device(torch.device("cuda"), autocast, _resolve(channels_last, autocast))
    autocast = bool(bf16) and _resolve(cpu_bf16, cpu_bf16_supported())
    if autocast and refuse_slow_cpu_bf16 and not cpu_bf16_supported():
        raise DeviceError(
            "cpu bf16: this CPU has no oneDNN bf16 convolutions (AVX-512 BF16 or AMX); bf16 "
            "would run far slower than fp32 here"
        )
    return Device(torch.device("cpu"), autocast, _resolve(channels_last, autocast))


def require_gpu(gpu: bool, name: str) -> None:
    """A job that asked the scheduler for a GPU (`training.gpu`) runs on one or fails at its
    start: torch without CUDA would otherwise train on the CPU for the whole wall time."""
    if not gpu:
        return
    if name == "cpu":
        raise DeviceError("training.gpu is true but training.device is cpu: set one of them")
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise DeviceError(
            f"training.gpu is true but torch {torch.__version__} ({build}) sees no CUDA device "
            "on this node: install a CUDA build of torch where the job runs, or set "
            "training.gpu: false to train on CPUs"
        )
