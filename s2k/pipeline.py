"""The blind SR pipeline: estimate the kernel (unless given), then kernel-aware super-resolution.

:func:`super_resolve` is the one entry point behind ``s2k sr``. Backends: ``pnp`` (plug-and-play HQS,
:mod:`s2k.sr.pnp`; any kernel, any integer scale) with the learned denoiser prior (``prior="learned"``,
shipped weights) or the classical TV prior (``prior="tv"``, no weights); ``sftmd`` (the paper's
kernel-conditioned network, :mod:`s2k.sr.sftmd`; shipped weights, scales 2-4, noise-free images).

``kernel="bicubic"`` runs the kernel-unaware reference: the backend told the blur is the bicubic-like
kernel that bicubic-trained SR methods assume (:func:`s2k.kernels.bicubic_like_kernel`), whatever the
real blur was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.estimate import AUTO, estimate_kernel
from s2k.kernels import bicubic_like_kernel, validate_kernel

BACKENDS = ("pnp", "sftmd")
PRIORS = ("learned", "tv")


@dataclass
class SRResult:
    """An SR image (0..255, ``s·H × s·W`` with the LR's channels; float64, or float32 for images processed
    in tiles) and the kernel it used."""

    image: np.ndarray
    kernel: np.ndarray
    kernel_estimated: bool
    family: str | None = None  # the estimator's family when the kernel was estimated (auto's choice)
    family_probabilities: dict[str, float] | None = None  # with family="auto": every family's probability


def super_resolve(
    lr: np.ndarray,
    scale: int,
    kernel: np.ndarray | str | None = None,
    *,
    family: str = "gaussian",
    backend: str = "pnp",
    prior: str = "learned",
    noise: float = 0.0,
    tile: int | None = None,
) -> SRResult:
    """Super-resolve an LR image by ``scale``; blind (kernel estimated by S2K) when ``kernel`` is None.

    Args:
        lr: H×W or H×W×C image in 0..255 (grey, RGB, RGBA; alpha is up-scaled separately and kept).
        scale: integer >= 1.
        kernel: the blur kernel in HR pixels (odd sizes, >= 0); None estimates it with the ``family`` model;
            ``"bicubic"`` assumes the bicubic-like kernel (the kernel-unaware reference).
        family: kernel family for the estimator (``gaussian``, ``motion``, ``disk``), or ``auto`` to let
            :func:`s2k.choose_family` choose it (the result's ``family`` and ``family_probabilities``).
        backend: ``pnp`` or ``sftmd``.
        prior: pnp prior, ``learned`` (shipped denoiser) or ``tv``.
        noise: σ_n of the LR image's noise in 0..255 units.
        tile: LR tile side for large images (None: the backend's default, 512 for pnp, 256 for sftmd).
    """
    from s2k.sr.pnp import TV_ITERATIONS, PnPConfig, pnp_super_resolve

    scale = check_scale(scale)
    if backend not in BACKENDS:
        raise S2KError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if prior not in PRIORS:
        raise S2KError(f"unknown prior {prior!r}; choose from {', '.join(PRIORS)}")
    estimated = kernel is None
    fam, probs = None, None
    if isinstance(kernel, str):
        if kernel != "bicubic":
            raise S2KError(f"kernel must be an array, None or 'bicubic', got {kernel!r}")
        k = bicubic_like_kernel(scale)
    elif not estimated:
        k = validate_kernel(kernel)
    elif family == AUTO:
        from s2k.family import choose_family

        choice = choose_family(lr, scale)
        k, fam, probs = choice.kernel, choice.family, choice.probabilities
    else:
        k, fam = estimate_kernel(lr, scale, family), family
    if backend == "sftmd":
        from s2k.sr.sftmd import sftmd_super_resolve

        return SRResult(sftmd_super_resolve(lr, k, scale, noise=noise, tile=tile), k, estimated, fam, probs)
    cfg = PnPConfig()
    if tile is not None:
        cfg = replace(cfg, tile=tile)
    if prior == "tv":
        cfg = replace(cfg, iterations=TV_ITERATIONS)
    sr = pnp_super_resolve(lr, k, scale, noise=noise, denoiser="tv" if prior == "tv" else None, config=cfg)
    return SRResult(sr, k, estimated, fam, probs)
