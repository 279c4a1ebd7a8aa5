"""Blur kernels: the three families of the paper (Gaussian, motion, disk), samplers and kernel utilities.

Conventions used everywhere in s2k: a kernel is a 2-D float64 numpy array with odd side lengths, values
>= 0 and sum 1. It lives in HR pixel units and is centred on its middle pixel, index ``(h // 2, w // 2)``.
Array axis 0 is y (rows, pointing down) and axis 1 is x (columns, pointing right); offsets are returned
as ``(dy, dx)``.

The families follow ``docs/s2k-method.md`` §2:

* ``gaussian``: anisotropic Gaussian on 15×15, σ1, σ2 uniform in [1, 3], angle uniform;
* ``motion``: camera-shake trajectories in the spirit of Boracchi & Foi 2012 (TIP) on 23×23, exposure
  uniform in [0.15, 0.3], anxiety 0.005;
* ``disk``: the anti-aliased defocus disk of Matlab ``fspecial('disk', r)``, r uniform in [1, 3], padded
  to 15×15.

All random sampling is driven by an explicit :class:`numpy.random.Generator`; nothing here touches a
global random state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from s2k.errors import S2KError

#: The kernel families s2k knows, in a fixed order.
FAMILIES: tuple[str, ...] = ("gaussian", "motion", "disk")

#: The side length of every sampled kernel of a family (disk kernels are zero-padded up to it).
KERNEL_SIZES: dict[str, int] = {"gaussian": 15, "motion": 23, "disk": 15}

#: Default total trajectory length of a motion kernel, as a multiple of the kernel side (see motion_kernel):
#: 60 px for the paper's 23×23 kernels, Boracchi & Foi's default ``MaxTotalLength`` of 60 px, so the exposed
#: part (exposure 0.15-0.3) is a 9-18 px camera-shake path that fills the 23×23 canvas.
MOTION_LENGTH_FRACTION = 60.0 / 23.0

_DEFAULT_MOTION_EXPOSURE_RANGE = (0.15, 0.3)
_DEFAULT_MOTION_ANXIETY = 0.005


# --------------------------------------------------------------------------------------------------------
# small argument checks


def _check_odd_size(size: int, name: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise S2KError(f"{name} must be an odd positive integer, got {size!r}")
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise S2KError(f"{name} must be an odd positive integer, got {size}")
    return size


def _check_positive(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise S2KError(f"{name} must be a finite positive number, got {value}")
    return value


def _check_range(bounds: tuple[float, float], name: str, upper: float | None = None) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as exc:
        raise S2KError(f"{name} must be a pair (low, high), got {bounds!r}") from exc
    bad_upper = upper is not None and hi > upper
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi < lo or bad_upper:
        limit = "" if upper is None else f" <= {upper}"
        raise S2KError(f"{name} must satisfy 0 < low <= high{limit}, got ({lo}, {hi})")
    return lo, hi


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# --------------------------------------------------------------------------------------------------------
# Gaussian


def gaussian_kernel(size: int, sigma1: float, sigma2: float, theta: float) -> np.ndarray:
    """Anisotropic Gaussian kernel of side ``size`` (odd), in HR pixels.

    The covariance is Σ = R(θ) diag(σ1², σ2²) R(θ)ᵀ written in (x, y) coordinates, where R(θ) is the
    rotation by ``theta`` radians that turns the +x axis (columns, right) towards the +y axis (rows,
    down); so σ1 is the standard deviation along the direction (cos θ, sin θ) in (x, y). The density
    exp(-½ dᵀ Σ⁻¹ d) is evaluated at the integer offsets d = (x, y) of each pixel from the middle pixel
    (no pixel-area integration) and the result is normalised to sum 1. Because the kernel is truncated
    to the window, its second moments fall slightly short of Σ for wide kernels (about 1.8 % along an
    axis for σ = 2.4 on 15×15, 2.6 % for σ = 2.5).
    """
    size = _check_odd_size(size)
    sigma1 = _check_positive(sigma1, "sigma1")
    sigma2 = _check_positive(sigma2, "sigma2")
    theta = float(theta)
    if not math.isfinite(theta):
        raise S2KError(f"theta must be finite, got {theta}")
    c, s = math.cos(theta), math.sin(theta)
    # Inverse covariance: R diag(1/σ1², 1/σ2²) Rᵀ.
    a1, a2 = 1.0 / sigma1**2, 1.0 / sigma2**2
    pxx = a1 * c * c + a2 * s * s
    pyy = a1 * s * s + a2 * c * c
    pxy = (a1 - a2) * c * s
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    quad = pxx * x * x + 2.0 * pxy * x * y + pyy * y * y
    k = np.exp(-0.5 * quad)
    return k / k.sum()


def isotropic_gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Isotropic Gaussian kernel of side ``size`` (odd) and standard deviation ``sigma`` in HR pixels.

    Same sampling convention as :func:`gaussian_kernel` (density at integer offsets from the middle
    pixel, normalised to sum 1); it is ``gaussian_kernel(size, sigma, sigma, 0)``.
    """
    return gaussian_kernel(size, sigma, sigma, 0.0)


# --------------------------------------------------------------------------------------------------------
# Disk


def _disk_band_primitive(x: np.ndarray, cap: np.ndarray, r: float) -> np.ndarray:
    """H(x) = ∫_0^x min(cap, sqrt(max(r² - t², 0))) dt for cap >= 0 (odd in x), elementwise."""
    # Where |t| <= xs the capped height is `cap`; beyond xs it is the circle's half-height, zero past r.
    xs = np.sqrt(np.maximum(r * r - cap * cap, 0.0))
    ax = np.minimum(np.abs(x), r)

    def circ(u: np.ndarray) -> np.ndarray:  # ∫_0^u sqrt(r² - t²) dt for 0 <= u <= r
        return 0.5 * (u * np.sqrt(np.maximum(r * r - u * u, 0.0)) + r * r * np.arcsin(np.clip(u / r, -1, 1)))

    inner = cap * np.minimum(ax, xs)
    outer = np.where(ax > xs, circ(ax) - circ(xs), 0.0)
    return np.sign(x) * (inner + outer)


def _disk_rect_area(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray, r: float) -> np.ndarray:
    """Exact area of [x0, x1] × [y0, y1] ∩ {x² + y² <= r²}, elementwise."""

    def g(yb: np.ndarray) -> np.ndarray:  # signed area of the band between 0 and yb, over [x0, x1]
        cap = np.abs(yb)
        return np.sign(yb) * (_disk_band_primitive(x1, cap, r) - _disk_band_primitive(x0, cap, r))

    return g(y1) - g(y0)


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased defocus disk of radius ``radius`` (HR pixels), like Matlab ``fspecial('disk', r)``.

    The kernel has side 2·ceil(r - 0.5) + 1 (so the whole circle lies inside it; r <= 0.5 gives the
    1×1 kernel [[1]]). Each pixel, the unit square centred on its integer offset from the middle pixel,
    is weighted by the exact area of its intersection with the circle of radius r centred on the middle
    pixel's centre, computed in closed form (integrals of sqrt(r² - x²) via arcsin); the weights are then
    normalised to sum 1. For the radii checked against Matlab (e.g. r = 1: corner 0.0251, edge 0.1453,
    centre 0.3183) this is the same kernel; Matlab evaluates a hand-written per-pixel expression, and
    should it ever disagree with the exact area in a corner case, this function follows the exact area.
    """
    r = _check_positive(radius, "radius")
    half = math.ceil(r - 0.5)
    if half > 10_000:
        raise S2KError(f"radius {r} is too large for a disk kernel")
    off = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(off, off, indexing="ij")
    area = _disk_rect_area(x - 0.5, x + 0.5, y - 0.5, y + 0.5, r)
    area = np.maximum(area, 0.0)  # rounding can leave -1e-17 on pixels the circle only touches
    return area / area.sum()


def padded_disk(radius: float, size: int = KERNEL_SIZES["disk"]) -> np.ndarray:
    """:func:`disk_kernel` of ``radius`` zero-padded, centred, to ``size``×``size`` (by default the disk
    family's kernel size, :data:`KERNEL_SIZES`)."""
    return pad_kernel(disk_kernel(radius), size)


# --------------------------------------------------------------------------------------------------------
# Motion (camera shake)


def _draw_motion_randomness(rng: np.random.Generator, n_samples: int) -> dict[str, np.ndarray | float]:
    """All random numbers one trajectory needs, drawn in a fixed order (independent of the exposure)."""
    steps = n_samples - 1
    return {
        "angle0": rng.uniform(0.0, 2.0 * np.pi),  # initial direction of motion
        "centripetal": rng.uniform(0.0, 0.7),  # strength of the pull back toward the origin
        "shake": rng.uniform(0.0, 10.0),  # scale of the Gaussian velocity perturbation
        "impulse_freq": rng.uniform(0.0, 0.2),  # impulsive-shake rate, multiplied by anxiety
        "noise": rng.standard_normal((steps, 2)),
        "impulse_u": rng.uniform(0.0, 1.0, steps),  # impulse happens where u < impulse_freq · anxiety
        "impulse_angle": rng.uniform(-0.5, 0.5, steps),  # angular jitter of the impulse around reversal
    }


def _motion_trajectories(draws: list[dict], n_samples: int, length: float, anxiety: float) -> np.ndarray:
    """Integrate the trajectories of ``draws`` (vectorised over kernels): complex array (n, n_samples)."""
    n = len(draws)
    steps = n_samples - 1
    step = length / steps  # speed, so that the whole trajectory has length `length`
    angle0 = np.array([d["angle0"] for d in draws])
    centripetal = np.array([d["centripetal"] for d in draws])
    shake = np.array([d["shake"] for d in draws])
    freq = np.array([d["impulse_freq"] for d in draws])
    noise = np.stack([d["noise"] for d in draws])  # (n, steps, 2)
    impulse_u = np.stack([d["impulse_u"] for d in draws])
    impulse_angle = np.stack([d["impulse_angle"] for d in draws])

    # Gaussian perturbation of the velocity: anxiety · shake · N(0, 1) in each axis, in units of the step.
    # Arrays are laid out (step, kernel) so each time step reads a contiguous row.
    perturb = np.ascontiguousarray((anxiety * step * shake) * (noise[..., 0] + 1j * noise[..., 1]).T)
    # Impulsive shake: with probability impulse_freq · anxiety per step the velocity receives a kick of twice
    # its own size pointing backwards (angle π ± 0.5 rad), which roughly reverses the motion. Stored as the
    # factor (1 + kick) that multiplies the velocity.
    hit = (impulse_u < (freq * anxiety)[:, None]).T
    carry = np.ascontiguousarray(np.where(hit, 1.0 + 2.0 * np.exp(1j * (np.pi + impulse_angle.T)), 1.0 + 0j))
    pull = anxiety * step * centripetal  # centripetal pull per step, proportional to the position

    if n == 1:  # one trajectory: the same recursion on Python scalars is ~15× faster than on 1-element arrays
        c_list, p_list = carry[:, 0].tolist(), perturb[:, 0].tolist()
        pull1, p1, v1 = float(pull[0]), 0j, complex(step * np.exp(1j * angle0[0]))
        out = [0j] * n_samples
        for t in range(steps):
            v1 = v1 * c_list[t] + p_list[t] - pull1 * p1
            v1 = v1 * (step / max(abs(v1), 1e-300))
            p1 = p1 + v1
            out[t + 1] = p1
        return np.array(out, dtype=np.complex128)[None, :]

    traj = np.empty((n_samples, n), dtype=np.complex128)
    pos = np.zeros(n, dtype=np.complex128)
    vel = step * np.exp(1j * angle0)
    traj[0] = pos
    for t in range(steps):
        vel = vel * carry[t] + perturb[t] - pull * pos
        vel *= step / np.maximum(np.abs(vel), 1e-300)  # constant speed (a zero velocity stays zero)
        pos = pos + vel
        traj[t + 1] = pos
    return traj.T


def _splat_motion(traj: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Re-centre, fit and bilinearly splat the first counts[i] samples of each trajectory: (n, size, size)."""
    n, n_samples = traj.shape
    centre = (size - 1) / 2.0
    mask = np.arange(n_samples)[None, :] < counts[:, None]
    mean = np.where(mask, traj, 0).sum(axis=1) / counts
    d = traj - mean[:, None]
    # Largest offset per axis among exposed samples; bilinear splatting needs positions in [0, size - 1].
    reach = np.where(mask, np.maximum(np.abs(d.real), np.abs(d.imag)), 0.0).max(axis=1)
    scale = np.where(reach > centre, centre / np.where(reach > 0, reach, 1.0), 1.0)
    d = d * scale[:, None]
    px = np.clip(centre + d.real, 0.0, size - 1.0)
    py = np.clip(centre + d.imag, 0.0, size - 1.0)
    # Lower-left corner of each sample's 2×2 splat; a sample on the last row/column uses fraction 1.
    ix = np.minimum(np.floor(px), max(size - 2, 0)).astype(np.int64)
    iy = np.minimum(np.floor(py), max(size - 2, 0)).astype(np.int64)
    fx, fy = px - ix, py - iy
    w = mask.astype(np.float64)
    base = (np.arange(n) * size * size)[:, None]
    # Slack at the end: for size 1 the (zero-weight) x+1 / y+1 neighbours index past the last kernel.
    out = np.zeros(n * size * size + 2 * size + 2)
    for oy, wy in ((0, 1.0 - fy), (1, fy)):
        for ox, wx in ((0, 1.0 - fx), (1, fx)):
            idx = base + (iy + oy) * size + (ix + ox)
            out += np.bincount(idx[mask], weights=(w * wy * wx)[mask], minlength=out.size)[: out.size]
    k = out[: n * size * size].reshape(n, size, size)
    return k / k.sum(axis=(1, 2), keepdims=True)


def _motion_batch(
    draws: list[dict], exposures: np.ndarray, size: int, length: float, anxiety: float, n_samples: int
) -> np.ndarray:
    traj = _motion_trajectories(draws, n_samples, length, anxiety)
    counts = np.maximum(1, np.rint(np.asarray(exposures) * n_samples)).astype(np.int64)
    counts = np.minimum(counts, n_samples)
    return _splat_motion(traj, counts, size)


def _check_motion_args(
    size: int, anxiety: float, length: float | None, n_samples: int
) -> tuple[int, float, float, int]:
    size = _check_odd_size(size)
    anxiety = float(anxiety)
    if not math.isfinite(anxiety) or anxiety < 0:
        raise S2KError(f"anxiety must be a finite number >= 0, got {anxiety}")
    length = MOTION_LENGTH_FRACTION * size if length is None else _check_positive(length, "length")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise S2KError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    return size, anxiety, length, int(n_samples)


def motion_kernel(
    size: int = 23,
    exposure: float = 0.3,
    anxiety: float = 0.005,
    length: float | None = None,
    rng: np.random.Generator | int | None = None,
    n_samples: int = 2000,
) -> np.ndarray:
    """Camera-shake PSF of side ``size`` from a random trajectory, after Boracchi & Foi 2012 (TIP).

    A 2-D trajectory (complex positions, x = real part, y = imaginary part, in HR pixels) of
    ``n_samples`` points starts at the origin with a random direction. At each step the velocity keeps
    its previous value (inertia) and receives (i) a Gaussian perturbation of per-trajectory scale drawn in
    [0, 10], times ``anxiety``, (ii) a centripetal pull ``-anxiety · c · position`` with c drawn in
    [0, 0.7], and (iii) rarely, with probability ``anxiety · f`` per step (f drawn in [0, 0.2]), an
    impulsive shake: a kick of twice the velocity pointing backwards (angle π ± 0.5 rad), which roughly
    reverses the motion. Perturbations are in units of the step length. The velocity is then
    renormalised so every step has length ``length / (n_samples - 1)``, i.e. the whole trajectory has
    length ``length``; the default is ``60 · size / 23`` (60 px for 23, Boracchi & Foi's default total
    length; with the paper's exposures 0.15-0.3 the exposed path is 9-18 px long). The PSF is the bilinear
    splat (weights (1 - |Δx|)(1 - |Δy|)) of the first ``round(exposure · n_samples)`` samples (``exposure`` in
    (0, 1], the fraction of the exposure time), so a longer exposure gives a longer path and a larger
    blur. Before splatting the exposed samples are shifted so that their mean lies on the middle pixel;
    bilinear splatting preserves the first moment, so the kernel's centre of mass is exactly the middle
    pixel. A centred path of length L reaches at most L/2 from its mean, so with length <= size - 1 every
    sample lies on the grid; otherwise the exposed part is scaled down about its mean just enough to fit.
    The trajectory depends only on ``rng`` (a Generator, a seed or None), not on ``exposure``, so one seed
    with two exposures gives two nested parts of the same path. Returns a float64 array summing to 1.
    """
    size, anxiety, length, n_samples = _check_motion_args(size, anxiety, length, n_samples)
    exposure = float(exposure)
    if not math.isfinite(exposure) or not 0.0 < exposure <= 1.0:
        raise S2KError(f"exposure must lie in (0, 1], got {exposure}")
    draws = [_draw_motion_randomness(_as_generator(rng), n_samples)]
    return _motion_batch(draws, np.array([exposure]), size, length, anxiety, n_samples)[0]


# --------------------------------------------------------------------------------------------------------
# samplers


def sample_gaussian(
    rng: np.random.Generator, size: int = 15, sigma_range: tuple[float, float] = (1.0, 3.0)
) -> np.ndarray:
    """Random anisotropic Gaussian kernel of side ``size``: σ1 then σ2 drawn independently and uniformly in
    ``sigma_range`` (HR pixels), then θ uniform in [0, π) radians (θ and θ + π give the same Gaussian, so
    this covers the paper's [0, 2π)); see :func:`gaussian_kernel` for the conventions."""
    lo, hi = _check_range(sigma_range, "sigma_range")
    s1, s2 = rng.uniform(lo, hi, size=2)
    theta = rng.uniform(0.0, np.pi)
    return gaussian_kernel(size, float(s1), float(s2), float(theta))


def sample_motion(
    rng: np.random.Generator,
    size: int = 23,
    exposure_range: tuple[float, float] = _DEFAULT_MOTION_EXPOSURE_RANGE,
    anxiety: float = _DEFAULT_MOTION_ANXIETY,
) -> np.ndarray:
    """Random camera-shake kernel of side ``size``: the exposure is drawn uniformly in ``exposure_range``
    (fractions of the exposure time, within (0, 1]), then a trajectory is drawn from ``rng`` as in
    :func:`motion_kernel` with the given ``anxiety`` and the default length (60 · size / 23)."""
    lo, hi = _check_range(exposure_range, "exposure_range", upper=1.0)
    exposure = float(rng.uniform(lo, hi))
    return motion_kernel(size, exposure, anxiety, rng=rng)


def _sample_motion_batch(
    rng: np.random.Generator,
    n: int,
    size: int = 23,
    exposure_range: tuple[float, float] = _DEFAULT_MOTION_EXPOSURE_RANGE,
    anxiety: float = _DEFAULT_MOTION_ANXIETY,
    n_samples: int = 2000,
) -> np.ndarray:
    """``n`` calls of :func:`sample_motion` on ``rng`` (same draws, same kernels), vectorised."""
    lo, hi = _check_range(exposure_range, "exposure_range", upper=1.0)
    size, anxiety, length, n_samples = _check_motion_args(size, anxiety, None, n_samples)
    exposures = np.empty(n)
    draws = []
    for i in range(n):
        exposures[i] = rng.uniform(lo, hi)
        draws.append(_draw_motion_randomness(rng, n_samples))
    if n == 0:
        return np.zeros((0, size, size))
    return _motion_batch(draws, exposures, size, length, anxiety, n_samples)


def sample_disk(
    rng: np.random.Generator, size: int = 15, radius_range: tuple[float, float] = (1.0, 3.0)
) -> np.ndarray:
    """Random defocus disk: radius drawn uniformly in ``radius_range`` (HR pixels), built by
    :func:`disk_kernel` at its natural size 2·ceil(r - 0.5) + 1 and zero-padded, centred, to ``size``
    (odd) so every sample has the same shape; raises S2KError if the largest radius does not fit."""
    size = _check_odd_size(size)
    lo, hi = _check_range(radius_range, "radius_range")
    if 2 * math.ceil(hi - 0.5) + 1 > size:
        raise S2KError(f"radius_range up to {hi} does not fit a {size}×{size} kernel")
    r = float(rng.uniform(lo, hi))
    return padded_disk(r, size)


_SAMPLERS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "gaussian": sample_gaussian,
    "motion": sample_motion,
    "disk": sample_disk,
}


def _check_family(family: str) -> str:
    if family not in _SAMPLERS:
        raise S2KError(f"unknown kernel family {family!r}; expected one of: {', '.join(FAMILIES)}")
    return family


def sample_kernel(family: str, rng: np.random.Generator) -> np.ndarray:
    """One random kernel of ``family`` (one of :data:`FAMILIES`) with the paper's default parameters and
    the family's size :data:`KERNEL_SIZES` ``[family]``, drawn from ``rng``; raises S2KError for an
    unknown family."""
    return _SAMPLERS[_check_family(family)](rng)


def sample_kernels(family: str, n: int, seed: int) -> np.ndarray:
    """A reproducible stack of ``n`` kernels of ``family``, shape (n, size, size) with size =
    :data:`KERNEL_SIZES` ``[family]``: the result equals ``n`` successive :func:`sample_kernel` calls on
    ``np.random.default_rng(seed)`` (motion kernels are computed in one vectorised batch)."""
    _check_family(family)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise S2KError(f"n must be an integer >= 0, got {n!r}")
    rng = np.random.default_rng(seed)
    size = KERNEL_SIZES[family]
    if family == "motion":
        return _sample_motion_batch(rng, int(n), size)
    if n == 0:
        return np.zeros((0, size, size))
    return np.stack([sample_kernel(family, rng) for _ in range(int(n))])


@functools.lru_cache(maxsize=8)
def motion_kernel_pool(n: int = 500, seed: int = 0) -> np.ndarray:
    """A reproducible pool of ``n`` camera-shake kernels (n × 23 × 23), like the paper's 500 kernels.

    It is ``sample_kernels("motion", n, seed)``: exposures uniform in [0.15, 0.3], anxiety 0.005. The
    result is cached in-process per (n, seed) and returned read-only; copy it before modifying it.
    """
    pool = sample_kernels("motion", n, seed)
    pool.setflags(write=False)
    return pool


# --------------------------------------------------------------------------------------------------------
# utilities


def _target_shape(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return _check_odd_size(size), _check_odd_size(size)
    try:
        h, w = size  # type: ignore[misc]
    except (TypeError, ValueError) as exc:
        raise S2KError(f"size must be an odd integer or a pair of odd integers, got {size!r}") from exc
    return _check_odd_size(h, "size[0]"), _check_odd_size(w, "size[1]")


def pad_kernel(k: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Return kernel ``k`` (2-D, odd sides) on a centred canvas of ``size`` (an odd int for a square, or
    (height, width)): zero-padded symmetrically on axes where it is smaller, cropped symmetrically where
    it is larger, so the middle pixel stays the middle pixel; the result is float64, renormalised to sum
    1 (S2KError if nothing of the kernel is left)."""
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise S2KError(f"kernel must be a 2-D array with odd side lengths, got shape {k.shape}")
    th, tw = _target_shape(size)
    out = np.zeros((th, tw))
    h, w = k.shape
    # Offsets of the smaller extent inside the larger one, per axis (always integers: both sizes are odd).
    sy, dy = max((h - th) // 2, 0), max((th - h) // 2, 0)
    sx, dx = max((w - tw) // 2, 0), max((tw - w) // 2, 0)
    ch, cw = min(h, th), min(w, tw)
    out[dy : dy + ch, dx : dx + cw] = k[sy : sy + ch, sx : sx + cw]
    total = out.sum()
    if not total > 0:
        raise S2KError("kernel has no positive mass left after padding/cropping")
    return out / total


def align_kernels(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put kernels ``a`` and ``b`` (2-D, odd sides) on one common centred canvas whose height and width
    are the larger of the two per axis, each zero-padded (see :func:`pad_kernel`) and renormalised to sum
    1, so they can be compared pixel by pixel; returns ``(a_aligned, b_aligned)``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise S2KError(f"kernels must be 2-D arrays, got shapes {a.shape} and {b.shape}")
    shape = (max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1]))
    return pad_kernel(a, shape), pad_kernel(b, shape)


def center_of_mass(k: np.ndarray) -> tuple[float, float]:
    """Offset ``(dy, dx)`` in pixels of the kernel's centroid (its mass-weighted mean position) from its
    middle pixel ``(h // 2, w // 2)``; y points down (rows), x right (columns). The kernel is treated
    as a mass distribution and need not be normalised, but its sum must be positive."""
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2:
        raise S2KError(f"kernel must be a 2-D array, got shape {k.shape}")
    total = k.sum()
    if not total > 0:
        raise S2KError("kernel sum must be positive to have a centre of mass")
    h, w = k.shape
    ys = np.arange(h) - h // 2
    xs = np.arange(w) - w // 2
    dy = float((k.sum(axis=1) * ys).sum() / total)
    dx = float((k.sum(axis=0) * xs).sum() / total)
    return dy, dx


def bicubic_like_kernel(scale: int) -> np.ndarray:
    """The kernel a bicubic-trained ("kernel-unaware") SR method assumes: the anti-aliasing kernel of
    Matlab's ``imresize(·, 1/s, 'bicubic')``, ``c(x/s)/s`` with Keys' cubic ``c`` (a = -0.5), separable and
    centred on s2k's grid, keeping its positive main lobe ``|x| < s`` (side ``2s - 1``; the small negative
    lobes at ``s < |x| < 2s`` are dropped, as s2k kernels are non-negative), normalised to sum 1.
    ``scale`` 1 gives the delta."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise S2KError(f"scale must be an integer >= 1, got {scale!r}")
    x = np.abs(np.arange(-(scale - 1), scale) / scale)
    w = (1.5 * x - 2.5) * x * x + 1  # Keys' cubic for |x| <= 1, a = -0.5
    k = np.outer(w, w)
    return k / k.sum()


def flip180(k: np.ndarray) -> np.ndarray:
    """The kernel rotated by 180° (``k[::-1, ::-1]``): turns a correlation kernel into the matching
    convolution kernel and back; for odd sides the middle pixel stays in place."""
    return np.asarray(k)[::-1, ::-1]


def validate_kernel(k: np.ndarray, name: str = "kernel") -> np.ndarray:
    """Check a user-supplied kernel and return it as a new float64 array normalised to sum 1.

    Raises S2KError with a one-line message naming ``name`` if it is not a real numeric 2-D array, has
    an even side length (it could not be centred on a pixel), holds NaN or infinity, holds negative
    values (tiny negatives above -1e-12 × the largest magnitude, e.g. from resampling round-off, are
    clipped to 0), or does not have a positive sum.
    """
    try:
        if np.iscomplexobj(k):
            raise TypeError("complex")
        arr = np.array(k, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise S2KError(f"{name} must be a real numeric array") from exc
    if arr.ndim != 2:
        raise S2KError(f"{name} must be a 2-D array, got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] % 2 == 0 or arr.shape[1] % 2 == 0:
        raise S2KError(f"{name} must have odd side lengths, got shape {arr.shape[0]}×{arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise S2KError(f"{name} contains NaN or infinite values")
    biggest = float(np.abs(arr).max())
    if float(arr.min()) < -1e-12 * biggest:
        raise S2KError(f"{name} has negative values (min {float(arr.min()):.3g})")
    arr = np.maximum(arr, 0.0)
    total = float(arr.sum())
    if not total > 0:
        raise S2KError(f"{name} must have a positive sum")
    return arr / total
