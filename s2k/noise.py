"""The noise level of an LR image, estimated from the image alone (``noise="auto"``).

s2k's degradation adds white Gaussian noise of standard deviation σ_n (0..255 units) to every channel
(:mod:`s2k.degradation`), and pnp weighs its data term by σ_n (:class:`s2k.sr.pnp.PnPConfig`): a noisy photo
restored as if it were noise-free has its noise sharpened along with its detail. :func:`estimate_noise`
gives σ_n for such photos. Two methods, both per colour channel (the mean over the channels is returned):

* ``"pca"`` (the default): weak-texture patches and the eigenvalues of their covariance. The idea of Liu et
  al., "Single-image noise level estimation for blind denoising" (TIP 2013): a patch whose texture statistic
  (the sum of its squared horizontal and vertical pixel differences) is below what white noise of the current
  estimate reaches with probability ``confidence`` counts as weak-textured; the noise variance is read from
  those patches' covariance; three rounds. The variance is read with the rule of Chen et al., "An efficient
  statistical method for image noise level estimation" (ICCV 2015): the mean of the smallest eigenvalues,
  over the largest such tail whose mean equals its median (noise eigenvalues cluster; signal ones spread
  upwards), which is nearly unbiased where the smallest eigenvalue alone reads low. The first estimate is the
  ``"haar"`` one, which errs upwards, so the first selection is generous.
* ``"haar"`` (s2k's first method, kept for comparison): the finest diagonal Haar band ``(a − b − c + d) / 2``
  of every 2×2 block (white noise of σ_n passes as N(0, σ_n²); smooth content nearly cancels); its root mean
  square in each ``patch × patch`` pixel block; the ``quantile``-th lowest of those (the flattest blocks),
  divided by the same quantile for pure noise (a χ distribution with ``(patch/2)²`` degrees of freedom).
  Texture adds to the band, so it reads textured noise-free images as noisy (up to 9 grey levels on BSD100).

Blocks and patches touching 0 or 255 are skipped (clipping removes noise there). 8-bit rounding alone reads
as about 0.3. Measurements: docs/SR.md "Noise level from the image" and "A weak-texture noise estimate".
"""

from __future__ import annotations

import functools
import math

import numpy as np

from s2k.color import without_alpha
from s2k.errors import S2KError

PATCH = 8  # image pixels per side of a block (its diagonal band has (PATCH/2)² coefficients)
QUANTILE = 0.03  # which of the blocks' band RMS values is taken (the flattest 3 %)
JPEG_FLOOR_GAIN = 0.7  # jpeg_noise_floor: this × the RMS of a uniform error of the luminance steps
NOISY = 3.0  # s2k sr warns when an image it restores as noise-free reads at least this (0..255 units)
MIN_BLOCKS = 16  # fewer usable blocks than this: the image is too small or too saturated to tell
METHODS = ("pca", "haar")  # estimate_noise's methods (module docstring); the first is the default
TEXTURE_PATCH = 7  # "pca": pixels per side of a patch
CONFIDENCE = 0.99  # "pca": white noise's texture statistic stays below the weak-texture threshold this often
ROUNDS = 3  # "pca": selections of weak-texture patches, each with the previous round's estimate
MAX_PATCHES = 50_000  # "pca": patch positions looked at per channel at most (a regular grid): bounded memory


def check_noise_level(noise: object, what: str = "noise") -> float:
    """A noise level σ_n as a float (0..255 units): a finite number >= 0, else :class:`S2KError` naming
    ``what``."""
    try:
        value = float(noise)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise S2KError(f"{what} must be a number, got {noise!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise S2KError(f"{what} must be finite and >= 0, got {value}")
    return value


class NoiseUnknown(S2KError):
    """The image has too few usable blocks to estimate its noise level (too small or too saturated)."""


def diagonal_band(channel: np.ndarray) -> np.ndarray:
    """The finest diagonal Haar coefficients ``(a − b − c + d) / 2`` of each 2×2 block (even sides)."""
    c = np.asarray(channel, dtype=np.float64)
    return (c[0::2, 0::2] - c[0::2, 1::2] - c[1::2, 0::2] + c[1::2, 1::2]) / 2


def block_band_rms(channel: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """RMS of the diagonal band in each ``patch × patch`` block (the image cut to whole blocks), blocks with
    a pixel at 0 or 255 left out."""
    h, w = (channel.shape[0] // patch) * patch, (channel.shape[1] // patch) * patch
    c = np.asarray(channel, dtype=np.float64)[:h, :w]
    half = patch // 2
    band = diagonal_band(c).reshape(h // patch, half, w // patch, half).transpose(0, 2, 1, 3)
    rms = np.sqrt((band**2).mean(axis=(2, 3))).reshape(-1)
    blocks = c.reshape(h // patch, patch, w // patch, patch).transpose(0, 2, 1, 3).reshape(-1, patch * patch)
    clipped = (blocks.min(axis=1) <= 0) | (blocks.max(axis=1) >= 255)
    return rms[~clipped]


def _channels(lr: np.ndarray) -> np.ndarray:
    """``lr`` as H×W×C (alpha dropped, dtype kept: each channel goes to float64 on its own, for memory)."""
    image = without_alpha(np.asarray(lr))
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or not np.all(np.isfinite(image)):
        raise S2KError(f"expected a finite H×W or H×W×C image, got shape {np.shape(lr)}")
    return image


def _haar_channel(channel: np.ndarray, patch: int, quantile: float) -> float:
    """The ``"haar"`` reading of one channel (module docstring)."""
    from scipy.stats import chi2  # here: scipy.stats takes a while to import

    rms = block_band_rms(channel, patch)
    if rms.size < MIN_BLOCKS:
        raise NoiseUnknown(
            f"too few unsaturated {patch}×{patch} blocks ({rms.size}) to estimate the noise level: "
            "give it instead (--noise σ)"
        )
    n = (patch // 2) ** 2
    noise_quantile = np.sqrt(chi2.ppf(quantile, n) / n)  # the quantile of the RMS of n unit normals
    return float(np.quantile(rms, quantile) / noise_quantile)


def _check_haar(patch: int, quantile: float) -> None:
    if patch < 2 or patch % 2:
        raise S2KError(f"patch must be an even number >= 2, got {patch}")
    if not 0 < quantile < 1:
        raise S2KError(f"quantile must be in (0, 1), got {quantile}")


def eigen_tail_variance(eigenvalues: np.ndarray) -> float:
    """The noise variance in a covariance's eigenvalues: the mean of the smallest ones over the largest tail
    whose mean equals its median (as many of its values above the mean as below; Chen et al. 2015)."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    for i in range(lam.size):
        tail = lam[i:]
        m = tail.mean()
        if np.count_nonzero(tail > m) == np.count_nonzero(tail < m):
            return float(max(m, 0.0))
    return float(max(lam[-1], 0.0)) if lam.size else 0.0


@functools.lru_cache(maxsize=8)
def texture_threshold(patch: int, confidence: float) -> tuple[float, float]:
    """For unit white noise in a ``patch × patch`` patch: the ``confidence`` quantile of the texture statistic
    (the sum of the patch's squared horizontal and vertical differences), and the share of the noise variance
    that patches below it keep (leaving out the most textured noise patches biases the variance down by that
    factor). The statistic is a quadratic form ``zᵀAz``; its distribution is matched by a gamma one of the
    same mean ``tr A`` and variance ``2 tr A²`` (the kept share is then ``P(Γ(k+1) < q) / P(Γ(k) < q)``)."""
    from scipy.stats import gamma  # here: scipy.stats takes a while to import

    d = patch
    rows = []
    for y in range(d):
        for x in range(d):
            for dy, dx in ((0, 1), (1, 0)):
                if y + dy < d and x + dx < d:
                    r = np.zeros(d * d)
                    r[y * d + x], r[(y + dy) * d + x + dx] = -1.0, 1.0
                    rows.append(r)
    diff = np.array(rows)
    a = diff.T @ diff
    tr, tr2 = np.trace(a), np.trace(a @ a)
    shape, scale = tr * tr / (2 * tr2), 2 * tr2 / tr
    q = float(gamma.ppf(confidence, shape, scale=scale))
    return q, float(gamma.cdf(q, shape + 1, scale=scale) / confidence)


def grid_patches(channel: np.ndarray, patch: int, max_patches: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``patch × patch`` patches of a channel at the positions of a regular grid (at most
    ``max_patches``), as float32 rows, with their texture statistics (the sum of each patch's squared
    horizontal and vertical differences); patches touching 0 or 255 left out. Only the grid's patches are
    copied, so the memory used is theirs, whatever the image's size."""
    d = patch
    h, w = channel.shape[0] - d + 1, channel.shape[1] - d + 1
    step = max(1, math.ceil(math.sqrt(h * w / max_patches)))
    windows = np.lib.stride_tricks.sliding_window_view(channel, (d, d))[::step, ::step]
    # the grid's patches only; float32 holds 8-bit values, their differences and these sums exactly
    p = windows.astype(np.float32).reshape(-1, d, d)  # one copy: astype of the strided view
    p = p[(p.min(axis=(1, 2)) > 0) & (p.max(axis=(1, 2)) < 255)]
    texture = (np.diff(p, axis=1) ** 2).sum(axis=(1, 2)) + (np.diff(p, axis=2) ** 2).sum(axis=(1, 2))
    return texture, p.reshape(-1, d * d)


def weak_texture_noise(
    channel: np.ndarray,
    start: float,
    patch: int = TEXTURE_PATCH,
    confidence: float = CONFIDENCE,
    rounds: int = ROUNDS,
    max_patches: int = MAX_PATCHES,
) -> float:
    """σ_n of one channel by the ``"pca"`` method (module docstring), starting from the estimate ``start``
    (patches: :func:`grid_patches`). A round that selects fewer than ``2 · patch²`` patches keeps the previous
    estimate."""
    d = patch
    if channel.shape[0] < d or channel.shape[1] < d:
        return float(start)
    texture, patches = grid_patches(channel, d, max_patches)
    threshold, kept = texture_threshold(d, confidence)
    variance = float(start) ** 2
    for _ in range(rounds):
        chosen = texture < threshold * variance
        if np.count_nonzero(chosen) < 2 * d * d:
            break
        cov = np.cov(patches[chosen], rowvar=False)
        variance = eigen_tail_variance(np.linalg.eigvalsh(cov)) / kept
    return math.sqrt(variance)


def estimate_noise(
    lr: np.ndarray, method: str = "pca", patch: int = PATCH, quantile: float = QUANTILE
) -> float:
    """σ_n of the white Gaussian noise in an image (0..255 units, mean over the colour channels; module
    docstring). ``lr``: H×W or H×W×C in 0..255 (an alpha channel is ignored). ``method``: ``"pca"`` or
    ``"haar"``; ``patch`` and ``quantile`` are the ``"haar"`` reading's (``"pca"`` starts from it). Raises
    :class:`NoiseUnknown` when the image has too few unclipped blocks to tell."""
    if method not in METHODS:
        raise S2KError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    _check_haar(patch, quantile)
    image = _channels(lr)
    values = []
    for k in range(image.shape[2]):
        first = _haar_channel(image[:, :, k], patch, quantile)
        # the least start, 0.3, is about what 8-bit rounding alone reads: a flat channel still selects patches
        values.append(first if method == "haar" else weak_texture_noise(image[:, :, k], max(first, 0.3)))
    return float(np.mean(values))


def jpeg_noise_floor(luma_steps: np.ndarray) -> float:
    """The least σ_n to assume for an image stored as JPEG with these luminance quantisation steps
    (:func:`s2k.io.jpeg_luma_quantization`): ``JPEG_FLOOR_GAIN · sqrt(mean(Q² / 12))``, the RMS error of a
    uniform rounding of every DCT coefficient, scaled.

    JPEG flattens exactly the flat blocks :func:`estimate_noise` reads (a JPEG image reads 0–0.5), while its
    rounding error, spread over the whole image, makes a noise-free restoration ring and block. The gain was
    chosen on BSD100 LR images saved at quality 50–95 (docs/SR.md "JPEG files")."""
    q = np.asarray(luma_steps, dtype=np.float64)
    if q.size == 0 or not np.all(np.isfinite(q)) or np.any(q <= 0):
        raise S2KError("JPEG quantisation steps must be positive numbers")
    return JPEG_FLOOR_GAIN * float(np.sqrt(np.mean(q**2 / 12)))


def auto_noise(lr: np.ndarray, floor: float = 0.0, method: str = "pca") -> tuple[float, bool]:
    """σ_n for ``noise="auto"``: :func:`estimate_noise` (by ``method``) raised to ``floor`` (e.g.
    :func:`jpeg_noise_floor`), and whether it is known. An image too small or too saturated to tell gets
    ``floor``, known only if > 0."""
    try:
        return max(estimate_noise(lr, method), floor), True
    except NoiseUnknown:
        return floor, floor > 0
