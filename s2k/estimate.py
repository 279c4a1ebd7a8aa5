"""Kernel estimation: the inference side of the Spectrum-to-Kernel estimator.

:func:`estimate_kernel` takes an LR image of any size (grey or colour, 0..255), computes the spectrum
feature at the model's input size, runs the generator conditioned on the scale, and recovers the kernel
from the kernel map (:func:`s2k.nets.generator.map_to_kernel`). Weights are read from safetensors files
only (never unpickled); the shipped ones live in ``s2k/weights/`` with a model card each.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2k.checkpoint import WEIGHTS_DIR, load_checkpoint, read_weight_metadata
from s2k.color import as_batch
from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.features import check_feature, feature_tiles_torch
from s2k.kernel_fit import PARAMETRIC_FAMILIES, KernelFit, fit_kernel
from s2k.kernels import FAMILIES, KERNEL_SIZES, padded_disk
from s2k.nets import build_generator
from s2k.nets.generator import GeneratorConfig, map_to_kernel

NOISY_LEVEL = 1.0  # σ_n (0..255) from which estimate_kernel takes a family's noise-trained model, if shipped


def default_weights(family: str, noisy: bool = False) -> Path:
    """Path of the shipped estimator weights of a family (``s2k/weights/estimator-<family>.safetensors``),
    or of its model trained on noisy images (``estimator-<family>-noisy.safetensors``; not every family
    has one)."""
    return WEIGHTS_DIR / f"estimator-{family}{'-noisy' if noisy else ''}.safetensors"


@dataclass
class KernelEstimator:
    """A generator with what it needs to run: family (kernel size), trained scales, input feature and size.

    ``feature`` is ``spectrum`` for s2k's estimators; ``spatial`` (the Table-3 ablation) runs the generator
    on every luminance tile of the image and averages the kernel maps (:mod:`s2k.features`).
    """

    generator: torch.nn.Module  # KernelGenerator or GaussianParamGenerator (s2k.nets.build_generator)
    family: str
    scales: tuple[int, ...]
    meta: dict[str, Any]
    feature: str = "spectrum"

    @property
    def kernel_size(self) -> int:
        return KERNEL_SIZES[self.family]

    @property
    def spectrum_size(self) -> int:
        return self.generator.config.input_size

    @torch.no_grad()
    def estimate_batch(self, lr: torch.Tensor, scale: int) -> torch.Tensor:
        """Kernels (B×k×k, float64, sum 1) of a B×C×H×W batch of LR images in 0..255, all at ``scale``."""
        if scale not in self.scales:
            shown = ", ".join(f"×{s}" for s in self.scales)
            raise S2KError(f"the {self.family} estimator is trained for {shown}, not ×{scale}")
        dev = next(self.generator.parameters()).device
        tiles = feature_tiles_torch(lr.to(dev), self.feature, self.spectrum_size)  # B×T×S×S
        b, t = tiles.shape[:2]
        cond = torch.full((b * t, 1), float(scale), device=dev)
        was_training = self.generator.training
        self.generator.eval()
        try:
            kmap = self.generator(tiles.reshape(b * t, 1, *tiles.shape[-2:]), cond).float()
        finally:
            self.generator.train(was_training)
        kmap = kmap.view(b, t, *kmap.shape[-2:]).mean(dim=1, keepdim=True)
        return map_to_kernel(kmap, self.kernel_size).cpu()

    def estimate(self, image: np.ndarray, scale: int) -> np.ndarray:
        """The kernel (k×k float64, sum 1, HR pixels) of one LR image (H×W or H×W×C, 0..255)."""
        return self.estimate_batch(as_batch(image), scale)[0].numpy()


def load_estimator(path: str | Path, device: str = "cpu") -> KernelEstimator:
    """Load an estimator from a safetensors weight file (its metadata holds family, scales and shape)."""
    meta = read_weight_metadata(path, "s2k-estimator")
    gen = build_generator(GeneratorConfig(**meta["generator"]))
    load_checkpoint(path, {"G": gen})
    gen.to(device).eval()
    feature = check_feature(meta.get("feature", "spectrum"))
    return KernelEstimator(gen, meta["family"], tuple(meta["scales"]), meta, feature)


@functools.lru_cache(maxsize=8)
def _shipped(family: str, noisy: bool = False) -> KernelEstimator:
    path = default_weights(family, noisy)
    if not path.is_file():
        raise S2KError(f"no shipped estimator weights for the {family} family ({path.name} is missing)")
    return load_estimator(path)


def get_estimator(
    family: str = "gaussian", weights: str | Path | None = None, noise: float = 0.0
) -> KernelEstimator:
    """The shipped estimator of ``family`` (cached), or the one in ``weights``. ``noise``: the LR image's
    σ_n (0..255); at or above :data:`NOISY_LEVEL` the family's noise-trained model, where one is shipped."""
    if family not in FAMILIES:
        raise S2KError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    if weights is not None:
        est = load_estimator(weights)
        if est.family != family:
            raise S2KError(f"{weights} holds a {est.family} estimator, not {family}")
        return est
    return _shipped(family, noisy_model(family, noise))


def noisy_model(family: str, noise: float) -> bool:
    """Whether the shipped estimator for an image of noise level ``noise`` is ``family``'s noise-trained
    model (``noise >= NOISY_LEVEL`` and one is shipped)."""
    return noise >= NOISY_LEVEL and default_weights(family, noisy=True).is_file()


AUTO = "auto"  # family argument: choose the family too (:mod:`s2k.family`)


def check_image_for_estimation(image: np.ndarray) -> np.ndarray:
    """The image as an array, checked to be H×W(×C) and at least 8×8 (S2KError otherwise)."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 8:
        raise S2KError(f"expected an H×W(×C) image at least 8×8 pixels, got shape {arr.shape}")
    return arr


def finalize_kernel(
    image: np.ndarray,
    k: np.ndarray,
    scale: int,
    family: str,
    resolve_flip: bool = True,
    fit_family: bool = True,
    fitted: KernelFit | None = None,
    noise: float = 0.0,
) -> np.ndarray:
    """What :func:`estimate_kernel` does to the network's kernel: the flip resolution for motion kernels,
    the nearest member of the family for Gaussian and disk kernels (each when asked), and for a disk its
    radius refined from the pixels where a regressor ships for the scale and the image's noise level
    ``noise`` (:func:`s2k.disk_radius.refine_disk_radius`). ``fitted``: that nearest
    member if the caller has already fitted ``k`` (it is not fitted again)."""
    if resolve_flip and family == "motion":
        from s2k.flip import resolve_flip as _resolve

        k = _resolve(image, k, scale)
    if fit_family and family in PARAMETRIC_FAMILIES:
        fit = fitted if fitted is not None else fit_kernel(k, family)
        k = fit.kernel
        if family == "disk":
            from s2k.disk_radius import refine_disk_radius

            r = refine_disk_radius(image, fit.params["radius"], scale, noise)
            if r != fit.params["radius"]:
                k = padded_disk(r, k.shape[0])
    return k


def estimate_kernel(
    image: np.ndarray,
    scale: int,
    family: str = "gaussian",
    *,
    weights: str | Path | None = None,
    resolve_flip: bool = True,
    fit_family: bool = True,
    noise: float = 0.0,
) -> np.ndarray:
    """Estimate the blur kernel of an LR image from its amplitude spectrum (the S2K estimator).

    Args:
        image: LR image, H×W or H×W×C (grey, RGB, RGBA), 0..255; any size.
        scale: the integer factor between the HR image the kernel acts on and this LR image.
        family: ``gaussian``, ``motion`` or ``disk`` (one model per family), or ``auto``: run the three
            and keep the family the shipped classifier finds most likely (:func:`s2k.choose_family`,
            which also gives the probabilities). The kernel's size is the chosen family's.
        weights: a weight file to use instead of the shipped one (not with ``auto``).
        resolve_flip: for motion kernels, choose between the estimate and its 180° rotation (which
            the amplitude spectrum cannot tell apart) with :func:`s2k.flip.resolve_flip`.
        fit_family: for Gaussian and disk kernels, return the member of the family nearest to the
            network's kernel (:func:`s2k.kernel_fit.fit_kernel`; lower errors on average, measured in
            ``docs/ESTIMATOR.md``); False returns the network's kernel as is. ``fit_kernel`` on the result
            gives the parameters (σ1, σ2, θ or the radius). For a disk at a scale where a disk-radius
            regressor ships (×3, ×4), the fitted radius is then refined from the image's pixels
            (:mod:`s2k.disk_radius`; by a noise-trained regressor for noisy images, none beyond σ_n 10).
        noise: the LR image's noise level σ_n (0..255; e.g. :func:`s2k.noise.estimate_noise`). From
            :data:`NOISY_LEVEL` on, the family's model trained on noisy images serves where one is
            shipped (Gaussian; docs/ESTIMATOR.md "Noisy images"); not with ``weights`` or ``auto``. From
            :data:`s2k.disk_radius.MAX_NOISE` on, disk radii are refined by the noise-trained regressor.

    Returns:
        The kernel in HR pixels: float64, ≥ 0, sum 1, the family's odd size, centred.
    """
    scale = check_scale(scale)
    arr = check_image_for_estimation(image)
    if family == AUTO:
        if weights is not None:
            raise S2KError("weights= names one family's model; it cannot be used with family='auto'")
        from s2k.family import choose_family

        return choose_family(arr, scale, noise=noise, resolve_flip=resolve_flip, fit_family=fit_family).kernel
    est = get_estimator(family, weights, noise)
    k = est.estimate(arr, scale)
    return finalize_kernel(arr, k, scale, family, resolve_flip, fit_family, noise=noise)
