"""Overlapped tiling for SR: bounded memory on large images.

:func:`tiled_apply` cuts the LR image into ``tile × tile`` tiles (the last tile of a row / column is
shifted back to end at the border, so every tile has the full size unless the image is smaller),
neighbouring tiles sharing at least ``overlap`` LR pixels, super-resolves each tile independently with
``fn`` and blends the SR tiles with smooth weights: along each axis a tile's weight is 1 in its middle and
falls as a raised-cosine ramp ``sin²(π/2 · (j + ½) / (s·overlap))`` over the ``s·overlap`` HR pixels at
a side it shares with a neighbour (no ramp at an image border). Where two tiles overlap by exactly
``overlap`` their ramps sum to 1; elsewhere the blend is normalised by the summed weights. An image that
fits in one tile is passed to ``fn`` whole, so the result is identical to the untiled one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from s2k.color import as_hwc, has_alpha, without_alpha
from s2k.degradation import check_scale
from s2k.errors import S2KError


def tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles along an axis of length ``n`` (see the module docstring)."""
    if n <= tile:
        return [0]
    step = tile - overlap
    count = math.ceil((n - tile) / step) + 1
    starts = [min(i * step, n - tile) for i in range(count)]
    return sorted(set(starts))


def _axis_weight(start: int, length: int, n: int, scale: int, overlap: int) -> np.ndarray:
    w = np.ones(length * scale)
    ramp_len = min(overlap * scale, length * scale)
    if ramp_len == 0:
        return w
    ramp = np.sin(0.5 * np.pi * (np.arange(ramp_len) + 0.5) / ramp_len) ** 2
    if start > 0:
        w[:ramp_len] = ramp
    if start + length < n:
        w[-ramp_len:] = np.minimum(w[-ramp_len:], ramp[::-1])
    return w


def tiled_apply(
    fn: Callable[[np.ndarray], np.ndarray],
    lr: np.ndarray,
    scale: int,
    tile: int,
    overlap: int,
    progress: bool = False,
) -> np.ndarray:
    """Apply an SR function ``fn`` (LR ``h×w×C`` → SR ``s·h × s·w × C``) to ``lr`` tile by tile.

    Args:
        fn: the SR function; it receives H×W×C float64 tiles (a 2-D ``lr`` is given a channel axis).
        lr: H×W or H×W×C LR image.
        scale: integer SR factor.
        tile: LR tile side (> 2·overlap).
        overlap: minimum LR pixels shared by neighbouring tiles.
        progress: show a progress bar over the tiles (tqdm, on stderr, removed when done).

    Returns:
        The blended SR image, ``s·H × s·W`` (× C as ``lr``): float64 when ``lr`` fits one tile, else
        float32 (the accumulator; halves the memory of large outputs, far below 8-bit precision).
    """
    scale = check_scale(scale)
    if tile < 1 or overlap < 0 or tile <= 2 * overlap:
        raise S2KError(f"need tile > 2·overlap >= 0, got tile {tile}, overlap {overlap}")
    arr = np.asarray(lr)
    im = as_hwc(arr)
    h, w = im.shape[:2]
    if h <= tile and w <= tile:
        out = np.asarray(fn(im.astype(np.float64)), dtype=np.float64)
        return out[:, :, 0] if arr.ndim == 2 else out
    # The tiles form a grid, so the summed blending weight is separable: wsum(y, x) = WY(y) · WX(x).
    ys0, xs0 = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    wys = [_axis_weight(y0, th, h, scale, overlap) for y0 in ys0]
    wxs = [_axis_weight(x0, tw, w, scale, overlap) for x0 in xs0]
    wy_sum, wx_sum = np.zeros(h * scale), np.zeros(w * scale)
    for y0, wy in zip(ys0, wys, strict=True):
        wy_sum[y0 * scale : (y0 + th) * scale] += wy
    for x0, wx in zip(xs0, wxs, strict=True):
        wx_sum[x0 * scale : (x0 + tw) * scale] += wx
    acc = None
    bar = tqdm(total=len(ys0) * len(xs0), desc="tiles", unit="tile", disable=not progress, leave=False)
    for y0, wy in zip(ys0, wys, strict=True):
        for x0, wx in zip(xs0, wxs, strict=True):
            sr = np.asarray(fn(im[y0 : y0 + th, x0 : x0 + tw].astype(np.float64)), dtype=np.float64)
            if sr.shape[:2] != (th * scale, tw * scale):
                raise ValueError(f"fn returned {sr.shape[:2]} for an LR tile of {th}×{tw} at ×{scale}")
            if acc is None:  # float32 accumulator: large outputs stay within bounded memory
                acc = np.zeros((h * scale, w * scale, sr.shape[2]), dtype=np.float32)
            weight = (
                (wy / wy_sum[y0 * scale : (y0 + th) * scale])[:, None]
                * (wx / wx_sum[x0 * scale : (x0 + tw) * scale])[None, :]
            )[:, :, None]
            ys, xs = slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale)
            acc[ys, xs] += weight * sr
            bar.update()
    bar.close()
    assert acc is not None
    return acc[:, :, 0] if arr.ndim == 2 else acc


def apply_sr(
    fn: Callable[[np.ndarray], np.ndarray],
    lr: np.ndarray,
    scale: int,
    tile: int,
    overlap: int,
    progress: bool = False,
) -> np.ndarray:
    """What every SR backend does around its core ``fn`` (colour ``h×w×C`` float64 → ``s·h × s·w × C``):
    check the LR image (H×W or H×W×C with 1-4 channels, finite), split off an alpha channel (grey + alpha,
    RGBA; up-scaled with bicubic interpolation and kept), run ``fn`` on the colour channels whole or, when
    a side exceeds ``tile`` (> 0), in overlapping tiles (:func:`tiled_apply`; ``progress``: a bar over
    them), clip to 0..255 and return the SR image with ``lr``'s channels (float64; float32 when tiled).
    Raises S2KError for bad images."""
    from s2k.sr.bicubic import bicubic_upsample

    arr = np.asarray(lr)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise S2KError(f"expected an H×W or H×W×C image, got shape {arr.shape}")
    im = as_hwc(arr).astype(np.float64)
    if im.shape[2] not in (1, 2, 3, 4):
        raise S2KError(f"expected 1 to 4 channels, got {im.shape[2]}")
    if not np.all(np.isfinite(im)):
        raise S2KError("the LR image contains NaN or infinite values")
    alpha = has_alpha(im)
    colour = without_alpha(im)
    if tile and max(colour.shape[:2]) > tile:
        sr = tiled_apply(fn, colour, scale, tile, overlap, progress)
    else:
        sr = fn(colour)
    sr = np.clip(sr, 0.0, 255.0, out=sr if sr.flags.writeable else None)
    if alpha:
        sr = np.concatenate([sr, bicubic_upsample(im[:, :, -1], scale)[:, :, None]], axis=2)
    sr = np.ascontiguousarray(sr)
    return sr[:, :, 0] if arr.ndim == 2 else sr
