"""The blind SR pipeline: estimate the kernel (unless given), then kernel-aware super-resolution.

:func:`super_resolve` is the one entry point behind ``s2k sr``. Backends: ``pnp`` (plug-and-play HQS,
:mod:`s2k.sr.pnp`; any kernel, any integer scale) with the learned denoiser prior (``prior="learned"``,
shipped weights), a prior of one's own (``prior="path/to/denoiser.safetensors"``, trained with ``s2k train
denoiser`` and exported) or the classical TV prior (``prior="tv"``, no weights); ``sftmd`` (the paper's
kernel-conditioned network, :mod:`s2k.sr.sftmd`; shipped weights, scales 2-4, noise-free images).

``noise="auto"`` (pnp) estimates the LR image's noise level first (:func:`s2k.noise.estimate_noise`), for
photos whose noise is unknown; the default ``noise=0`` restores the image as noise-free (docs/SR.md "Noise
level from the image" measures both).

``kernel="bicubic"`` runs the kernel-unaware reference: the backend told the blur is the bicubic-like
kernel that bicubic-trained SR methods assume (:func:`s2k.kernels.bicubic_like_kernel`), whatever the
real blur was.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from s2k.color import without_alpha
from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.estimate import AUTO, estimate_kernel
from s2k.kernels import bicubic_like_kernel, validate_kernel

BACKENDS = ("pnp", "sftmd")
REFINE_CROP = 256  # LR side of the crop the kernel refinement restores first (s2k.kernel_refine)
PRIORS = ("learned", "tv")  # or the path of a denoiser weight file
NOISE_AUTO = "auto"  # super_resolve(noise=...): estimate σ_n from the LR image (s2k.noise)


@dataclass
class SRResult:
    """An SR image (0..255, ``s·H × s·W`` with the LR's channels; float64, or float32 for images processed
    in tiles) and the kernel it used."""

    image: np.ndarray
    kernel: np.ndarray
    kernel_estimated: bool
    family: str | None = None  # the estimator's family when the kernel was estimated (auto's choice)
    family_probabilities: dict[str, float] | None = None  # with family="auto": every family's probability
    refined: bool = False  # the kernel was refined against the LR image (:mod:`s2k.kernel_refine`)
    kernel_unrefined: np.ndarray | None = None  # when refined: the kernel before it (estimated or given)
    noise: float = 0.0  # σ_n the backend was told (0..255 units)
    noise_estimated: bool = False  # σ_n was estimated from the LR image (noise="auto")


def super_resolve(
    lr: np.ndarray,
    scale: int,
    kernel: np.ndarray | str | None = None,
    *,
    family: str = "gaussian",
    backend: str = "pnp",
    prior: str | Path = "learned",
    noise: float | str = 0.0,
    tile: int | None = None,
    refine: bool | None = None,
    border: str = "free",
    progress: bool = False,
    noise_floor: float = 0.0,
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
        prior: pnp prior: ``learned`` (the shipped priors, one per scale at ×2–×4), ``tv``, or the path of a
            denoiser weight file (``kind = "s2k-denoiser"``, e.g. exported from ``s2k train denoiser``), which
            then serves every scale.
        noise: σ_n of the LR image's noise in 0..255 units, or ``"auto"`` to estimate it from the image
            (:func:`s2k.noise.estimate_noise`, raised to ``noise_floor``; pnp only; an image too small or
            too saturated to tell gets ``noise_floor``, and with a floor of 0 the result's
            ``noise_estimated`` is False). 0 (default): a noise-free image; a noisy photo restored as
            noise-free comes out grainy (docs/SR.md "Noise level from the image"). ``s2k sr`` defaults to
            ``auto``.
        tile: LR tile side for large images (None: the backend's default, 512 for pnp, 256 for sftmd).
        refine: refine the kernel against the LR image and restore again with it
            (:func:`s2k.kernel_refine.refine_kernel`, :func:`refine_rounds` times; 2-4× the time).
            None (default): where :func:`refines_by_default` says (blind motion estimates with pnp up
            to ×3, where it was measured to pay); True: any kernel, estimated or given (e.g. an
            approximate measured blur); False: never.
        border: pnp's assumption on the HR image beyond its edges (:class:`s2k.sr.pnp.PnPConfig`):
            ``free`` (default: unknown, estimated — photos) or ``reflect`` (s2k's degradation convention,
            half-sample symmetric reflection: images made by :func:`s2k.degrade`; docs/SR.md "Borders").
        progress: a progress bar over the tiles of a large image (tqdm, stderr).
        noise_floor: with ``noise="auto"``, the least σ_n to assume, e.g.
            :func:`s2k.noise.jpeg_noise_floor` for an image read from a JPEG file (``s2k sr`` does that).
    """
    from s2k.sr.pnp import TV_ITERATIONS, PnPConfig, pnp_super_resolve

    scale = check_scale(scale)
    if backend not in BACKENDS:
        raise S2KError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if backend == "sftmd" and str(prior) != "learned":
        raise S2KError("a prior other than the shipped one applies to the pnp backend only")
    cfg = PnPConfig(border=border)  # checks border before any estimate is made
    if backend == "sftmd" and border != "free":
        raise S2KError("border='reflect' applies to the pnp backend only")
    net = None if str(prior) in PRIORS else _prior_file(prior)
    noise, noise_estimated = _noise_level(lr, noise, backend, noise_floor)
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

        choice = choose_family(lr, scale, noise=noise)
        k, fam, probs = choice.kernel, choice.family, choice.probabilities
    else:
        k, fam = estimate_kernel(lr, scale, family, noise=noise), family
    if backend == "sftmd":
        from s2k.sr.sftmd import sftmd_super_resolve

        def restore(image: np.ndarray, kern: np.ndarray, bar: bool = False) -> np.ndarray:
            return sftmd_super_resolve(image, kern, scale, noise=noise, tile=tile, progress=bar)
    else:
        if tile is not None:
            cfg = replace(cfg, tile=tile)
        if prior == "tv":
            cfg = replace(cfg, iterations=TV_ITERATIONS)
        denoiser = "tv" if prior == "tv" else net

        def restore(image: np.ndarray, kern: np.ndarray, bar: bool = False) -> np.ndarray:
            return pnp_super_resolve(
                image, kern, scale, noise=noise, denoiser=denoiser, config=cfg, progress=bar
            )

    if refine if refine is not None else (estimated and refines_by_default(fam, backend, scale)):
        from s2k.kernel_refine import refine_kernel

        # The restorations that serve the refinement run on a centred crop: bounded time and memory.
        part = _centre_crop(without_alpha(np.asarray(lr)), REFINE_CROP)
        k_before = k
        for _ in range(refine_rounds(scale)):
            k = refine_kernel(part, restore(part, k), k, scale)
        return SRResult(
            restore(lr, k, progress),
            k,
            estimated,
            fam,
            probs,
            refined=True,
            kernel_unrefined=k_before,
            noise=noise,
            noise_estimated=noise_estimated,
        )
    return SRResult(
        restore(lr, k, progress), k, estimated, fam, probs, noise=noise, noise_estimated=noise_estimated
    )


def _noise_level(lr: np.ndarray, noise: float | str, backend: str, floor: float) -> tuple[float, bool]:
    """σ_n for the backend, and whether it was estimated (``noise="auto"``, at least ``floor``)."""
    from s2k.noise import auto_noise, check_noise_level

    floor = check_noise_level(floor, "noise_floor")
    if not isinstance(noise, str):
        if floor:
            raise S2KError("noise_floor applies with noise='auto' only")
        return check_noise_level(noise), False
    if noise != NOISE_AUTO:
        raise S2KError(f"noise must be a number or {NOISE_AUTO!r}, got {noise!r}")
    if backend != "pnp":
        raise S2KError("noise='auto' applies to the pnp backend (sftmd is trained for noise-free images)")
    return auto_noise(lr, floor)


def _prior_file(path: str | Path) -> object:
    """The denoiser in a weight file given as ``prior`` (loaded once per file version)."""
    p = Path(path)
    if not p.is_file():
        raise S2KError(
            f"unknown prior {str(path)!r}: choose {' or '.join(PRIORS)}, or give a denoiser weight file"
        )
    st = p.stat()
    return _load_prior(str(p.resolve()), st.st_mtime_ns, st.st_size, str(path))


@functools.lru_cache(maxsize=2)
def _load_prior(path: str, mtime_ns: int, size: int, shown: str) -> object:
    from s2k.checkpoint import read_metadata
    from s2k.nets.denoiser import load_denoiser

    if read_metadata(path).get("kind") == "s2k-denoiser-run":  # errors are not cached: checked per call
        raise S2KError(f"{shown}: a training checkpoint; export it first (s2k train export {shown} -o W)")
    return load_denoiser(path)


def refines_by_default(family: str | None, backend: str, scale: int) -> bool:
    """Whether :func:`super_resolve` refines a blind estimate by default (``refine=None``): motion
    estimates with the pnp backend up to ×3, where it was measured to pay (``docs/SR.md``: +0.7 dB at ×2,
    +0.1 at ×3; at ×4 +0.01 to +0.04 dB with a lower SSIM, for 2-3× the time)."""
    return family == "motion" and backend == "pnp" and scale <= 3


def refine_rounds(scale: int) -> int:
    """Alternations of restoration and refinement (``docs/SR.md``, held-out BSD100 img 67-98, motion:
    ×2 +0.55 dB after one, +0.69 after two, +0.71 after three; ×3 +0.14 / +0.15 / +0.12)."""
    return 2 if scale <= 2 else 1


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    """The centred ``side × side`` crop of an image (the whole axis where it is shorter)."""
    h, w = image.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[top : top + side, left : left + side]
