"""Bicubic up-sampling on s2k's sampling grid: the reference baseline and the PnP initialisation.

s2k down-samples directly from index 0 (``LR = (HR ⊛ k)[0::s, 0::s]``), so LR pixel ``i`` *is* the sample
at HR position ``s·i``: not the pixel-area-centred grid of Matlab's ``imresize`` (where LR pixel ``i`` sits
at HR position ``s·i + (s − 1)/2``). Up-sampling here therefore places the LR samples at HR positions
``s·i`` and fills the HR pixel ``n`` by Keys' cubic convolution (``a = −0.5``, the kernel of Matlab's
bicubic) at the LR coordinate ``t = n / s``::

    HR(n) = Σ_m LR(m) · c(t − m),   4 taps m = ⌊t⌋ − 1 … ⌊t⌋ + 2,

separably along rows and columns. Properties: interpolating (``HR[s·i] == LR[i]`` exactly), weights sum to
1 (constants stay constant), exact on linear (and quadratic) ramps away from the borders. The LR image is
extended by half-sample symmetric reflection (``b a | a b``, s2k's border convention,
:func:`s2k.degradation.symmetric_pad_indices`) where the taps leave it. The output is ``s·H × s·W``.
"""

from __future__ import annotations

import numpy as np
import torch

from s2k.color import as_hwc
from s2k.degradation import check_scale, symmetric_pad_indices
from s2k.errors import S2KError

CUBIC_A = -0.5


def cubic_weight(x: torch.Tensor, a: float = CUBIC_A) -> torch.Tensor:
    """Keys' cubic convolution kernel ``c(x)`` (support ``|x| < 2``)."""
    ax = x.abs()
    near = ((a + 2) * ax - (a + 3)) * ax * ax + 1
    far = ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a
    return torch.where(ax <= 1, near, torch.where(ax < 2, far, torch.zeros_like(ax)))


def _upsample_axis(x: torch.Tensor, scale: int, dim: int) -> torch.Tensor:
    n_lr = x.shape[dim]
    pos = torch.arange(n_lr * scale, device=x.device)
    base = torch.div(pos, scale, rounding_mode="floor")
    frac = (pos - base * scale).to(x.dtype) / scale
    # padded index of LR sample m is m + 1 (one sample of reflection before, two after)
    idx = symmetric_pad_indices(n_lr, 1, 2, device=x.device)
    out = None
    for tap in range(-1, 3):
        w = cubic_weight(frac - tap)
        shape = [1] * x.ndim
        shape[dim] = -1
        term = x.index_select(dim, idx[base + tap + 1]) * w.reshape(shape)
        out = term if out is None else out + term
    return out


def bicubic_upsample_torch(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Up-sample the last two axes of ``lr`` (``…×H×W``) by ``scale`` on s2k's grid (module docstring).

    No clipping: the cubic kernel overshoots at edges. Works in ``lr``'s (floating) dtype.
    """
    scale = check_scale(scale)
    if scale == 1:
        return lr.clone()
    return _upsample_axis(_upsample_axis(lr, scale, lr.ndim - 2), scale, lr.ndim - 1)


def bicubic_upsample(lr: np.ndarray, scale: int, clip: bool = True) -> np.ndarray:
    """Bicubic up-sampling of an H×W or H×W×C image in 0..255 to ``s·H × s·W`` (float64).

    ``clip`` limits the result to 0..255 (the cubic kernel overshoots at sharp edges).
    """
    scale = check_scale(scale)
    arr = np.asarray(lr)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise S2KError(f"expected an H×W or H×W×C image, got shape {arr.shape}")
    im = as_hwc(arr).astype(np.float64)
    t = torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1)))
    out = bicubic_upsample_torch(t, scale).numpy().transpose(1, 2, 0)
    if clip:
        out = np.clip(out, 0.0, 255.0)
    out = np.ascontiguousarray(out)
    return out[:, :, 0] if arr.ndim == 2 else out


def image_resize_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic up-sampling as image editors and image libraries do it (Pillow's ``Image.resize`` with
    ``BICUBIC``, per channel in float): the pixel-area-centred grid, where HR pixel ``n`` samples the LR
    coordinate ``(n + 0.5)/s − 0.5``.

    This is what "bicubic interpolation" usually means to a user, but it is *not* aligned with s2k's
    degradation (which keeps LR pixel ``i`` at HR position ``s·i``): its result is shifted by ``(s − 1)/2``
    HR pixels, which costs it PSNR against the true HR image. s2k's own reference is
    :func:`bicubic_upsample`; this one exists so benchmarks can also report gains over the usual resize.
    Returns ``s·H × s·W`` (×C), float64, clipped to 0..255.
    """
    from PIL import Image

    scale = check_scale(scale)
    arr = np.asarray(lr)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise S2KError(f"expected an H×W or H×W×C image, got shape {arr.shape}")
    im = as_hwc(arr).astype(np.float32)
    size = (im.shape[1] * scale, im.shape[0] * scale)
    chans = [Image.fromarray(im[:, :, c], mode="F").resize(size, Image.BICUBIC) for c in range(im.shape[2])]
    out = np.stack([np.asarray(c) for c in chans], axis=-1).astype(np.float64)
    out = np.clip(out, 0.0, 255.0)
    return out[:, :, 0] if arr.ndim == 2 else out
