"""The estimator's input features: what the generator sees of an LR image.

* ``spectrum`` — s2k's estimator input, the standardised log power spectrum (:mod:`s2k.spectrum`): one
  ``size × size`` map per image whatever the image size (Welch-averaged over tiles).
* ``spatial`` — the paper's Table-3 ablation input, the LR image itself: BT.601 luminance tiles of
  ``size × size`` pixels (the same tile positions as the spectrum's Welch tiles), each standardised to zero
  mean and unit standard deviation; a tile of an image smaller than ``size`` is zero-padded at the bottom
  and right after standardising. Training feeds the first tile of each random crop; at inference the
  estimator runs on every tile and averages the kernel maps, so both inputs use the whole image.

:func:`feature_tiles_torch` is the one entry point: ``B×T×size×size`` (T = 1 for the spectrum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2k.errors import S2KError
from s2k.spectrum import DEFAULT_MAX_TILES, luminance_tiles_torch, spectrum_feature_torch

FEATURES = ("spectrum", "spatial")


def check_feature(feature: str) -> str:
    """Return ``feature`` or raise S2KError naming the choices."""
    if feature not in FEATURES:
        raise S2KError(f"unknown estimator input feature {feature!r}; choose from {', '.join(FEATURES)}")
    return feature


def spatial_tiles_torch(batch: torch.Tensor, size: int, max_tiles: int = DEFAULT_MAX_TILES) -> torch.Tensor:
    """Standardised luminance tiles of a ``B×C×H×W`` batch in 0..255: ``B×T×size×size`` (module doc)."""
    if batch.ndim != 4:
        raise ValueError(f"expected B×C×H×W, got shape {tuple(batch.shape)}")
    tiles = luminance_tiles_torch(batch.float(), size, max_tiles)
    th, tw = tiles.shape[-2:]
    mu = tiles.mean(dim=(-2, -1), keepdim=True)
    sd = tiles.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6) if th * tw > 1 else torch.ones_like(mu)
    return F.pad((tiles - mu) / sd, (0, size - tw, 0, size - th))


def feature_tiles_torch(
    batch: torch.Tensor, feature: str, size: int, max_tiles: int = DEFAULT_MAX_TILES
) -> torch.Tensor:
    """The ``feature`` of a ``B×C×H×W`` batch of LR images (0..255) as ``B×T×size×size`` tiles."""
    if check_feature(feature) == "spectrum":
        return spectrum_feature_torch(batch, size=size, max_tiles=max_tiles)
    return spatial_tiles_torch(batch, size, max_tiles)


def training_feature_torch(batch: torch.Tensor, feature: str, size: int) -> torch.Tensor:
    """The generator input for a training batch: ``B×1×size×size`` (the first tile for ``spatial``)."""
    return feature_tiles_torch(batch, feature, size, DEFAULT_MAX_TILES if feature == "spectrum" else 1)
