"""Inference options that cost CPU but train nothing (issue 23, item 4): the mean over seeds
and the mean over mirror images.

`SeedEnsemble` wraps networks of one configuration (the same loss and setting trained with
different seeds) as one network whose output is the log of their mean class probabilities, so
that every prediction path that takes a softmax of the network's output (predict_box, segment's
tiles, calibration) gets the ensemble's mean probabilities unchanged.

Test-time flips average a network over the 8 mirror images of its input (`FLIPS`), each output
flipped back: an argument of `cryosse.learn.predict.predict_box` for whole boxes, and
`MirrorMean` around the network that `cryosse segment --flips` runs tile by tile, so that both
compute the same mean.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from cryosse.learn.unet import UNet3D

# the 8 mirror images of a box: every subset of its three spatial axes flipped (dims 2-4 of a
# [batch, channel, z, y, x] tensor)
FLIPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(axis for axis, flip in zip((2, 3, 4), flips, strict=True) if flip)
    for flips in itertools.product((False, True), repeat=3)
)


def layer_plan(model: UNet3D) -> tuple[int, int, int, int]:
    """What networks averaged together must share: depth, base width, size multiple and
    context border."""
    return (model.depth, model.base, model.multiple, model.context_border)


class SeedEnsemble(nn.Module):
    """Log of the mean softmax of several networks of the same layer plan."""

    def __init__(self, members: Sequence[UNet3D]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one network")
        plans = {layer_plan(m) for m in members}
        if len(plans) != 1:
            raise ValueError(f"the networks differ in layer plan: {sorted(plans)}")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.depth, self.base = first.depth, first.base
        self._multiple, self._context_border = first.multiple, first.context_border

    @property
    def multiple(self) -> int:
        return self._multiple

    @property
    def context_border(self) -> int:
        return self._context_border

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = sum(torch.softmax(m(x).float(), dim=1) for m in self.members) / len(self.members)
        assert isinstance(mean, torch.Tensor)
        return torch.log(mean.clamp_min(1e-12))


class MirrorMean(nn.Module):
    """The mean of a network's output over the 8 mirror images of its input, each output flipped
    back. For a network whose output is probabilities (cryosse.learn.slab_forward.SlabForward):
    8 forward passes one after the other, so the working set is one pass's plus the sum."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor | None = None
        for axes in FLIPS:
            out = self.network(torch.flip(x, axes) if axes else x).float()
            out = torch.flip(out, axes) if axes else out
            total = out if total is None else total + out
        assert total is not None
        return total / len(FLIPS)


class ProbabilityMean(nn.Module):
    """The mean output of several probability networks (cryosse.learn.slab_forward.SlabForward)
    of one layer plan: a seed ensemble for `cryosse segment --model A.pt B.pt`, the mean
    `SeedEnsemble` gives the evaluation. One member at a time: the working set is one pass's
    plus the sum."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a mean needs at least one network")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor | None = None
        for member in self.members:
            out = member(x).float()
            total = out if total is None else total + out
        assert total is not None
        return total / len(self.members)
