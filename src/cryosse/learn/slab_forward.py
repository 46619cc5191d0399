"""The network's eval-mode forward for whole-map inference, run level by level in z-slabs.

`inference_network` folds every Conv3d + BatchNorm3d pair of a UNet3D into one convolution and
wraps it in `SlabForward`, which re-runs UNet3D.forward's layers level by level: every level's
double convolution is fed in consecutive z-slabs (`_ConvStream`), so the working set is about the
largest skip connection instead of a whole-volume pass's concatenations and logits. It lives
beside unet.py because it must track UNet3D's structure (encoders, pool, upsamples, decoders,
head); cryosse.segment.tiling feeds it tiles.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from cryosse.learn.unet import UNet3D


def inference_network(model: UNet3D) -> SlabForward:
    """An eval-mode copy with every Conv3d + BatchNorm3d pair folded into one convolution
    (same function up to float rounding, one pass less over each activation), run level by
    level in z-slabs (SlabForward)."""
    import copy

    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if isinstance(module, nn.Sequential):
            layers = list(module)
            for i in range(len(layers) - 1):
                conv, bn = layers[i], layers[i + 1]
                if isinstance(conv, nn.Conv3d) and isinstance(bn, nn.BatchNorm3d):
                    module[i] = fuse_conv_bn_eval(conv, bn)
                    module[i + 1] = nn.Identity()
    return SlabForward(fused)


def _leaves(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    return [leaf for child in children for leaf in _leaves(child)] if children else [module]


def _conv3d_no_z_padding(x: torch.Tensor, conv: nn.Conv3d) -> torch.Tensor:
    """A 3×3×3 convolution padded by one voxel in y and x only. On a CPU in float32, oneDNN
    directly: torch's own choice sends thin slabs (batch × channels × z × y ≤ 20480) to its
    reference convolution, measured 30× slower here, with an im2col buffer of 27 × channels
    floats per voxel."""
    plain = x.device.type == "cpu" and x.dtype == conv.weight.dtype == torch.float32
    if plain and torch.backends.mkldnn.is_available() and not torch.is_autocast_enabled("cpu"):
        return torch.ops.aten.mkldnn_convolution(
            x, conv.weight, conv.bias, [0, 1, 1], [1, 1, 1], [1, 1, 1], 1
        )
    return nn.functional.conv3d(x, conv.weight, conv.bias, padding=(0, 1, 1))


class _ConvStream:
    """A chain of 3×3×3 convolutions (padding 1) and voxel-wise layers fed in consecutive
    z-slabs of a volume of `planes` planes: each convolution keeps the last two input planes it
    has seen, so every output plane is computed once, from the same inputs (with the same zero
    padding at the volume's first and last plane) as a pass over the whole volume."""

    def __init__(self, layers: list[nn.Module], planes: int) -> None:
        for layer in layers:
            if (
                isinstance(layer, nn.Conv3d)
                and layer.kernel_size != (1, 1, 1)
                and (
                    layer.kernel_size != (3, 3, 3)
                    or layer.padding != (1, 1, 1)
                    or layer.stride != (1, 1, 1)
                    or layer.dilation != (1, 1, 1)
                    or layer.groups != 1
                    or layer.padding_mode != "zeros"
                )
            ):
                raise ValueError(f"cannot stream {layer}: 3×3×3 (padding 1) or 1×1×1 only")
        self.layers = layers
        self.planes = planes
        self._tail: dict[int, tuple[torch.Tensor, int]] = {}  # conv index: (planes, first)
        self._done: dict[int, int] = {}  # conv index: output planes computed so far

    def push(self, x: torch.Tensor, first: int) -> tuple[torch.Tensor, int] | None:
        """Feed input planes [first, first + len); returns the output planes that are now
        complete and the index of the first, or None while none is."""
        for index, layer in enumerate(self.layers):
            if isinstance(layer, nn.Conv3d) and layer.kernel_size == (3, 3, 3):
                step = self._conv(index, layer, x, first)
                if step is None:
                    return None
                x, first = step
            else:
                x = layer(x)
        return x, first

    def _conv(
        self, index: int, conv: nn.Conv3d, x: torch.Tensor, first: int
    ) -> tuple[torch.Tensor, int] | None:
        if index in self._tail:
            tail, tail_first = self._tail[index]
            x, first = torch.cat([tail, x], dim=2), tail_first
        last = first + x.shape[2]  # one past the last input plane held
        start = self._done.get(index, 0)
        # output plane z needs input planes z - 1 .. z + 1: all of them, or the volume's end
        end = self.planes if last == self.planes else last - 1
        if end <= start:
            self._tail[index] = (x, first)
            return None
        low, high = max(0, start - 1), min(self.planes, end + 1)
        piece = x[:, :, low - first : high - first]
        # the whole-volume pass's zero padding, at the volume's first and last plane only
        pad = (0, 0, 0, 0, int(start == 0), int(end == self.planes))
        out = _conv3d_no_z_padding(nn.functional.pad(piece, pad), conv)
        # a copy: a view would keep the whole slab alive
        self._tail[index] = (x[:, :, end - 1 - first :].clone(), end - 1)
        self._done[index] = end
        return out, start


class SlabForward(nn.Module):
    """UNet3D.forward in eval mode, returning the softmax probabilities of classes 1 and 2
    (helix, sheet; float32 [n, 2, z, y, x]) instead of the logits, with a working set of about
    the largest skip connection: every level's double convolution runs in z-slabs (_ConvStream)
    and writes into its output, a decoder level's input (upsampled level below, concatenated
    with the skip) is made one slab at a time, and the head and the softmax run per slab.
    A whole-volume pass holds the concatenation (3 × base channels), the transposed
    convolution's output (2 × base) and the logits at once at full resolution."""

    def __init__(self, net: UNet3D, slab_voxels: int = 2**17) -> None:
        super().__init__()
        self.net = net
        self.slab_voxels = slab_voxels

    def _planes_per_slab(self, x: torch.Tensor) -> int:
        per_plane = x.shape[0] * x.shape[3] * x.shape[4]
        return max(2, self.slab_voxels // max(1, per_plane) // 2 * 2)  # even: pooling pairs

    def _level(
        self,
        layers: list[nn.Module],
        planes: int,
        step: int,
        produce: Callable[[int, int], torch.Tensor],
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        stream = _ConvStream(layers, planes)
        out: torch.Tensor | None = None
        for low in range(0, planes, step):
            done = stream.push(produce(low, min(planes, low + step)), low)
            if done is None:
                continue
            part, first = done
            if finish is not None:
                part = finish(part)
            if out is None:
                out = part.new_empty((*part.shape[:2], planes, *part.shape[3:]))
            out[:, :, first : first + part.shape[2]] = part
        assert out is not None
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        step = self._planes_per_slab(x)
        pool = _leaves(net.pool)  # dropout (identity in eval) and the 2×2×2 max-pool
        skips: list[torch.Tensor] = []
        h = x
        for k, encoder in enumerate(net.encoders):
            source = h

            def pooled(
                low: int, high: int, source: torch.Tensor = source, k: int = k
            ) -> torch.Tensor:
                if k == 0:
                    return source[:, :, low:high]
                part = source[:, :, 2 * low : 2 * high]
                for layer in pool:
                    part = layer(part)
                return part

            planes = x.shape[2] // 2**k
            h = self._level(_leaves(encoder), planes, step, pooled)
            if k < net.depth:
                skips.append(h)
        del source, pooled  # the closure would keep the last skip alive through the decoder
        for k, (upsample, decoder) in enumerate(zip(net.upsamples, net.decoders, strict=True)):
            skip, below = skips.pop(), h

            def joined(
                low: int,
                high: int,
                skip: torch.Tensor = skip,
                below: torch.Tensor = below,
                upsample: nn.Module = upsample,
            ) -> torch.Tensor:
                # the 2×2×2 stride-2 transposed convolution: output plane z from input z // 2
                return torch.cat(
                    [upsample(below[:, :, low // 2 : high // 2]), skip[:, :, low:high]], dim=1
                )

            layers = _leaves(decoder)
            last = k == len(net.decoders) - 1
            if last:
                layers.append(net.head)
            finish = (lambda logits: torch.softmax(logits.float(), dim=1)[:, 1:3]) if last else None
            h = self._level(layers, skip.shape[2], step, joined, finish)
            del skip, below, joined  # free this level's inputs before the next level runs
        return h
