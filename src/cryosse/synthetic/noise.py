"""The noise of a simulated map, drawn with the signal-to-noise ratio it is scaled to.

Version 1: white Gaussian noise shaped by a Gaussian low-pass of σ = `NOISE_SIGMA_FACTOR` · σ_res
and the map's Butterworth filter, plus a white fraction. The solvent model (`solvent_noise`) is
what a deposited map's solvent looks like: sharpened noise up to the cutoff and a smooth,
uneven background.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import fft

from cryosse.synthetic.fourier import butterworth, gaussian_transfer, k_squared
from cryosse.synthetic.parameters import log_uniform, uniform

SNR = (4.0, 25.0)
NOISE_SIGMA_FACTOR = (0.0, 0.5)
WHITE_FRACTION = (0.0, 0.03)
SOLVENT_SNR = (2.5, 10.0)  # envelope mean / solvent sd; EMD-5168 (full, 6.6 Å): 4.1
SOLVENT_TILT = (0.5, 2.0)  # noise amplitude ∝ (|k|·res)^tilt below the cutoff: sharpened noise
SOLVENT_LOW = (0.0, 0.3)  # share of a smooth (20-40 Å) background: uneven solvent, ice, etc.


def v1_noise(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    voxel: float,
    res: float,
    order: int,
    sigma_res: float,
) -> tuple[np.ndarray, dict[str, Any], float]:
    """Version 1's noise (unit sd of the shaped part), its parameters and the drawn SNR (the map
    is scaled by this SNR, not by the rounded one recorded)."""
    snr = log_uniform(rng, SNR)
    noise_sigma = uniform(rng, NOISE_SIGMA_FACTOR) * sigma_res
    white_fraction = uniform(rng, WHITE_FRACTION)
    white = rng.standard_normal(shape)
    noise_k2 = k_squared(shape, voxel)
    # The map's low-pass filter shapes the noise too (little power beyond 1/res).
    transfer = gaussian_transfer(noise_k2, noise_sigma) * butterworth(noise_k2, res, order)
    shaped = fft.irfftn(fft.rfftn(white) * transfer, s=shape)
    shaped /= shaped.std() or 1.0
    noise = (1 - white_fraction) * shaped + white_fraction * white
    params = {
        "model": "v1",
        "snr": round(snr, 3),
        "lowpass_sigma": round(noise_sigma, 3),
        "white_fraction": round(white_fraction, 3),
    }
    return noise, params, snr


def solvent_noise(
    rng: np.random.Generator, shape: tuple[int, int, int], voxel: float, res: float, order: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Unit-sd noise like a deposited map's solvent: white noise × (|k|·res)^tilt (sharpening
    lifts the high frequencies up to the cutoff) × the map's Butterworth filter, plus a smooth
    background (20-40 Å) of share `low`; and its parameters, with the SNR to scale it to."""
    snr = log_uniform(rng, SOLVENT_SNR)
    tilt = uniform(rng, SOLVENT_TILT)
    low = uniform(rng, SOLVENT_LOW)
    low_length = uniform(rng, (20.0, 40.0))
    k2 = k_squared(shape, voxel)
    transfer = (np.sqrt(k2) * res) ** tilt * butterworth(k2, res, order)
    shaped = fft.irfftn(fft.rfftn(rng.standard_normal(shape)) * transfer, s=shape)
    shaped /= shaped.std() or 1.0
    smooth = fft.irfftn(
        fft.rfftn(rng.standard_normal(shape)) * gaussian_transfer(k2, low_length / 2), s=shape
    )
    smooth /= smooth.std() or 1.0
    noise = math.sqrt(1 - low) * shaped + math.sqrt(low) * smooth
    params = {
        "model": "solvent",
        "snr": round(snr, 3),
        "tilt": round(tilt, 3),
        "smooth_share": round(low, 3),
        "smooth_length": round(low_length, 2),
    }
    return noise, params
