"""The five loss functions of the benchmark (Mu et al. 2024, eqs. 1-6), written from the paper.

Notation, for one map: voxels i = 1 … N of its central box (the 17 Å padding is excluded: a
mask selects the voxels that count), classes c ∈ {0 background, 1 helix, 2 sheet}, one-hot
labels g_ic, predicted probabilities p_ic = softmax(z_i)_c of the logits z_i.

    CE    = −(1/N) Σ_i Σ_c g_ic log p_ic                                       (eq. 1)
    FL    = −(1/N) Σ_i Σ_c g_ic (1 − p_ic)^γ log p_ic                          (eq. 2)
    D     = Σ_{c ∈ {helix, sheet}} (2 Σ_i p_ic g_ic + ε) / (Σ_i p_ic + Σ_i g_ic + ε)  (eq. 3)
    DL    = 2 − D                                                               (eq. 4)
    CE_DL = CE + DL                                                             (eq. 5)
    FL_DL = FL + DL                                                             (eq. 6)

Reductions (our choice, stated because the paper does not): CE and FL are means over the N
masked voxels of each map; every term is computed per map and then averaged over the maps of
the batch, so a map counts once whatever its size (the paper trains one map per step, where
both readings agree). ε = 1 (the He lab's Dice smoothing): a map without sheet voxels then
contributes D_sheet = 1 / (Σ_i p_i,sheet + 1), which pushes the sheet probability to 0 there.
No class weights (α = 1). γ = 0 makes FL identical to CE. A map whose mask is empty (a random
crop that missed its central box) is left out of the batch mean; if every map is empty the
loss is 0 (still differentiable).

Against MONAI 1.6 (tested): FocalLoss(use_softmax=True, include_background=True) averages
over classes too, so FL = 3 × MONAI's; DiceLoss(include_background=False, softmax=True,
to_onehot_y=True, smooth_nr=ε, smooth_dr=ε) averages over the two foreground classes, so
DL = 2 × MONAI's.
"""

from __future__ import annotations

import torch
from torch import nn

from cryosse.core.classes import N_CLASSES
from cryosse.core.run_grid import LOSSES  # the names live with the grid (no torch there)

FOREGROUND = (1, 2)  # helix, sheet
DICE_EPSILON = 1.0


def _per_map_mean(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean of `values` over each map's masked voxels, which maps have any), shapes [B]."""
    weights = mask.flatten(1).to(values.dtype)
    counts = weights.sum(dim=1)
    sums = (values.flatten(1) * weights).sum(dim=1)
    return sums / counts.clamp(min=1), counts > 0


def _batch_mean(per_map: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    if not bool(valid.any()):
        return per_map.sum() * 0.0
    return per_map[valid].mean()


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, gamma: float
) -> torch.Tensor:
    """FL (eq. 2); gamma = 0 gives CE (eq. 1). logits [B, 3, Z, Y, X], target and mask
    [B, Z, Y, X] (int64 classes, bool)."""
    log_p = torch.log_softmax(logits.float(), dim=1)
    log_p_true = log_p.gather(1, target.unsqueeze(1)).squeeze(1)
    if gamma == 0:
        per_voxel = -log_p_true
    else:
        per_voxel = -((1.0 - log_p_true.exp()).clamp(min=0.0) ** gamma) * log_p_true
    per_map, valid = _per_map_mean(per_voxel, mask)
    return _batch_mean(per_map, valid)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CE (eq. 1)."""
    return focal_loss(logits, target, mask, gamma=0.0)


def dice_score(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = DICE_EPSILON
) -> tuple[torch.Tensor, torch.Tensor]:
    """D (eq. 3) per map, shape [B], in [0, 2]; and which maps have masked voxels."""
    p = torch.softmax(logits.float(), dim=1)
    weights = mask.unsqueeze(1).to(p.dtype)
    one_hot = nn.functional.one_hot(target, N_CLASSES).movedim(-1, 1).to(p.dtype)
    score = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)
    for c in FOREGROUND:
        pc = (p[:, c] * weights[:, 0]).flatten(1)
        gc = (one_hot[:, c] * weights[:, 0]).flatten(1)
        score = score + (2.0 * (pc * gc).sum(1) + eps) / (pc.sum(1) + gc.sum(1) + eps)
    return score, mask.flatten(1).any(dim=1)


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = DICE_EPSILON
) -> torch.Tensor:
    """DL = 2 − D (eq. 4), per map, averaged over the batch."""
    score, valid = dice_score(logits, target, mask, eps)
    return _batch_mean(2.0 - score, valid)


class SegmentationLoss(nn.Module):
    """One of LOSSES by name: CE, FL (with gamma), DL, CE_DL = CE + DL, FL_DL = FL + DL."""

    def __init__(self, name: str, gamma: float = 2.0, eps: float = DICE_EPSILON) -> None:
        super().__init__()
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
        if gamma < 0:
            raise ValueError("gamma must be >= 0")
        self.name, self.gamma, self.eps = name, float(gamma), float(eps)

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        total = logits.new_zeros((), dtype=torch.float32)
        if self.name in ("CE", "CE_DL"):
            total = total + cross_entropy(logits, target, mask)
        if self.name in ("FL", "FL_DL"):
            total = total + focal_loss(logits, target, mask, self.gamma)
        if self.name in ("DL", "CE_DL", "FL_DL"):
            total = total + dice_loss(logits, target, mask, self.eps)
        return total

    def extra_repr(self) -> str:
        return f"name={self.name}, gamma={self.gamma:g}, eps={self.eps:g}"
