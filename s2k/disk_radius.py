"""A defocus disk's radius read from the LR pixels: the refinement of the S2K disk estimate.

The S2K estimator reads the kernel from the amplitude spectrum; for a disk at ×3 and ×4 that leaves the
radius uncertain by a quarter of an HR pixel or more on BSD100-size images (docs/ESTIMATOR.md). Where a
disk-radius regressor ships for the scale (``s2k/weights/disk-radius-x<s>.safetensors``,
:mod:`s2k.nets.radius`), :func:`refine_disk_radius` combines the radius of the disk fitted to the S2K
kernel with the regressor's: ``(1 − w)·r_S2K + w·r_CNN``, with the weight ``w`` (``blend``) stored in the
weight file's metadata (chosen on held-out images, see its model card), plus, where the file holds one (the
``C`` tensors, metadata ``combiner``), a radius-dependent correction of that blend
(:class:`s2k.nets.radius.RadiusCombiner`, fitted by :mod:`s2k.train.radius_combiner` on synthetic problems
of the training pool). :func:`s2k.estimate_kernel` does
this for ``family="disk"`` unless told not to fit the family. Images it is told are noisy (σ_n from
:data:`MAX_NOISE` on) get the noise-trained regressor (``disk-radius-x<s>-noisy.safetensors``, trained up
to σ_n = 5, with its own blend weight) up to :data:`NOISY_LIMIT`; noisier images keep the fit alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2k.checkpoint import WEIGHTS_DIR, load_checkpoint, read_weight_metadata
from s2k.color import as_batch, to_grey_torch
from s2k.errors import S2KError
from s2k.kernel_fit import DISK_RADII
from s2k.nets.radius import CombinerConfig, RadiusCombiner, RadiusNet, RadiusNetConfig, pool_radius
from s2k.spectrum import tile_starts

KIND = "s2k-disk-radius"
TILE = 96  # LR pixels: larger images are read in tiles of this side ...
MAX_TILES = 2  # ... at most this many along each axis
MAX_NOISE = 1.0  # σ_n (0..255) from which the noise-free regressors give way to the noise-trained ones ...
NOISY_LIMIT = 10.0  # ... which serve up to this σ_n (better than the fit alone at 10: docs/ESTIMATOR.md)


def default_radius_weights(scale: int, noisy: bool = False) -> Path:
    """Path of the shipped disk-radius regressor of ``scale``, or of its noise-trained twin (``-noisy``);
    it may not exist: not every scale has one."""
    return WEIGHTS_DIR / f"disk-radius-x{scale}{'-noisy' if noisy else ''}.safetensors"


def image_luminance(image: np.ndarray) -> torch.Tensor:
    """An H×W(×C) image in 0..255 (at least 8×8) as the network's ``1×1×H×W`` float32 luminance."""
    im = np.asarray(image)
    if im.ndim not in (2, 3) or min(im.shape[:2]) < 8:
        raise S2KError(f"expected an H×W(×C) image at least 8×8 pixels, got shape {im.shape}")
    return to_grey_torch(as_batch(im))


@dataclass
class RadiusRegressor:
    """A loaded disk-radius network with its scale and metadata."""

    net: RadiusNet
    scale: int
    meta: dict[str, Any]
    combiner: RadiusCombiner | None = None

    @property
    def blend(self) -> float:
        """The weight of this network's radius against the S2K fit's (1 when the file names none)."""
        return float(self.meta.get("blend", 1.0))

    def radius(self, image: np.ndarray) -> float:
        """The disk radius (HR pixels) of an LR image (H×W or H×W×C, 0..255, at least 8×8).

        An image larger than :data:`TILE` pixels on a side is read in at most :data:`MAX_TILES` ² tiles of
        that size (:func:`s2k.spectrum.tile_starts`), pooled together, which bounds the time."""
        grey = image_luminance(image)
        h, w = grey.shape[-2:]
        tiles = [
            grey[..., y : y + TILE, x : x + TILE]
            for y in tile_starts(h, TILE, MAX_TILES)
            for x in tile_starts(w, TILE, MAX_TILES)
        ]
        with torch.no_grad():
            guess, logit = self.net.maps(torch.cat(tiles))
            return float(pool_radius(guess.reshape(1, -1), logit.reshape(1, -1))[0])

    def combine(self, r_s2k: float, r_cnn: float) -> float:
        """The radius from the S2K fit's ``r_s2k`` and this network's ``r_cnn``: the file's combiner where
        it has one, else the linear blend ``(1 − blend)·r_s2k + blend·r_cnn``."""
        if self.combiner is None:
            return (1.0 - self.blend) * r_s2k + self.blend * r_cnn
        with torch.no_grad():
            pair = torch.tensor([[r_s2k], [r_cnn]], dtype=torch.float32)
            return float(self.combiner(pair[0], pair[1])[0])


def load_radius_regressor(path: str | Path) -> RadiusRegressor:
    """Load a disk-radius regressor (and its combiner, where the file has one) from a safetensors weight
    file (never unpickled)."""
    meta = read_weight_metadata(path, KIND)
    net = RadiusNet(RadiusNetConfig(**meta["net"]))
    modules: dict[str, torch.nn.Module] = {"R": net}
    combiner = None
    if "combiner" in meta:
        combiner = modules["C"] = RadiusCombiner(CombinerConfig(**meta["combiner"]["net"]))
        if abs(combiner.config.blend - float(meta.get("blend", 1.0))) > 1e-9:  # the weight is stored twice
            raise S2KError(
                f"{path}: its combiner was fitted around blend {combiner.config.blend}, but the file's blend "
                f"is {meta.get('blend', 1.0)}: refit it (s2k train radius-combiner)"
            )
    load_checkpoint(path, modules)
    if combiner is not None:
        combiner = combiner.float().eval()
    return RadiusRegressor(net.float().eval(), int(meta["scale"]), meta, combiner)


@functools.lru_cache(maxsize=8)
def shipped_radius_regressor(scale: int, noisy: bool = False) -> RadiusRegressor | None:
    """The shipped regressor of ``scale`` (``noisy``: its noise-trained twin; cached), or None where none
    ships."""
    path = default_radius_weights(scale, noisy)
    return load_radius_regressor(path) if path.is_file() else None


def regressor_for(scale: int, noise: float) -> RadiusRegressor | None:
    """The shipped regressor for an image of noise level ``noise`` (σ_n, 0..255): below
    :data:`MAX_NOISE` the noise-free one, up to :data:`NOISY_LIMIT` the noise-trained one, else None."""
    if noise < MAX_NOISE:
        return shipped_radius_regressor(scale)
    return shipped_radius_regressor(scale, noisy=True) if noise <= NOISY_LIMIT else None


def refine_disk_radius(image: np.ndarray, radius: float, scale: int, noise: float = 0.0) -> float:
    """The S2K fit's ``radius`` combined with the reading of ``image`` by the regressor for its noise level
    ``noise`` (:func:`regressor_for`; :meth:`RadiusRegressor.combine`), clipped to the disk fit's range;
    ``radius`` itself where there is none."""
    reg = regressor_for(scale, noise)
    if reg is None:
        return radius
    r = reg.combine(radius, reg.radius(image))
    return float(np.clip(r, DISK_RADII[0], DISK_RADII[-1]))
