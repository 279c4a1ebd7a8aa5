"""The noise level of an LR image, estimated from the image alone (``noise="auto"``).

s2k's degradation adds white Gaussian noise of standard deviation σ_n (0..255 units) to every channel
(:mod:`s2k.degradation`), and pnp weighs its data term by σ_n (:class:`s2k.sr.pnp.PnPConfig`): a noisy photo
restored as if it were noise-free has its noise sharpened along with its detail. :func:`estimate_noise`
gives σ_n for such photos.

Method (weak-texture patches, in the spirit of Liu et al., "Single-image noise level estimation for blind
denoising", TIP 2013, with a wavelet band instead of their PCA): per channel, the finest diagonal Haar
band ``(a − b − c + d) / 2`` of every 2×2 block (for white noise of σ_n its coefficients are N(0, σ_n²);
smooth image content nearly cancels in it); its root mean square in each ``patch × patch`` pixel block;
the ``quantile``-th lowest of those values, i.e. the flattest parts of the image, divided by the same
quantile of the root mean square of pure noise (a χ distribution with ``(patch/2)²`` degrees of freedom),
so that on pure noise the estimate is unbiased. Blocks touching 0 or 255 are skipped (clipping removes
noise there). Texture only adds to the band, so the estimate errs upwards on images without flat parts;
8-bit rounding alone reads as about 0.3 (docs/SR.md "Noise level from the image" has the measurements).
"""

from __future__ import annotations

import math

import numpy as np

from s2k.color import without_alpha
from s2k.errors import S2KError

PATCH = 8  # image pixels per side of a block (its diagonal band has (PATCH/2)² coefficients)
QUANTILE = 0.03  # which of the blocks' band RMS values is taken (the flattest 3 %)
JPEG_FLOOR_GAIN = 0.7  # jpeg_noise_floor: this × the RMS of a uniform error of the luminance steps
NOISY = 3.0  # s2k sr warns when an image it restores as noise-free reads at least this (0..255 units)
MIN_BLOCKS = 16  # fewer usable blocks than this: the image is too small or too saturated to tell


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


def estimate_noise(lr: np.ndarray, patch: int = PATCH, quantile: float = QUANTILE) -> float:
    """σ_n of the white Gaussian noise in an image (0..255 units, mean over the colour channels; module
    docstring). ``lr``: H×W or H×W×C in 0..255 (an alpha channel is ignored)."""
    if patch < 2 or patch % 2:
        raise S2KError(f"patch must be an even number >= 2, got {patch}")
    if not 0 < quantile < 1:
        raise S2KError(f"quantile must be in (0, 1), got {quantile}")
    image = without_alpha(np.asarray(lr))  # as it is: each channel goes to float64 on its own (memory)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or not np.all(np.isfinite(image)):
        raise S2KError(f"expected a finite H×W or H×W×C image, got shape {np.shape(lr)}")
    from scipy.stats import chi2  # here: scipy.stats takes a while to import

    n = (patch // 2) ** 2
    noise_quantile = np.sqrt(chi2.ppf(quantile, n) / n)  # the quantile of the RMS of n unit normals
    values = []
    for c in range(image.shape[2]):
        rms = block_band_rms(image[:, :, c], patch)
        if rms.size < MIN_BLOCKS:
            raise NoiseUnknown(
                f"too few unsaturated {patch}×{patch} blocks ({rms.size}) to estimate the noise level: "
                "give it instead (--noise σ)"
            )
        values.append(np.quantile(rms, quantile) / noise_quantile)
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


def auto_noise(lr: np.ndarray, floor: float = 0.0) -> tuple[float, bool]:
    """σ_n for ``noise="auto"``: :func:`estimate_noise` raised to ``floor`` (e.g. :func:`jpeg_noise_floor`),
    and whether it is known. An image too small or too saturated to tell gets ``floor``, known only if > 0."""
    try:
        return max(estimate_noise(lr), floor), True
    except NoiseUnknown:
        return floor, floor > 0

