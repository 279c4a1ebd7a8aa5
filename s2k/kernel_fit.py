"""Fitting a parametric kernel family to an estimated kernel (projection onto the family).

The S2K estimator outputs a free-form kernel map. For the two parametric families the nearest member of
the family (least squares over the kernel's pixels) is a better estimate on average and names the blur in
the terms users think in:

* ``gaussian``: :func:`s2k.kernels.gaussian_kernel` (σ1 ≥ σ2, θ in [0, π)), fitted by
  bounded trust-region least squares (:func:`scipy.optimize.least_squares`) on (log σ1, log σ2, θ),
  started from the estimate's second moments and from that start turned by 90°;
* ``disk``: :func:`s2k.kernels.disk_kernel`, the radius on a 0.01-pixel grid over [0.5, 7] (the 15×15
  window), the best grid radius.

Measured on the estimator benchmark's set (BSD100 first 50, seed 0; ``benchmarks/estimator_table.py``,
columns ``dv`` and ``dv_network``): see ``docs/ESTIMATOR.md``. Motion kernels have no parametric model here
(:func:`fit_kernel` raises :class:`s2k.errors.S2KError`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from s2k.errors import S2KError
from s2k.kernels import gaussian_kernel, padded_disk

#: Families with a parametric model that :func:`fit_kernel` can fit.
PARAMETRIC_FAMILIES: tuple[str, ...] = ("gaussian", "disk")

DISK_RADII = np.round(np.arange(0.5, 7.0 + 1e-9, 0.01), 2)  # the disk fit's grid (HR pixels)
SIGMA_LIMITS = (0.2, 20.0)  # the Gaussian fit's σ range (HR pixels)


@dataclass(frozen=True)
class KernelFit:
    """The family member nearest to a kernel: its parameters (HR pixels, radians), the member itself
    (same shape as the fitted kernel, sum 1) and the relative residual ``‖k − fit‖₂ / ‖k‖₂``."""

    family: str
    params: dict[str, float]
    kernel: np.ndarray
    residual: float

    def describe(self, residual: bool = True) -> str:
        """One line for people, e.g. ``gaussian σ1=2.10 σ2=1.31 θ=0.52 rad (residual 4.1 %)``."""
        names = {"sigma1": "σ1", "sigma2": "σ2", "theta": "θ", "radius": "r"}
        parts = [f"{names.get(k, k)}={v:.2f}" for k, v in self.params.items()]
        unit = " rad" if "theta" in self.params else ""
        text = f"{self.family} {' '.join(parts)}{unit}"
        return f"{text} (residual {100 * self.residual:.1f} %)" if residual else text


def _check(k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise S2KError(f"expected a square kernel of odd side, got shape {k.shape}")
    if not np.isfinite(k).all() or k.sum() <= 0:
        raise S2KError("kernel must be finite with a positive sum")
    return k / k.sum()


def _residual(k: np.ndarray, fit: np.ndarray) -> float:
    return float(np.linalg.norm(k - fit) / max(np.linalg.norm(k), 1e-300))


def _moment_start(k: np.ndarray) -> tuple[float, float, float]:
    """σ1, σ2, θ of the kernel's second moments (in :func:`gaussian_kernel`'s convention)."""
    half = k.shape[0] // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    mx, my = (k * x).sum(), (k * y).sum()
    cxx = (k * (x - mx) ** 2).sum()
    cyy = (k * (y - my) ** 2).sum()
    cxy = (k * (x - mx) * (y - my)).sum()
    w, v = np.linalg.eigh(np.array([[cxx, cxy], [cxy, cyy]]))
    lo, hi = SIGMA_LIMITS
    s1, s2 = (float(np.clip(math.sqrt(max(e, 0.0)), lo, hi)) for e in (w[1], w[0]))
    theta = math.atan2(v[1, 1], v[0, 1])  # direction (x, y) of the larger eigenvalue
    return s1, s2, theta


def fit_gaussian(k: np.ndarray) -> KernelFit:
    """The anisotropic Gaussian nearest to ``k`` in least squares (module docstring)."""
    k = _check(k)
    size = k.shape[0]
    lo, hi = np.log(SIGMA_LIMITS)

    def diff(p: np.ndarray) -> np.ndarray:
        return (gaussian_kernel(size, math.exp(p[0]), math.exp(p[1]), p[2]) - k).ravel()

    s1, s2, theta = _moment_start(k)
    best = None
    for start in ((s1, s2, theta), (s1, s2, theta + math.pi / 2)):
        p0 = np.array([math.log(start[0]), math.log(start[1]), start[2]])
        p0[:2] = np.clip(p0[:2], lo + 1e-6, hi - 1e-6)  # strictly inside the bounds
        res = least_squares(diff, p0, bounds=([lo, lo, -np.inf], [hi, hi, np.inf]))
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    a, b, t = math.exp(best.x[0]), math.exp(best.x[1]), float(best.x[2])
    if b > a:  # σ1 is the larger: turn the axes
        a, b, t = b, a, t + math.pi / 2
    t = t % math.pi
    fit = gaussian_kernel(size, a, b, t)
    return KernelFit("gaussian", {"sigma1": a, "sigma2": b, "theta": t}, fit, _residual(k, fit))


@functools.lru_cache(maxsize=4)
def _disk_bank(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid radii whose disks fit a ``size``×``size`` window, and those disks."""
    radii = DISK_RADII[2 * np.ceil(DISK_RADII - 0.5) + 1 <= size]  # never empty: r = 0.5 fits 1×1
    return radii, np.stack([padded_disk(float(r), size) for r in radii])


def fit_disk(k: np.ndarray) -> KernelFit:
    """The defocus disk nearest to ``k`` in least squares (radius on a 0.01-pixel grid)."""
    k = _check(k)
    radii, bank = _disk_bank(k.shape[0])
    i = int(np.argmin(((bank - k[None]) ** 2).sum(axis=(1, 2))))
    fit = bank[i].copy()
    return KernelFit("disk", {"radius": float(radii[i])}, fit, _residual(k, fit))


def fit_kernel(k: np.ndarray, family: str) -> KernelFit:
    """Fit ``family``'s parametric model to kernel ``k`` (``gaussian`` or ``disk``)."""
    if family == "gaussian":
        return fit_gaussian(k)
    if family == "disk":
        return fit_disk(k)
    raise S2KError(
        f"no parametric model for {family!r} kernels; fitting is available for "
        f"{', '.join(PARAMETRIC_FAMILIES)}"
    )
