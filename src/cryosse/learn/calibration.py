"""Probabilities that mean what they say: temperature scaling fitted on the validation cases.

A network trained with focal and Dice losses is not calibrated: the first default model never
gave a sheet probability above 0.42 on real maps, so a ChimeraX surface at level 0.5 showed
nothing. Temperature scaling (Guo et al. 2017) divides the logits by one scalar T fitted to
minimise the negative log-likelihood of the true class over the central voxels of the
validation boxes (never the test maps). It changes no argmax, so masks and F1 stay as they are;
it is folded into the 1×1×1 head (weights and bias / T), so every inference path applies it
without knowing, and the checkpoint records T with the expected calibration error (ECE, 10
equal-width bins of the top-class probability) before and after.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryosse.io.run_layout import sample_dirs, split_roles
from cryosse.io.sample import SampleMeta
from cryosse.learn.augment import Box, coarsen_box, load_box
from cryosse.learn.checkpoint import grid_factor
from cryosse.learn.device import Device
from cryosse.learn.predict import predict_box
from cryosse.learn.unet import UNet3D

MAX_VOXELS = 2_000_000  # voxels kept for the fit (an even stride through all central voxels)


def validation_boxes(run_dir: Path, metadata: dict[str, Any]) -> list[Box]:
    """The validation boxes of a workflow run, on the grid of the checkpoint whose `metadata`
    is given (coarsened when it was trained on a coarser grid than the samples')."""
    manifest, roles = run_dir / "manifest.tsv", split_roles(run_dir / "splits/main.tsv")
    dirs = sample_dirs(manifest, roles, "validation")
    if not dirs:
        return []
    factor = grid_factor(metadata, float(SampleMeta.read(dirs[0]).voxel_size))
    return [coarsen_box(load_box(d), factor) for d in dirs]


def validation_logits(
    model: UNet3D, boxes: list[Box], device: Device
) -> tuple[np.ndarray, np.ndarray]:
    """(log-probabilities [N, 3], true classes [N]) over the central voxels of `boxes`."""
    scores, truth = [], []
    for box in boxes:
        probs = predict_box(model, box, device)
        scores.append(np.log(np.clip(probs[:, box.central], 1e-12, None)).T)
        truth.append(box.labels[box.central])
    logits, labels = np.concatenate(scores), np.concatenate(truth)
    stride = max(1, math.ceil(len(labels) / MAX_VOXELS))
    return logits[::stride].astype(np.float64), labels[::stride]


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = _softmax(logits, temperature)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(p, 1e-12, None)).mean())


def expected_calibration_error(
    logits: np.ndarray, labels: np.ndarray, temperature: float, bins: int = 10
) -> float:
    p = _softmax(logits, temperature)
    confidence, predicted = p.max(axis=1), p.argmax(axis=1)
    correct = predicted == labels
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] of least NLL (golden-section search on log T; NLL is unimodal in T)."""
    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(logits, labels, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(logits, labels, math.exp(b))
    return math.exp((low + high) / 2)


def calibrate(model: UNet3D, boxes: list[Box], device: Device) -> dict[str, Any]:
    """Fit T on `boxes`, fold it into `model`'s head (in place); what was fitted and measured."""
    if not boxes:
        raise ValueError("no validation case to calibrate on")
    logits, labels = validation_logits(model, boxes, device)
    temperature = fit_temperature(logits, labels)
    with torch.no_grad():
        model.head.weight.div_(temperature)
        if model.head.bias is not None:  # a head built without a bias has none to scale
            model.head.bias.div_(temperature)
    return {
        "method": "temperature scaling folded into the head (weights and bias / T)",
        "temperature": temperature,
        "fitted_on": f"central voxels of {len(boxes)} validation cases ({len(labels)} voxels)",
        "nll_before": nll(logits, labels, 1.0),
        "nll_after": nll(logits, labels, temperature),
        "ece_before": expected_calibration_error(logits, labels, 1.0),
        "ece_after": expected_calibration_error(logits, labels, temperature),
    }
