"""The five losses against hand-computed values, identities, gradients and MONAI's modules."""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses import DiceLoss, FocalLoss

from cryosse.learn.losses import (
    LOSSES,
    SegmentationLoss,
    cross_entropy,
    dice_loss,
    dice_score,
    focal_loss,
)
from cryosse.learn.unet import UNet3D, count_parameters


def tiny() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One map of 2 voxels (shape [1, 3, 1, 1, 2]): voxel 0 is helix, voxel 1 background."""
    logits = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 1, 2)
    target = torch.tensor([1, 0]).reshape(1, 1, 1, 2)
    mask = torch.ones(1, 1, 1, 2, dtype=torch.bool)
    return logits, target, mask


def test_hand_computed_values() -> None:
    logits, target, mask = tiny()
    # voxel 0: p = (1/5, 3/5, 1/5), true class helix; voxel 1: p = 1/3 each, true background
    ce = -(math.log(3 / 5) + math.log(1 / 3)) / 2
    assert cross_entropy(logits, target, mask).item() == pytest.approx(ce)
    fl = -((2 / 5) ** 2 * math.log(3 / 5) + (2 / 3) ** 2 * math.log(1 / 3)) / 2
    assert focal_loss(logits, target, mask, gamma=2).item() == pytest.approx(fl)
    # Dice with ε = 1: helix: Σp g = 3/5, Σp = 3/5 + 1/3, Σg = 1; sheet: Σp g = 0, Σp = 1/5 + 1/3
    d_helix = (2 * 3 / 5 + 1) / (3 / 5 + 1 / 3 + 1 + 1)
    d_sheet = 1 / (1 / 5 + 1 / 3 + 0 + 1)
    score, valid = dice_score(logits, target, mask)
    assert score.item() == pytest.approx(d_helix + d_sheet) and bool(valid.all())
    assert dice_loss(logits, target, mask).item() == pytest.approx(2 - d_helix - d_sheet)
    assert SegmentationLoss("CE_DL")(logits, target, mask).item() == pytest.approx(
        ce + 2 - d_helix - d_sheet
    )
    assert SegmentationLoss("FL_DL", gamma=2)(logits, target, mask).item() == pytest.approx(
        fl + 2 - d_helix - d_sheet
    )


def test_mask_excludes_the_padding() -> None:
    logits, target, mask = tiny()
    mask[..., 1] = False  # only voxel 0 counts
    assert cross_entropy(logits, target, mask).item() == pytest.approx(-math.log(3 / 5))
    # changing the excluded voxel's logits or label changes nothing
    other = logits.clone()
    other[0, :, 0, 0, 1] = torch.tensor([5.0, -3.0, 9.0])
    for name in LOSSES:
        loss = SegmentationLoss(name)
        assert loss(other, target, mask).item() == pytest.approx(loss(logits, target, mask).item())


def test_per_map_mean_then_batch_mean() -> None:
    logits, target, mask = tiny()
    small = cross_entropy(logits[..., :1], target[..., :1], mask[..., :1])
    both = torch.cat([logits, torch.cat([logits[..., :1]] * 2, dim=-1)])
    targets = torch.cat([target, torch.cat([target[..., :1]] * 2, dim=-1)])
    masks = torch.ones_like(targets, dtype=torch.bool)
    masks[1, ..., 1] = False  # map 2 has one voxel
    expected = (cross_entropy(logits, target, mask) + small) / 2
    assert cross_entropy(both, targets, masks).item() == pytest.approx(expected.item())


def test_gamma_zero_is_cross_entropy_and_focal_is_smaller() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, 6)
    target = torch.randint(0, 3, (2, 4, 5, 6))
    mask = torch.rand(2, 4, 5, 6) > 0.3
    ce = cross_entropy(logits, target, mask)
    assert focal_loss(logits, target, mask, 0.0).item() == pytest.approx(ce.item(), rel=1e-6)
    reference = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    per_map = [(reference[b][mask[b]]).mean() for b in range(2)]
    assert ce.item() == pytest.approx(torch.stack(per_map).mean().item(), rel=1e-6)
    values = [focal_loss(logits, target, mask, g).item() for g in (0, 1, 2, 5, 8)]
    assert values == sorted(values, reverse=True)


def test_empty_mask_gives_zero_and_keeps_the_graph() -> None:
    logits, target, mask = tiny()
    logits.requires_grad_(True)
    loss = SegmentationLoss("FL_DL")(logits, target, torch.zeros_like(mask))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("name", LOSSES)
def test_gradients_flow_through_the_network(name: str) -> None:
    torch.manual_seed(1)
    model = UNet3D(base=4, depth=2, dropout=0.0)
    x = torch.randn(1, 1, 8, 8, 8)
    target = torch.randint(0, 3, (1, 8, 8, 8))
    mask = torch.zeros(1, 8, 8, 8, dtype=torch.bool)
    mask[:, 2:6, 2:6, 2:6] = True
    loss = SegmentationLoss(name, gamma=2)(model(x), target, mask)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # a few Adam steps lower the loss on this fixed batch
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = loss.item()
    for _ in range(15):
        optimizer.zero_grad()
        loss = SegmentationLoss(name, gamma=2)(model(x), target, mask)
        loss.backward()
        optimizer.step()
    assert loss.item() < first


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
def test_focal_agrees_with_monai_times_three(gamma: float) -> None:
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 5, 6, 7)
    target = torch.randint(0, 3, (2, 5, 6, 7))
    mask = torch.ones_like(target, dtype=torch.bool)
    monai = FocalLoss(use_softmax=True, include_background=True, gamma=gamma, to_onehot_y=True)
    ours = focal_loss(logits, target, mask, gamma)
    assert ours.item() == pytest.approx(3 * monai(logits, target.unsqueeze(1)).item(), rel=1e-5)


def test_dice_agrees_with_monai_times_two() -> None:
    torch.manual_seed(3)
    logits = torch.randn(3, 3, 5, 6, 7)
    target = torch.randint(0, 3, (3, 5, 6, 7))
    mask = torch.ones_like(target, dtype=torch.bool)
    monai = DiceLoss(
        include_background=False, softmax=True, to_onehot_y=True, smooth_nr=1.0, smooth_dr=1.0
    )
    assert dice_loss(logits, target, mask).item() == pytest.approx(
        2 * monai(logits, target.unsqueeze(1)).item(), rel=1e-5
    )


def test_unknown_loss_and_negative_gamma() -> None:
    with pytest.raises(ValueError, match="unknown loss"):
        SegmentationLoss("BCE")
    with pytest.raises(ValueError, match="gamma"):
        SegmentationLoss("FL", gamma=-1)


def test_deepssetracer_layer_plan() -> None:
    model = UNet3D()
    assert count_parameters(model) == 4_585_987  # ≈ 4.59 M, as computed from the layer list
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    plan = [(c.in_channels, c.out_channels) for c in convs]
    assert plan == [
        (1, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (384, 128),
        (128, 128),
        (192, 64),
        (64, 64),
        (64, 3),
    ]
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules()) == 10
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 1, 12, 16, 20))
    assert out.shape == (1, 3, 12, 16, 20)
