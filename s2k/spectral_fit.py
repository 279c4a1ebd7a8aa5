"""A training-free kernel estimate: fit a Gaussian blur's transfer function to the LR image's spectrum.

The classical baseline of the benchmark (issue "s2k bench"). Natural images have a power spectrum close to
a power law, ``P_HR(ν) ∝ |ν|^-α``; a Gaussian kernel of covariance Σ (HR pixels) multiplies it by
``|K(ν)|² = exp(-4π² νᵀΣν)``; down-sampling by ``s`` maps HR frequency ν to LR frequency ``f = s·ν`` (aliasing
ignored). So the LR log power spectrum is modelled as

    log P_LR(f) = c − α · log|f| − (4π² / s²) · fᵀ Σ f,

which is *linear* in ``(c, α, Σxx, Σxy, Σyy)``: one least-squares solve on the Welch log power spectrum
(:func:`s2k.spectrum.log_power_spectrum_torch`) over a band of frequencies (``band`` in cycles per LR pixel:
the lowest frequencies hold the image's own structure, the highest the 8-bit quantisation noise floor).
Σ's eigenvalues are then clipped to the sampler's range ``[σ_min², σ_max²]`` and the kernel drawn with
:func:`s2k.kernels.gaussian_kernel`. No learning, no data: what the spectrum alone gives.
"""

from __future__ import annotations

import numpy as np
import torch

from s2k.color import as_batch
from s2k.degradation import check_scale
from s2k.kernels import gaussian_kernel
from s2k.spectrum import log_power_spectrum_torch


def fit_gaussian_covariance(
    lr: np.ndarray, scale: int, size: int = 64, band: tuple[float, float] = (0.04, 0.3)
) -> tuple[np.ndarray, float]:
    """The least-squares Σ (2×2, HR pixels², axis order y, x; not yet clipped) and power-law exponent α."""
    scale = check_scale(scale)
    with torch.no_grad():
        logp = log_power_spectrum_torch(as_batch(lr, np.float64), size=size)[0].numpy()
    f = (np.arange(size) - size // 2) / size
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fy, fx)
    sel = (r >= band[0]) & (r <= band[1])
    k = 4 * np.pi**2 / scale**2
    a = np.stack(
        [
            np.ones(sel.sum()),
            -np.log(r[sel]),
            -k * fy[sel] ** 2,
            -2 * k * fy[sel] * fx[sel],
            -k * fx[sel] ** 2,
        ],
        axis=1,
    )
    coef, *_ = np.linalg.lstsq(a, logp[sel], rcond=None)
    _, alpha, syy, sxy, sxx = coef
    return np.array([[syy, sxy], [sxy, sxx]]), float(alpha)


def spectral_fit_kernel(
    lr: np.ndarray,
    scale: int,
    size: int = 15,
    sigma_range: tuple[float, float] = (1.0, 3.0),
    band: tuple[float, float] = (0.04, 0.3),
) -> np.ndarray:
    """The Gaussian kernel (``size × size``, HR pixels, sum 1) whose transfer function best explains the
    LR image's spectrum under a power-law image prior (module docstring)."""
    cov, _ = fit_gaussian_covariance(lr, scale, band=band)
    vals, vecs = np.linalg.eigh(cov)
    lo, hi = sigma_range
    vals = np.clip(vals, lo**2, hi**2)
    # eigh: ascending; gaussian_kernel(size, σ1, σ2, θ) puts σ1 along the direction at angle θ from x
    major = vecs[:, 1]  # (y, x) components of the larger eigenvalue's direction
    theta = float(np.arctan2(major[0], major[1]))
    return gaussian_kernel(size, float(np.sqrt(vals[1])), float(np.sqrt(vals[0])), theta)
