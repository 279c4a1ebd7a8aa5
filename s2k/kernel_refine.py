"""Refining an estimated kernel against the LR image: one kernel step of alternating blind deconvolution.

Given the LR image ``y``, an SR image ``x`` restored with the estimate ``k0`` and the scale ``s``, the
refined kernel is the non-negative least-squares solution of s2k's degradation (:mod:`s2k.degradation`)
``y ≈ (x ⊛ k)[0::s, 0::s]`` on the LR image's horizontal and vertical differences (which drop the mean and
weight the edges, where the blur shows), with a small ridge term, over the support of ``k0`` grown by a few
pixels; then normalised to sum 1. Only the LR pixels with the largest differences enter (at most
:attr:`RefineConfig.max_rows` equations), so time and memory stay bounded on large images.

Why: a free-form (motion) estimate that is slightly wrong makes the restoration ring; the kernel that
best explains the LR image *given* the restoration is the one the SR backend can use best, even where it is
no closer to the true kernel pixel by pixel (D_v). Measured in ``docs/SR.md`` ("Kernel refinement"): it
pays for motion kernels at ×2 (+0.7 dB with two rounds) and a little at ×3, hardly at ×4, and is neutral to
slightly harmful for Gaussian and disk kernels, whose family fit already constrains the estimate; so
:func:`s2k.super_resolve` refines by default only where :func:`s2k.pipeline.refines_by_default` says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.optimize import nnls

from s2k.color import as_hwc
from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.kernels import validate_kernel


@dataclass(frozen=True)
class RefineConfig:
    """Settings of :func:`refine_kernel`."""

    ridge: float = 1e-3  # ridge weight, relative to the mean diagonal of the normal matrix
    threshold: float = 0.01  # the estimate's support: pixels above this fraction of its peak ...
    dilate: int = 2  # ... grown by this many pixels (the refined kernel lives there)
    border: int = 8  # LR pixels left out along each edge (boundary handling of the SR image)
    max_rows: int = 60_000  # equations kept (the largest LR differences) to bound time and memory

    def __post_init__(self) -> None:
        if not self.ridge > 0:
            raise S2KError(f"ridge must be > 0, got {self.ridge}")
        if not 0 <= self.threshold < 1:
            raise S2KError(f"threshold must be in [0, 1), got {self.threshold}")
        if self.dilate < 0 or self.border < 0 or self.max_rows < 1:
            raise S2KError("dilate and border must be >= 0 and max_rows >= 1")


def support_offsets(kernel: np.ndarray, threshold: float, dilate: int) -> np.ndarray:
    """``m × 2`` (row, column) indices of the kernel pixels the refinement may use (see the module)."""
    k = np.asarray(kernel, dtype=np.float64)
    mask = k > threshold * k.max()
    if dilate:
        mask = binary_dilation(mask, iterations=dilate)
    return np.argwhere(mask)


def _check_pair(lr: np.ndarray, sr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = as_hwc(np.asarray(lr)).astype(np.float64), as_hwc(np.asarray(sr)).astype(np.float64)
    if y.shape[2] != x.shape[2]:
        raise S2KError(f"LR and SR images have different channel counts ({y.shape[2]} vs {x.shape[2]})")
    if x.shape[0] < scale * (y.shape[0] - 1) + 1 or x.shape[1] < scale * (y.shape[1] - 1) + 1:
        raise S2KError(f"SR image {x.shape[:2]} is too small for LR {y.shape[:2]} at ×{scale}")
    return y, x


def refine_kernel(
    lr: np.ndarray,
    sr: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    config: RefineConfig | None = None,
) -> np.ndarray:
    """The kernel that best explains ``lr`` given the SR image ``sr``, near ``kernel`` (module docstring).

    Args:
        lr: H×W(×C) LR image (0..255).
        sr: the SR image restored with ``kernel`` (s·H × s·W, same channels and units as ``lr``).
        kernel: the estimate to refine (odd sizes, >= 0); the result has its shape.
        scale: the integer scale of ``sr`` over ``lr``.
        config: :class:`RefineConfig` (defaults as measured).

    Returns:
        A float64 kernel of ``kernel``'s shape, >= 0, sum 1. If the image leaves no usable equations
        (smaller than twice the border, or a flat LR or SR image), ``kernel`` itself (normalised) is
        returned.
    """
    cfg = config or RefineConfig()
    s = check_scale(scale)
    k0 = validate_kernel(kernel)
    y, x = _check_pair(lr, sr, s)
    kh, kw = k0.shape
    h, w = y.shape[:2]
    b = cfg.border
    if h - 2 * b < 2 or w - 2 * b < 2:
        return k0
    # As a correlation, y[i, j] = Σ_(p, q) w[p, q] · xpad[s·i + p, s·j + q] with w = k flipped by 180°
    # and xpad the SR image reflected by half the kernel (the degradation's boundary convention).
    xpad = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)), mode="symmetric")
    offs = support_offsets(k0[::-1, ::-1], cfg.threshold, cfg.dilate)
    i, j, i2, j2, c, rhs = _difference_rows(y, b, cfg.max_rows)
    if not np.any(rhs):
        return k0
    # Design matrix, one row per tap: the SR pixel under tap (p, q) for each equation, differenced like
    # the LR rows. Flat indices into xpad: the tap only shifts them by a constant.
    width, ch = xpad.shape[1], xpad.shape[2]
    flat = xpad.ravel()
    base1 = (s * i * width + s * j) * ch + c
    base2 = (s * i2 * width + s * j2) * ch + c
    a_t = np.empty((len(offs), len(rhs)))
    for row, (p, q) in enumerate(offs):
        shift = (p * width + q) * ch
        np.subtract(flat[base2 + shift], flat[base1 + shift], out=a_t[row])
    normal = a_t @ a_t.T
    if not np.trace(normal) > 0:  # a flat SR image: nothing to fit
        return k0
    normal[np.diag_indices_from(normal)] += cfg.ridge * np.trace(normal) / len(offs)
    chol = np.linalg.cholesky(normal)
    # min ½ wᵀNw − cᵀw, w ≥ 0  ⇔  min ‖Lᵀw − L⁻¹c‖, w ≥ 0  (N = LLᵀ)
    weights, _ = nnls(chol.T, np.linalg.solve(chol, a_t @ rhs), maxiter=20 * len(offs))
    if not weights.sum() > 0:
        return k0
    flipped = np.zeros_like(k0)
    flipped[offs[:, 0], offs[:, 1]] = weights
    out = flipped[::-1, ::-1]
    return np.ascontiguousarray(out / out.sum())


def _difference_rows(
    y: np.ndarray, border: int, max_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The equations kept: LR positions ``(i, j)`` and their neighbour ``(i2, j2)`` (one step down or
    right), channel ``c``, and the LR difference ``y[i2, j2, c] − y[i, j, c]``; the largest ``max_rows``."""
    h, w, _ = y.shape
    inner = y[border : h - border, border : w - border]
    dv = inner[1:, :, :] - inner[:-1, :, :]
    dh = inner[:, 1:, :] - inner[:, :-1, :]
    iv, jv, cv = np.indices(dv.shape).reshape(3, -1)
    ih, jh, ch = np.indices(dh.shape).reshape(3, -1)
    i = np.concatenate([iv, ih]) + border
    j = np.concatenate([jv, jh]) + border
    c = np.concatenate([cv, ch])
    down = np.concatenate([np.ones_like(iv), np.zeros_like(ih)])
    d = np.concatenate([dv.ravel(), dh.ravel()])
    if len(d) > max_rows:
        keep = np.argpartition(np.abs(d), len(d) - max_rows)[len(d) - max_rows :]
        keep.sort()
        i, j, c, down, d = i[keep], j[keep], c[keep], down[keep], d[keep]
    return i, j, i + down, j + 1 - down, c, d
