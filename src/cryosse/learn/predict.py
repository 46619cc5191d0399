"""Inference on whole boxes: class probabilities of a network (or a seed ensemble) for a box.

Used by validation during training, by calibration, by evaluation and by the reports;
`cryosse segment` predicts whole maps tile by tile instead (cryosse.segment.tiling), feeding the
network what `predict_box` would.
"""

from __future__ import annotations

import numpy as np
import torch

from cryosse.learn.augment import Box, coarsen_box
from cryosse.learn.device import Device
from cryosse.learn.ensemble import FLIPS, SeedEnsemble
from cryosse.learn.network_input import pad_to, refine, round_up
from cryosse.learn.unet import UNet3D


def predict_box(
    model: UNet3D | SeedEnsemble,
    box: Box,
    device: Device,
    channels_last: bool | None = None,
    flips: bool = False,
) -> np.ndarray:
    """Class probabilities [3, Z, Y, X] of a whole (normalised) box on the network's grid: an
    empty border of `model.context_border` voxels on every side (so the box faces look like
    what they are, the end of the map, not like the network's own zero padding), then the
    high ends padded to a multiple of 2**depth, one forward pass in eval mode, cropped back.
    flips: the mean over the box's 8 mirror images (8 forward passes), each flipped back."""
    shape = box.density.shape
    border = model.context_border
    bordered = np.pad(box.density, border, constant_values=box.zero_level)
    padded = pad_to(bordered, round_up(bordered.shape, model.multiple), box.zero_level)
    x = torch.from_numpy(padded)[None, None].to(device.torch_device)
    last = device.channels_last if channels_last is None else channels_last
    model.eval()
    views = FLIPS if flips else ((),)
    total: torch.Tensor | None = None
    with torch.inference_mode(), device.amp():
        for axes in views:
            view = torch.flip(x, axes) if axes else x
            if last:
                view = view.contiguous(memory_format=torch.channels_last_3d)
            probs = torch.softmax(model(view).float(), dim=1)
            probs = torch.flip(probs, axes) if axes else probs
            total = probs if total is None else total + probs
    assert total is not None
    inner = tuple(slice(border, border + n) for n in shape)
    return (total[0] / len(views))[(slice(None), *inner)].cpu().numpy()


def predict_sample(
    model: UNet3D | SeedEnsemble, box: Box, factor: int, device: Device, flips: bool = False
) -> np.ndarray:
    """Class probabilities [3, Z, Y, X] on the sample's own (1 Å) grid for a network whose grid
    is `factor` times coarser (cryosse.learn.augment.coarsen_box / network_input.refine)."""
    probs = predict_box(model, coarsen_box(box, factor), device, flips=flips)
    return refine(probs, factor, box.density.shape)
