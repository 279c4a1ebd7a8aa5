"""Image and kernel metrics, with s2k's conventions (``../shared/docs/s2k-method.md`` §6).

* PSNR and SSIM on the BT.601 Y channel (:func:`s2k.color.rgb_to_y`) of 8-bit images in 0..255, with
  ``shave`` border pixels removed on every side (the IKC / DAN convention uses ``shave = scale``). SSIM is
  scikit-image's with an 11×11 Gaussian window of σ = 1.5 and the population covariance, as in Wang et
  al. 2004 (``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``: scikit-image truncates
  the Gaussian at 3.5σ, which gives the 11×11 window).
* Kernel errors of the paper's Eq. 13 on kernels aligned on a common centred canvas and renormalised to
  sum 1 (:func:`s2k.kernels.align_kernels`): ``D_v = mean |K_est − K_gt|`` (mean over the canvas pixels),
  ``D_s = Σ K_est log(K_est / K_gt)`` with ``ε = 1e-10`` added to both kernels, which are then renormalised.
  :func:`kernel_errors_flip` also gives the errors up to the 180° rotation the amplitude spectrum cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.metrics import structural_similarity

from s2k.color import rgb_to_y
from s2k.kernels import align_kernels, flip180

KL_EPS = 1e-10


def _y_pair(a: np.ndarray, b: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if ya.shape != yb.shape:
        raise ValueError(f"images differ in size: {ya.shape} vs {yb.shape}")
    if shave < 0:
        raise ValueError("shave must be >= 0")
    if shave:
        if min(ya.shape) <= 2 * shave:
            raise ValueError(f"image {ya.shape} too small to shave {shave} pixels")
        ya, yb = ya[shave:-shave, shave:-shave], yb[shave:-shave, shave:-shave]
    return ya, yb


def psnr_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """PSNR in dB between the Y channels of two images in 0..255 (peak 255), ``shave`` borders removed."""
    ya, yb = _y_pair(a, b, shave)
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """SSIM between the Y channels of two images in 0..255, ``shave`` borders removed (see module doc)."""
    ya, yb = _y_pair(a, b, shave)
    return float(
        structural_similarity(
            ya, yb, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
    )


def kernel_dv(k_est: np.ndarray, k_gt: np.ndarray) -> float:
    """``D_v``: mean absolute difference of the two kernels on their common centred canvas."""
    a, b = align_kernels(k_est, k_gt)
    return float(np.mean(np.abs(a - b)))


def kernel_ds(k_est: np.ndarray, k_gt: np.ndarray) -> float:
    """``D_s``: ``Σ K_est log(K_est / K_gt)`` on the common canvas, ``ε`` added to both and renormalised."""
    a, b = align_kernels(k_est, k_gt)
    a = (a + KL_EPS) / (a + KL_EPS).sum()
    b = (b + KL_EPS) / (b + KL_EPS).sum()
    return float(np.sum(a * np.log(a / b)))


@dataclass(frozen=True)
class KernelErrors:
    """Kernel errors as is and up to the 180° flip (the better of ``k_est`` and its rotation)."""

    dv: float
    ds: float
    dv_flip: float
    ds_flip: float


def kernel_errors(k_est: np.ndarray, k_gt: np.ndarray) -> KernelErrors:
    """``D_v``, ``D_s`` as is, and each minimised over ``{k_est, flip180(k_est)}``."""
    dv, ds = kernel_dv(k_est, k_gt), kernel_ds(k_est, k_gt)
    f = flip180(k_est)
    return KernelErrors(dv, ds, min(dv, kernel_dv(f, k_gt)), min(ds, kernel_ds(f, k_gt)))
