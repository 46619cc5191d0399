"""Temperature scaling: it recovers a known temperature, lowers the calibration error, and the
folded head divides the logits without changing any argmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryosse.learn.augment import Box
from cryosse.learn.calibration import calibrate, expected_calibration_error, fit_temperature, nll
from cryosse.learn.device import choose_device
from cryosse.learn.unet import UNet3D


def _overconfident(temperature: float, n: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """Logits z whose true class is drawn from softmax(z / temperature)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(n, 3))
    p = np.exp(logits / temperature)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_recovers_the_temperature(true_temperature: float) -> None:
    logits, labels = _overconfident(true_temperature)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert nll(logits, labels, fitted) < nll(logits, labels, 1.0)
    assert expected_calibration_error(logits, labels, fitted) < 0.02
    assert expected_calibration_error(logits, labels, 1.0) > 0.05


def test_calibration_is_folded_into_the_head() -> None:
    torch.manual_seed(0)
    model = UNet3D(base=4).eval()
    rng = np.random.default_rng(1)
    density = np.abs(rng.normal(size=(24, 24, 24))).astype(np.float32)
    labels = (density > 1.0).astype(np.int64)  # something the logits can be calibrated on
    box = Box("b", density, labels, np.ones(density.shape, dtype=bool), 0.0)
    x = torch.from_numpy(density)[None, None]
    with torch.no_grad():
        before = model(x)
    report = calibrate(model, [box], choose_device("cpu", cpu_bf16=False))
    with torch.no_grad():
        after = model(x)
    assert torch.allclose(after, before / report["temperature"], atol=1e-5)
    assert torch.equal(after.argmax(dim=1), before.argmax(dim=1))
    assert report["nll_after"] <= report["nll_before"]
