"""Fourier-space tools of simulated and derived maps: |k|² of a grid, the Gaussian and Butterworth
transfer functions, and a smooth random field.

Post-processing low-passes a map at its resolution with a Butterworth filter. Simulated maps draw
its order per map (`BUTTERWORTH_ORDERS`: software and settings differ); derived maps use one
order (`BUTTERWORTH_ORDER`), documented in `derive.py`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft
from scipy.special import ndtr

SIGMA_PER_RESOLUTION = 0.225  # ChimeraX molmap: σ = resolution / (π √2)
BUTTERWORTH_ORDERS = (4, 10)  # inclusive range drawn per simulated map
BUTTERWORTH_ORDER = 8  # the low-pass of derived maps


def sigma_for_resolution(resolution: float) -> float:
    return SIGMA_PER_RESOLUTION * resolution


def k_squared(shape_zyx: tuple[int, ...], voxel: float) -> np.ndarray:
    """|k|² (1/Å²) on the rfftn grid of a [z, y, x] array."""
    kz = np.fft.fftfreq(shape_zyx[0], d=voxel)[:, None, None]
    ky = np.fft.fftfreq(shape_zyx[1], d=voxel)[None, :, None]
    kx = np.fft.rfftfreq(shape_zyx[2], d=voxel)[None, None, :]
    return kz**2 + ky**2 + kx**2


def gaussian_transfer(k2: np.ndarray, sigma: float) -> np.ndarray:
    """Fourier transform of a unit-mass Gaussian of per-axis σ (Å): exp(−2π²σ²|k|²)."""
    return np.exp(-2.0 * math.pi**2 * sigma**2 * k2)


def butterworth(k2: np.ndarray, resolution: float, order: int) -> np.ndarray:
    """Butterworth low-pass at |k| = 1/resolution: 1 / sqrt(1 + (|k|·resolution)^(2·order))."""
    return 1.0 / np.sqrt(1.0 + (k2 * resolution**2) ** order)


def smooth_field(
    rng: np.random.Generator, shape_zyx: tuple[int, int, int], voxel: float, length: float
) -> np.ndarray:
    """A random field with values in (0, 1), smooth over `length` Å (Gaussian low-pass)."""
    white = rng.standard_normal(shape_zyx)
    field = fft.irfftn(
        fft.rfftn(white) * gaussian_transfer(k_squared(shape_zyx, voxel), length / 2), s=shape_zyx
    )
    field = (field - field.mean()) / (field.std() or 1.0)
    return ndtr(field)
