"""The ``sftmd`` SR backend: the kernel-conditioned network of :mod:`s2k.nets.sftmd` applied to an image.

The network is RGB and noise-free (trained on 8-bit, noise-free LR images at ×2, ×3, ×4), so: grey images
are replicated to RGB and averaged back, an alpha channel is up-scaled separately (bicubic) and kept,
kernels must fit the model's canvas (23×23 for the shipped one), and ``noise > 0`` is refused rather than
silently ignored. Image checks, alpha and tiling are :func:`s2k.sr.tiling.apply_sr`'s (tiles of ``tile``
LR pixels overlapping by ``overlap``; the network's receptive field is about 25 LR pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.kernels import validate_kernel
from s2k.nets.sftmd import SFTMD, default_sftmd, load_sftmd
from s2k.sr.tiling import apply_sr

DEFAULT_TILE = 256
DEFAULT_OVERLAP = 16


def resolve_sftmd(net: SFTMD | str | Path | None) -> SFTMD:
    """The network to use: the shipped one (None), a weight file, or a loaded :class:`SFTMD`."""
    if net is None:
        return default_sftmd()
    if isinstance(net, SFTMD):
        return net
    return load_sftmd(net)


def sftmd_super_resolve(
    lr: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    net: SFTMD | str | Path | None = None,
    noise: float = 0.0,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    progress: bool = False,
) -> np.ndarray:
    """Non-blind SR of one LR image with the SFTMD network (module docstring).

    Args:
        lr: H×W or H×W×C image in 0..255 (grey, grey + alpha, RGB, RGBA).
        kernel: blur kernel in HR pixels (odd sides, >= 0, at most the model's canvas).
        scale: one of the model's scales (2, 3, 4 for the shipped one).
        net: None (shipped weights), a weight file or a loaded network.
        noise: must be 0 (the network was trained without noise).
        tile: LR tile side (None: 256; 0: never tile).
        overlap: LR pixels shared by neighbouring tiles.
        progress: a progress bar over the tiles of a large image.

    Returns:
        The SR image in 0..255, ``s·H × s·W`` with the channels of ``lr`` (float64; float32 when tiled).
    """
    scale = check_scale(scale)
    k = validate_kernel(kernel)
    if noise:
        raise S2KError(
            "the sftmd backend is trained for noise-free LR images; use the pnp backend with --noise"
        )
    model = resolve_sftmd(net)
    if scale not in model.config.scales:
        raise S2KError(
            f"the sftmd model serves scales {', '.join(map(str, model.config.scales))}, not ×{scale}"
        )
    if max(k.shape) > model.config.canvas:
        raise S2KError(
            f"a {k.shape[0]}×{k.shape[1]} kernel does not fit the sftmd model's {model.config.canvas}×"
            f"{model.config.canvas} kernel canvas"
        )

    def run(tile_lr: np.ndarray) -> np.ndarray:
        grey = tile_lr.shape[2] == 1
        x = np.repeat(tile_lr, 3, axis=2) if grey else tile_lr
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float()[None]
        out = model.super_resolve(t, k, scale)[0].double().cpu().numpy().transpose(1, 2, 0)
        return out.mean(axis=2, keepdims=True) if grey else out

    return apply_sr(run, lr, scale, DEFAULT_TILE if tile is None else tile, overlap, progress)
