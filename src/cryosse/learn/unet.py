"""The DeepSSETracer 3D U-Net, written from its layer plan.

With the defaults (base = 64, depth = 2) it is exactly that network: 3 resolution levels,
2 poolings, five double-conv blocks, BatchNorm + ReLU after every 3×3×3 convolution, dropout
0.5 before each pooling and after each decoder block, a 1×1×1 head to 3 classes (logits; the
softmax belongs to the loss and to inference):

    down_1  1 → 32 → 64         | dropout, maxpool
    down_2  64 → 64 → 128       | dropout, maxpool
    down_3  128 → 128 → 256     (bottleneck)
    up 256 → 256 (transposed 2×2×2), concat down_2: 384 → 128 → 128, dropout
    up 128 → 128 (transposed 2×2×2), concat down_1: 192 → 64 → 64, dropout
    head 64 → 3                                      ≈ 4.59 M parameters

`base` scales every width (a narrow base = 8 trains in seconds on a CPU for demos and tests)
and `depth` adds levels, so a user can try a wider or deeper network from the config. Box
sides must be multiples of 2**depth (inference pads). Convolution weights are initialised
N(0, 0.1) as in the original code.
"""

from __future__ import annotations

import torch
from torch import nn

from cryosse.core.config import ModelSettings


def _double_conv(in_ch: int, mid_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_ch, mid_ch, 3, padding=1),
        nn.BatchNorm3d(mid_ch),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid_ch, out_ch, 3, padding=1),
        nn.BatchNorm3d(out_ch),
        nn.ReLU(inplace=True),
    )


class UNet3D(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 3,
        base: int = ModelSettings.base,  # the defaults of the config's `model` section
        depth: int = ModelSettings.depth,
        dropout: float = ModelSettings.dropout,
    ) -> None:
        super().__init__()
        if base < 2 or base % 2 or depth < 1:
            raise ValueError("base must be an even number >= 2 and depth >= 1")
        self.depth = depth
        widths = [base * 2**k for k in range(depth + 1)]  # 64, 128, 256
        self.encoders = nn.ModuleList([_double_conv(in_channels, base // 2, base)])
        for k in range(1, depth + 1):
            self.encoders.append(_double_conv(widths[k - 1], widths[k - 1], widths[k]))
        self.pool = nn.Sequential(nn.Dropout(dropout), nn.MaxPool3d(2))
        self.upsamples = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for k in range(depth, 0, -1):
            self.upsamples.append(nn.ConvTranspose3d(widths[k], widths[k], 2, stride=2))
            skip = widths[k - 1]
            self.decoders.append(
                nn.Sequential(_double_conv(widths[k] + skip, skip, skip), nn.Dropout(dropout))
            )
        self.base = base
        self.head = nn.Conv3d(base, n_classes, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.normal_(module.weight, std=0.1)

    @property
    def multiple(self) -> int:
        """Box sides must be multiples of this."""
        return 2**self.depth

    @property
    def receptive_field(self) -> int:
        """Receptive field (voxels): 4·2^k per encoder level k ≤ depth (two 3³ convs), 4·2^k per
        decoder level k < depth, 2^k per max-pool (44 for depth 2)."""
        return receptive_field(self.depth)

    @property
    def context_border(self) -> int:
        """Empty border (voxels, a multiple of `multiple`) put around a whole map at inference:
        half the receptive field, so no output voxel sees the network's own zero padding of
        its feature maps, which is what a map face would otherwise look like to it (measured on
        the previous default model: a plane of "sheet" on every y = 0 face)."""
        half = -(-self.receptive_field // 2)
        return -(-half // self.multiple) * self.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k, encoder in enumerate(self.encoders):
            x = encoder(x)
            if k < self.depth:
                skips.append(x)
                x = self.pool(x)
        for upsample, decoder in zip(self.upsamples, self.decoders, strict=True):
            x = decoder(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.head(x)


def receptive_field(depth: int) -> int:
    """Receptive field (voxels) of a UNet3D of this depth (see UNet3D.receptive_field)."""
    return 1 + sum(4 * 2**k for k in range(depth + 1)) + sum(5 * 2**k for k in range(depth))


def build_model(model: ModelSettings) -> UNet3D:
    """The network named by the `model` config section (architecture "deepssetracer")."""
    if model.architecture != "deepssetracer":
        raise ValueError(f"unknown architecture {model.architecture!r}")
    return UNet3D(base=model.base, depth=model.depth, dropout=model.dropout)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
