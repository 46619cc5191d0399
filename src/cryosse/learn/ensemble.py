"""Inference options that cost CPU but train nothing (issue 23, item 4): the mean over seeds.

`SeedEnsemble` wraps networks of one configuration (the same loss and setting trained with
different seeds) as one network whose output is the log of their mean class probabilities, so
that every prediction path that takes a softmax of the network's output (predict_box, segment's
tiles, calibration) gets the ensemble's mean probabilities unchanged. Test-time flips, the
other such option, are an argument of `cryosse.learn.predict.predict_box`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cryosse.learn.unet import UNet3D


class SeedEnsemble(nn.Module):
    """Log of the mean softmax of several networks of the same layer plan."""

    def __init__(self, members: Sequence[UNet3D]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one network")
        plans = {(m.depth, m.base, m.multiple, m.context_border) for m in members}
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
