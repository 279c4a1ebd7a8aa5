"""The spectrum feature: the single-channel amplitude-spectrum input of the kernel estimator.

The paper feeds its generator "the 256 × 256 single-channel amplitude spectrum of the LR image" and leaves
the details open. s2k's choices, and why:

* **Grey**: BT.601 luminance (:func:`s2k.color.to_grey`), the same luma convention as the metrics. Blur acts
  identically on every channel, so one luminance channel carries the kernel's transfer function with the
  best signal-to-noise ratio; colour would only add JPEG chroma artefacts.
* **A fixed frequency grid**: the feature is always ``size × size`` and bin ``(u, v)`` always means the
  frequency ``(u / size, v / size)`` cycles per LR pixel, whatever the image size. The kernel's transfer
  function therefore appears at the same place for every image, which is what lets one network serve
  every input size. Images larger than ``size`` are cut into ``size × size`` tiles; images (or axes)
  smaller than ``size`` are used whole and zero-padded to ``size`` *after* windowing, which samples
  their spectrum on the same grid (interpolates it) rather than stretching it.
* **Welch averaging** (tiles overlapping by half, at most ``max_tiles`` per axis, the last tile flush with
  the border): the periodogram of one tile is a very noisy estimate (each bin is roughly exponentially
  distributed around the true power); averaging many tiles of a large image reduces that variance, so
  large images give a cleaner feature for free.
* **Hann window** on each tile, after removing the tile's weighted mean: without it the image borders
  (a discontinuity for the periodic DFT) add a bright cross along the axes that has nothing to do with the
  kernel, and the mean would put a spike at DC.
* **Log power, centred**: power spectra of natural images span many decades (roughly ``1/f²``), and a blur
  multiplies the power by ``|K(f)|²``; in the log domain that is an additive, shape-like pattern the
  network can read at every frequency. ``fftshift`` puts DC in the middle, as in the paper's figures.
  The DC bin itself (zero after mean removal) is replaced by the mean of its four neighbours.
* **Per-image standardisation** (zero mean, unit standard deviation over the map): removes the image's
  overall contrast, which says nothing about the kernel. A floor ``1e-10`` (in (0..1 intensity)² units,
  far under the 8-bit quantisation noise floor ~1e-6) keeps ``log`` finite.

The amplitude of a kernel and of its 180° rotation are equal, so this feature cannot tell them apart
(see :mod:`s2k.flip`).

Everything is computed in torch, batched; :func:`spectrum_feature` is the numpy entry point for one image.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from s2k.color import as_batch, to_grey_torch

DEFAULT_SIZE = 256
DEFAULT_MAX_TILES = 8
_POWER_FLOOR = 1e-10


def tile_starts(length: int, tile: int, max_tiles: int = DEFAULT_MAX_TILES) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels along an axis of ``length`` pixels.

    Half-overlapping tiles, the last one flush with the end; if that needs more than ``max_tiles`` tiles,
    ``max_tiles`` tiles are spread evenly instead. ``tile >= length`` or ``max_tiles = 1``: one tile at 0.
    """
    if tile >= length:
        return [0]
    n = -(-(length - tile) // (tile // 2)) + 1  # ceil division: tiles at stride tile/2
    n = min(n, max_tiles)
    if n <= 1:
        return [0]
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


@functools.lru_cache(maxsize=32)
def _hann2d(h: int, w: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    wy = torch.hann_window(h, periodic=False, dtype=dtype, device=device) if h > 1 else torch.ones(1)
    wx = torch.hann_window(w, periodic=False, dtype=dtype, device=device) if w > 1 else torch.ones(1)
    return (wy[:, None] * wx[None, :]).to(dtype=dtype, device=device)


def _full_from_half(half: torch.Tensor, size: int) -> torch.Tensor:
    """Complete a real signal's power spectrum from its ``rfft2`` half: ``P[u, v] = P[-u, -v]``."""
    neg_u = torch.remainder(-torch.arange(size, device=half.device), size)
    right = half[:, neg_u, 1 : size - size // 2].flip(-1)
    return torch.cat([half, right], dim=-1)


def luminance_tiles_torch(batch: torch.Tensor, size: int, max_tiles: int = DEFAULT_MAX_TILES) -> torch.Tensor:
    """BT.601 luminance (0..1) tiles of a ``B×C×H×W`` float batch in 0..255: ``B×T×th×tw`` with
    ``th = min(H, size)``, ``tw = min(W, size)`` at the positions of :func:`tile_starts` (T row-major)."""
    grey = to_grey_torch(batch)[:, 0] / 255.0
    h, w = grey.shape[-2:]
    th, tw = min(h, size), min(w, size)
    ys, xs = tile_starts(h, th, max_tiles), tile_starts(w, tw, max_tiles)
    return torch.stack([grey[:, y : y + th, x : x + tw] for y in ys for x in xs], dim=1)


def log_power_spectrum_torch(
    batch: torch.Tensor, size: int = DEFAULT_SIZE, max_tiles: int = DEFAULT_MAX_TILES
) -> torch.Tensor:
    """The log power spectrum of a batch of LR images before standardisation: ``B×size×size``, DC at
    ``(size // 2, size // 2)``, bin ``(u, v)`` at ``(u - size // 2) / size`` cycles per LR pixel, power in
    (0..1 intensity)² per pixel (module docstring for every choice)."""
    if batch.ndim != 4:
        raise ValueError(f"expected B×C×H×W, got shape {tuple(batch.shape)}")
    x = batch if batch.dtype == torch.float64 else batch.float()
    tiles = luminance_tiles_torch(x, size, max_tiles)  # B×T×th×tw
    th, tw = tiles.shape[-2:]
    win = _hann2d(th, tw, tiles.dtype, str(tiles.device))
    mean = (tiles * win).sum(dim=(-2, -1), keepdim=True) / win.sum()
    tiles = (tiles - mean) * win
    f = torch.fft.rfft2(tiles, s=(size, size))  # real input: half the spectrum, the rest by symmetry
    half = (f.real**2 + f.imag**2).mean(dim=1) / (win**2).sum()  # per-pixel variance units
    power = _full_from_half(half, size)  # B×size×size
    power[:, 0, 0] = 0.25 * (power[:, 0, 1] + power[:, 1, 0] + power[:, 0, -1] + power[:, -1, 0])
    logp = torch.log(power + _POWER_FLOOR)
    return torch.fft.fftshift(logp, dim=(-2, -1))


def spectrum_feature_torch(
    batch: torch.Tensor, size: int = DEFAULT_SIZE, max_tiles: int = DEFAULT_MAX_TILES
) -> torch.Tensor:
    """Spectrum feature of a batch of LR images (see the module docstring for every choice).

    Args:
        batch: ``B×C×H×W`` tensor in 0..255 units, C = 1 (grey), 3 (RGB) or 4 (RGBA, alpha ignored).
        size: side of the output map (the frequency grid), e.g. 256 as in the paper.
        max_tiles: most tiles per axis for images larger than ``size``.

    Returns:
        ``B×1×size×size`` float tensor (float32 unless the input is float64): standardised log power
        spectrum (:func:`log_power_spectrum_torch`), DC at ``(size // 2, size // 2)``.
    """
    logp = log_power_spectrum_torch(batch, size, max_tiles)
    mu = logp.mean(dim=(-2, -1), keepdim=True)
    sd = logp.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    return ((logp - mu) / sd).unsqueeze(1)


def spectrum_feature(
    image: np.ndarray, size: int = DEFAULT_SIZE, max_tiles: int = DEFAULT_MAX_TILES
) -> np.ndarray:
    """Spectrum feature of one LR image (H×W or H×W×C, 0..255) as a ``size × size`` float32 array."""
    with torch.no_grad():
        return spectrum_feature_torch(as_batch(image), size=size, max_tiles=max_tiles)[0, 0].numpy()
