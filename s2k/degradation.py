"""The degradation model: the one place where a high-resolution image becomes a low-resolution one.

s2k's convention (``../shared/docs/s2k-method.md`` §1)::

    LR = round(clip((HR ⊛ k)[0::s, 0::s] + n, 0, 255))

* ``⊛`` is true convolution, ``(HR ⊛ k)(x) = Σ_u HR(x − u) k(u)``, kernel centred on its middle pixel,
  borders extended by half-sample symmetric reflection (``d c b a | a b c d``): exactly
  ``scipy.ndimage.convolve(HR, k, mode='reflect')`` per channel.
* ``[0::s, 0::s]`` keeps every s-th pixel starting at index 0 (direct down-sampling, IKC / DAN /
  KernelGAN convention); the LR image is ``ceil(H / s) × ceil(W / s)``.
* ``n`` is white Gaussian noise of standard deviation ``noise`` in 0..255 units (optional).
* The result is clipped to 0..255 and rounded to 8-bit levels (``quantize=False`` skips that, for
  training-time uses that want the continuous value).

One implementation (:func:`blur_downsample_torch`, a strided grouped ``conv2d``) serves both torch
batches (the training pipeline degrades on the fly) and numpy images (:func:`degrade`, which runs the
same code in float64), so both give the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from s2k.color import as_batch
from s2k.errors import S2KError
from s2k.kernels import validate_kernel


def check_scale(scale: object) -> int:
    """Return ``scale`` as an int >= 1, or raise :class:`S2KError` (0, negative, 2.5, "x" ...)."""
    if isinstance(scale, bool):
        raise S2KError(f"scale must be an integer >= 1, got {scale!r}")
    if isinstance(scale, (int, np.integer)):
        s = int(scale)
    elif isinstance(scale, (float, np.floating)) and float(scale).is_integer():
        s = int(scale)
    else:
        raise S2KError(f"scale must be an integer >= 1, got {scale!r}")
    if s < 1:
        raise S2KError(f"scale must be an integer >= 1, got {scale!r}")
    return s


def symmetric_pad_indices(
    n: int, before: int, after: int, device: torch.device | None = None
) -> torch.Tensor:
    """Indices into an axis of length ``n`` that extend it by half-sample symmetric reflection.

    ``d c b a | a b c d | d c b a``: scipy's ``mode='reflect'`` (torch's own ``'reflect'`` is scipy's
    ``'mirror'``). Works for any pad width, also wider than the axis (the reflection repeats).
    """
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def symmetric_pad(x: torch.Tensor, pad_h: tuple[int, int], pad_w: tuple[int, int]) -> torch.Tensor:
    """Pad the last two axes of ``x`` by half-sample symmetric reflection (:func:`symmetric_pad_indices`)."""
    h, w = x.shape[-2:]
    iy = symmetric_pad_indices(h, *pad_h, device=x.device)
    ix = symmetric_pad_indices(w, *pad_w, device=x.device)
    return x.index_select(-2, iy).index_select(-1, ix)


def blur_downsample_torch(hr: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """``(hr ⊛ kernel)[..., 0::scale, 0::scale]`` for a batch, without rounding or noise.

    Args:
        hr: ``B×C×H×W`` float tensor (any units; s2k uses 0..255).
        kernel: ``kh×kw`` (one kernel for the batch) or ``B×kh×kw`` (one per image); odd sizes, centred.
        scale: integer down-sampling factor >= 1.

    Returns:
        ``B×C×ceil(H/s)×ceil(W/s)`` tensor of ``hr``'s dtype. Only the kept pixels are computed (strided
        convolution), so the cost is ``1/s²`` of a full convolution.
    """
    if hr.ndim != 4:
        raise ValueError(f"hr must be B×C×H×W, got shape {tuple(hr.shape)}")
    b, c = hr.shape[:2]
    k = kernel.to(dtype=hr.dtype, device=hr.device)
    if k.ndim == 2:
        k = k.expand(b, *k.shape)
    if k.ndim != 3 or k.shape[0] != b:
        raise ValueError(f"kernel must be kh×kw or B×kh×kw with B={b}, got shape {tuple(kernel.shape)}")
    kh, kw = k.shape[-2:]
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {kh}×{kw}")
    # conv2d is a correlation: flip the kernel to get a true convolution.
    weight = k.flip(-2, -1).repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C)×1×kh×kw
    padded = symmetric_pad(hr, (kh // 2, kh // 2), (kw // 2, kw // 2))
    out = F.conv2d(padded.reshape(1, b * c, *padded.shape[-2:]), weight, stride=scale, groups=b * c)
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


def quantize_torch(x: torch.Tensor) -> torch.Tensor:
    """Clip to 0..255 and round to integer levels (half to even, like ``numpy.round``)."""
    return torch.round(x.clamp(0.0, 255.0))


def degrade_torch(
    hr: torch.Tensor,
    kernel: torch.Tensor,
    scale: int,
    noise: float | torch.Tensor = 0.0,
    generator: torch.Generator | None = None,
    quantize: bool = True,
) -> torch.Tensor:
    """The s2k degradation of a ``B×C×H×W`` batch in 0..255 units (see the module docstring).

    ``noise`` is σ_n in 0..255 units, a float or a length-B tensor (one level per image); the noise is
    drawn from ``generator``. ``quantize`` clips and rounds to 8-bit levels.
    """
    scale = check_scale(scale)
    lr = blur_downsample_torch(hr, kernel, scale)
    sigma = torch.as_tensor(noise, dtype=lr.dtype, device=lr.device)
    if torch.any(sigma < 0):
        raise S2KError("noise level must be >= 0")
    if torch.any(sigma > 0):
        sigma = sigma.reshape(-1, 1, 1, 1) if sigma.ndim == 1 else sigma
        noise_t = torch.randn(lr.shape, generator=generator, dtype=lr.dtype, device=lr.device)
        lr = lr + sigma * noise_t
    return quantize_torch(lr) if quantize else lr


def degrade(
    hr: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    noise: float = 0.0,
    rng: np.random.Generator | int | None = None,
    quantize: bool = True,
) -> np.ndarray:
    """Degrade one HR image: blur with ``kernel``, keep every ``scale``-th pixel from index 0, add noise.

    Args:
        hr: H×W or H×W×C image in 0..255 units (uint8, uint16-scaled or float). An alpha channel, if
            present, is degraded like the other channels.
        kernel: 2-D kernel in HR pixels; odd sizes, >= 0 (it is renormalised to sum 1).
        scale: integer >= 1.
        noise: σ_n of additive white Gaussian noise, 0..255 units.
        rng: numpy Generator or seed for the noise (ignored when ``noise == 0``).
        quantize: clip to 0..255 and round to 8-bit levels (the convention); False keeps float values.

    Returns:
        The LR image, float64, H'×W'(×C as input) with H' = ceil(H / scale), W' = ceil(W / scale);
        integer-valued in 0..255 when ``quantize``.
    """
    scale = check_scale(scale)
    if noise < 0:
        raise S2KError(f"noise level must be >= 0, got {noise}")
    k = validate_kernel(kernel)
    arr = np.asarray(hr)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise S2KError(f"expected an H×W or H×W×C image, got shape {arr.shape}")
    x = as_batch(arr, np.float64)
    lr = blur_downsample_torch(x, torch.from_numpy(k), scale)[0].numpy().transpose(1, 2, 0)
    if noise > 0:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        lr = lr + gen.normal(0.0, noise, size=lr.shape)
    if quantize:
        lr = np.round(np.clip(lr, 0.0, 255.0))
    return lr[:, :, 0] if arr.ndim == 2 else lr
