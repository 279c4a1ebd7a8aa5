"""Colour conventions: the one place where RGB becomes luma.

s2k measures PSNR / SSIM on the Y channel of ITU-R BT.601 YCbCr as Matlab's ``rgb2ycbcr`` defines it for
8-bit images (the convention of the SR literature): ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``
with R, G, B in 0..255, so Y lies in [16, 235]. A single-channel image is treated as R = G = B, so the same
picture stored as grey or as RGB gives the same Y and the same PSNR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: BT.601 luma weights (per unit of 0..255 input) and offset, Matlab ``rgb2ycbcr`` convention.
BT601_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0
BT601_Y_OFFSET = 16.0


def as_hwc(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as an H×W×C array (a 2-D grey image gains a channel axis)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3:
        raise ValueError(f"expected an H×W or H×W×C image, got shape {image.shape}")
    return image


def as_batch(image: np.ndarray, dtype: type = np.float32) -> torch.Tensor:
    """An H×W or H×W×C image as a ``1×C×H×W`` torch tensor of ``dtype`` (a batch of one)."""
    import torch

    im = as_hwc(np.asarray(image, dtype=dtype))
    return torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1)))[None]


def has_alpha(image: np.ndarray) -> bool:
    """Whether an H×W×C image carries an alpha channel (grey + alpha or RGBA: 2 or 4 channels, alpha last)."""
    return image.ndim == 3 and image.shape[2] in (2, 4)


def without_alpha(image: np.ndarray) -> np.ndarray:
    """The colour (or grey) channels of an image: a view without its alpha channel, if it has one."""
    return image[..., :-1] if has_alpha(image) else image


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an image in 0..255 units, as float64 in [16, 235].

    Accepts H×W (grey), H×W×1 (grey), H×W×3 (RGB) or H×W×4 (RGBA: alpha ignored). Grey is taken as
    R = G = B.
    """
    im = as_hwc(image).astype(np.float64)
    c = im.shape[2]
    if c in (1, 2):  # grey or grey + alpha
        return BT601_Y_OFFSET + im[:, :, 0] * BT601_Y_WEIGHTS.sum()
    if c in (3, 4):
        return BT601_Y_OFFSET + im[:, :, :3] @ BT601_Y_WEIGHTS
    raise ValueError(f"unsupported channel count {c}")


def to_grey(image: np.ndarray) -> np.ndarray:
    """Luminance without the BT.601 offset/scale, in the units of the input (0..255 stays 0..255).

    Used where only relative intensities matter (the spectrum feature): ``(Y - 16) * 255 / 219``.
    """
    return (rgb_to_y(image) - BT601_Y_OFFSET) * (255.0 / 219.0)


def to_grey_torch(batch: torch.Tensor) -> torch.Tensor:
    """:func:`to_grey` for a ``B×C×H×W`` torch batch (C = 1 grey, 3 RGB, 4 RGBA); returns ``B×1×H×W``."""
    import torch

    c = batch.shape[1]
    if c in (1, 2):
        return batch[:, :1]
    if c in (3, 4):
        w = torch.as_tensor(BT601_Y_WEIGHTS * (255.0 / 219.0), dtype=batch.dtype, device=batch.device)
        return (batch[:, :3] * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    raise ValueError(f"unsupported channel count {c}")
