"""cryosse.learn.device.choose_device, the one device picker: names, CUDA, and bf16 on the CPU."""

from __future__ import annotations

import pytest
import torch

import cryosse.learn.device as device_module
from cryosse.learn.device import DeviceError, choose_device


def test_unknown_name_is_refused() -> None:
    with pytest.raises(DeviceError, match="expected auto, cpu, cuda"):
        choose_device("gpu")


def test_cuda_without_a_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no CUDA device"):
        choose_device("cuda")
    assert choose_device("auto").torch_device.type == "cpu"


def test_cpu_bf16_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    for supported in (False, True):
        monkeypatch.setattr(device_module, "cpu_bf16_supported", lambda s=supported: s)
        picked = choose_device("cpu")
        assert (picked.autocast, picked.channels_last) == (supported, supported)
    assert not choose_device("cpu", bf16=False).autocast


def test_forced_slow_bf16_is_refused_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module, "cpu_bf16_supported", lambda: False)
    assert choose_device("cpu", cpu_bf16=True).autocast  # training may force it to measure
    with pytest.raises(DeviceError, match="no oneDNN bf16"):
        choose_device("cpu", cpu_bf16=True, refuse_slow_cpu_bf16=True)
    assert not choose_device("cpu", cpu_bf16=False, refuse_slow_cpu_bf16=True).autocast
