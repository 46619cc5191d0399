"""Inference options of issue 23 item 4: test-time flips and the mean over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryosse.learn.augment import Box
from cryosse.learn.device import choose_device
from cryosse.learn.ensemble import SeedEnsemble
from cryosse.learn.predict import FLIPS, predict_box
from cryosse.learn.unet import UNet3D

CPU = choose_device("cpu", cpu_bf16=False, channels_last=False)


def random_box(shape: tuple[int, int, int], seed: int = 0) -> Box:
    # sides that need no padding beyond the symmetric border: the mirror images line up exactly
    rng = np.random.default_rng(seed)
    density = rng.random(shape, dtype=np.float32)
    return Box("box", density, np.zeros(shape, np.int64), np.ones(shape, bool), 0.0)


def networks(n: int) -> list[UNet3D]:
    torch.manual_seed(0)
    return [UNet3D(base=4).eval() for _ in range(n)]


def test_flips_make_the_prediction_mirror_equivariant() -> None:
    (net,) = networks(1)
    box = random_box((16, 20, 12))
    mirrored = Box(
        "m", np.ascontiguousarray(box.density[::-1, :, ::-1]), box.labels, box.central, 0.0
    )
    assert len(set(FLIPS)) == 8
    plain = predict_box(net, box, CPU)
    plain_mirrored = predict_box(net, mirrored, CPU)
    # a network of random weights is not mirror-symmetric: the test could fail
    assert not np.allclose(plain_mirrored, plain[:, ::-1, :, ::-1], atol=1e-4)
    flipped = predict_box(net, box, CPU, flips=True)
    flipped_mirrored = predict_box(net, mirrored, CPU, flips=True)
    np.testing.assert_allclose(flipped_mirrored, flipped[:, ::-1, :, ::-1], atol=1e-5)
    assert np.allclose(flipped.sum(axis=0), 1.0, atol=1e-5)


def test_the_ensemble_is_the_mean_of_its_members() -> None:
    first, second = networks(2)
    box = random_box((12, 12, 16), seed=1)
    alone = predict_box(SeedEnsemble([first]), box, CPU)
    np.testing.assert_allclose(alone, predict_box(first, box, CPU), atol=1e-5)
    mean = (predict_box(first, box, CPU) + predict_box(second, box, CPU)) / 2
    np.testing.assert_allclose(
        predict_box(SeedEnsemble([first, second]), box, CPU), mean, atol=1e-5
    )


def test_an_ensemble_of_different_networks_is_refused() -> None:
    with pytest.raises(ValueError, match="layer plan"):
        SeedEnsemble([UNet3D(base=4), UNet3D(base=8)])
    with pytest.raises(ValueError, match="at least one"):
        SeedEnsemble([])
