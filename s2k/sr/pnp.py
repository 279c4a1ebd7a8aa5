"""Plug-and-play non-blind super-resolution (the ``pnp`` SR backend): any kernel, any integer scale.

Half-quadratic splitting of ``min_x ||(x ⊛ k)↓s − y||² / (2σ_n²) + Φ(x)`` (Zhang et al., DPIR, TPAMI 2021,
and the data step of USRNet / DPSR). Each of ``iterations`` rounds ``i`` does

1. the data step ``x = argmin ||S H x − y||² + α_i ||x − z||²``, solved exactly by FFT
   (:class:`s2k.sr.fft_data.DataStep`, Zhao et al. 2016);
2. the prior step ``z = D(x, σ_i)``: a Gaussian denoiser at noise level σ_i.

Schedule (DPIR's, see :class:`PnPConfig`): σ_i decreases log-uniformly from ``sigma_start`` = 49 to
``max(σ_n, sigma_floor)`` (``sigma_floor`` defaults to the scale ``s``), all in 0..255 units;
``α_i = lam · max(σ_n, noise_min)² / σ_i²`` with ``lam = 0.23``. ``noise_min`` = 0.29 stands for the 8-bit
quantisation noise of a noise-free LR image (1/√12 grey levels). 8 iterations by default (DPIR uses 24;
8 is the speed compromise for CPU). The result is the last denoiser output, clipped to 0..255. These
values are DPIR's; a sweep with a briefly trained denoiser (500 iterations) did not single out better
ones (its differences reflected that denoiser's weakness at low σ), so re-check them once the shipped
denoiser is trained. For the TV prior, the calibration baseline is 20 iterations with the same schedule.

Initialisation: bicubic up-sampling of ``y`` on s2k's grid (:func:`s2k.sr.bicubic.bicubic_upsample_torch`),
i.e. LR pixel ``i`` at HR pixel ``s·i``, consistent with the degradation.

Boundaries: the data step is periodic while s2k's degradation extends the HR image by symmetric
reflection. The LR image is padded (:func:`seam_pad`) by ``pad`` LR pixels before (top / left) and at
least ``pad`` after (bottom / right; a few more so that the HR grid ``s·L`` is a multiple of the
denoiser's size factor and 7-smooth for a fast FFT); the whole HQS loop runs on the padded grid and the HR
result is cropped back to ``[s·pad, s·(pad + H)) × [s·pad, s·(pad + W))``. Next to the image (``seam_keep``
LR pixels, default ``ceil(r / s) + 1`` for a kernel radius ``r``) the padding is the half-sample symmetric
reflection of s2k's convention; further out it blends, with a raised-cosine weight, from the reflection of
one side into the reflection of the opposite side, so the padded image is continuous across the periodic
wrap-around. Plain symmetric padding leaves a step at the wrap whose ringing the nearly singular
deconvolution spreads far: measured with the TV prior on the bundled sample (192×192 HR, ×2 Gaussian),
PSNR-Y 20.3 dB with 8-16 LR pixels of symmetric padding against 31.1 dB with the blended seam at any
width; with 32+ pixels plain reflection recovers (31.2 dB). ``pad = None`` takes
``ceil((r + 32) / s)`` (the seam blend made the width matter by ≤ 0.03 dB on average over 6 kernels /
scales, up to 0.16 dB for a 23×23 motion kernel at ×2, where wider is better).

The padded LR pixels are not observations, and for an asymmetric (motion) kernel the reflected blurred
image is not the blur of any sharp image, so treating them as data leaves strong artefacts along the
borders. With ``boundary_update`` (default) every iteration after the first replaces the padded LR pixels
by what the current estimate predicts there (``S H x``), so only the real pixels constrain the solution
(the usual treatment of unknown boundaries in deconvolution). Measured (learned prior, PSNR-Y): the
bundled sample's 96×96 / 256×256 crops with a 23×23 motion kernel at ×2: 21.97 → 25.78 dB / 26.88 →
29.82 dB; 6 BSD100 images outside the benchmark's first 50 (img 61-66), gain over bicubic with motion
kernels +4.98 → +5.42 dB at ×2 and +1.25 → +1.25 at ×4, with Gaussian kernels +3.95 → +3.93 (×2) and
+1.61 → +1.60 (×4).

That alone leaves the data residual of the real pixels cut off at the image edge (0 outside, whatever it
is inside), and the nearly singular deconvolution of a wide kernel turns the cut into artefacts along the
edges (chequered at ×2: docs/SR.md, "Borders"). So the update also continues the residual across the
edge: its reflection, ``residual_extension`` = 0.5 of it next to the image, fading to 0 over
``residual_taper`` = 4 LR pixels (:func:`boundary_update`). Chosen on held-out BSD100 images 51-65 (gain
0.25 / 0.5 / 1 at Gaussian ×2: +0.044 / +0.054 / +0.035 dB; motion ×2: +0.003 / +0.000 / −0.021); at 0.5
on the same images Gaussian ×3 / ×4 +0.015 / +0.005, disk ×2 / ×3 +0.019 / +0.003, motion ×3 +0.000 dB;
on the benchmark (BSD100 first 50) Gaussian ×2 +0.08 dB.

The first round has no estimate to predict the padding from, so it fits the seam padding as if observed:
right for a centrosymmetric kernel (the reflection of a blurred image is the blur of the reflected sharp
image), wrong for an asymmetric one. So in the first round the padding is blended towards the bicubic
start's prediction (with the residual continued) by the kernel's asymmetry (:func:`kernel_asymmetry`:
0 for Gaussian and disk kernels, which are unchanged; 0.15–0.77 for 80 % of motion kernels). Held-out
BSD100 images 51-65, over the residual continuation alone: motion ×2 +0.08 dB (+0.06 with photo-like
borders); ×3 / ×4 +0.00. Blending fully for any asymmetry gave motion ×2 +0.12 but the full update costs
a symmetric kernel 0.37 dB (Gaussian ×2), so a slightly asymmetric kernel (a raw network estimate) is
kept close to the symmetric treatment.

``border="reflect"`` goes the other way for images known to follow s2k's convention: after every prior
step but the last, the HR estimate's padding is rebuilt from its image region (:func:`reflect_border`, the
same seam padding), so the HR image beyond its edges is its own reflection, as the degradation assumed
(docs/SR.md, "Borders": +0.08 dB at Gaussian ×2 on BSD100 with the stage-2 prior, +0.03 with the
stage-3 prior trained on real borders, +0.09 with the per-scale priors, but −0.13 dB for motion kernels on
crops whose border pixels saw real content, hence not the default).

Views (``cycle_views``, default on; DPIR's trick): round ``i``'s prior denoises the estimate turned by the
``i mod 8``-th flip/rotation (:func:`view`) and the result is turned back, so the 8 rounds see the image in
all 8 orientations and the prior's own orientation bias averages out, at no extra cost. Measured with the
stage-2 prior (trained without it) on held-out BSD100 images 69-84 (centre 192² crops, the
trainer's problems): Gaussian ×2 / ×3 / ×4 28.665 / 27.132 / 25.867 → 28.697 / 27.179 / 25.864 dB, motion ×2
28.075 → 28.152, same time. Training through the loop (:func:`unrolled_pnp`, :func:`pnp_torch` with
``grad``) cycles too.

Colour: every colour channel goes through the same data step (same kernel); the learned denoiser is an RGB
network (it sees the three channels together; a grey image is replicated to RGB and averaged back). An
alpha channel (grey + alpha, RGBA) is up-sampled on its own with plain bicubic interpolation and kept.

The shipped learned prior was first trained as a plain denoiser, then fine-tuned *through* these HQS
rounds (:func:`unrolled_pnp`: the same loop on periodic LR images, with gradients; objective ``"sr"`` of
:mod:`s2k.train.denoiser`), then through the inference path itself on images with real borders
(:func:`pnp_torch` with ``grad``, ``sr_borders="padded"``; stage 3, docs/SR.md), so it is tuned to this
schedule, its 8 rounds and the cycled views: other ``iterations`` work but are outside what it was trained
for.

Priors (``denoiser=``): ``None`` is the shipped learned prior for the scale
(:func:`s2k.nets.denoiser.prior_for_scale`: at ×2, ×3 and ×4 one network per round fine-tuned on that scale
alone (session 16, docs/SR.md), at other scales or other ``iterations`` the shared
:func:`s2k.nets.denoiser.default_denoiser`; an :class:`s2k.errors.S2KError` if it is missing); a path
loads a weight file; a :class:`~s2k.nets.denoiser.DenoiserNet`, or a
:class:`~s2k.nets.denoiser.RoundDenoisers` (one network per round: untied weights, only for its own number
of iterations); ``"tv"``, the classical
total-variation prior (Chambolle's algorithm from scikit-image on each channel, :class:`TVDenoiser`); or
any callable ``f(x, sigma) -> x`` on ``B×C×H×W`` tensors in 0..255 with σ a length-B tensor in 0..255, or
a list of one such callable per round (its length must be ``iterations``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2k.degradation import check_scale, symmetric_pad_indices
from s2k.errors import S2KError
from s2k.kernels import validate_kernel
from s2k.nets.denoiser import DenoiserNet, RoundDenoisers, default_denoiser, load_denoiser, prior_for_scale
from s2k.noise import check_noise_level
from s2k.sr.bicubic import bicubic_upsample_torch
from s2k.sr.fft_data import DataStep
from s2k.sr.tiling import apply_sr

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: A prior shared by every HQS round, or one prior per round (untied weights).
Prior = Denoiser | Sequence[Denoiser]

BORDERS = ("free", "reflect")  # PnPConfig.border: what the HR image is assumed to be beyond its edges
TV_ITERATIONS = 20  # HQS rounds with the TV prior: the SR issue's classical calibration baseline


@dataclass(frozen=True)
class PnPConfig:
    """Iterations, schedule and boundary handling of :func:`pnp_super_resolve` (0..255 units)."""

    iterations: int = 8
    sigma_start: float = 49.0  # prior noise level of the first iteration
    sigma_floor: float | None = None  # lowest prior level; None: the scale s (DPIR's choice)
    lam: float = 0.23  # α_i = lam · max(σ_n, noise_min)² / σ_i²
    noise_min: float = 0.29  # σ_n assumed for α when the given noise is lower (8-bit quantisation)
    pad: int | None = None  # LR pixels of padding per side (seam_pad); None: ceil((radius + 32) / s)
    seam_keep: int | None = None  # LR pixels of plain reflection next to the image; None: radius/s + 1
    tile: int = 512  # LR tile side for :func:`s2k.sr.tiling.tiled_apply`; 0: never tile
    tile_overlap: int = 24  # LR pixels shared by neighbouring tiles
    tv_strength: float = 0.5  # "tv" prior: Chambolle weight = tv_strength · σ_i (image in 0..1)
    tv_iterations: int = 50  # "tv" prior: Chambolle iterations per prior step
    boundary_update: bool = True  # re-estimate the padded (unobserved) LR pixels every iteration
    residual_extension: float = 0.5  # boundary update: gain of the real pixels' residual continued outside
    residual_taper: float = 4.0  # ... fading to 0 over this many LR pixels (0 or gain 0: not continued)
    border: str = "free"  # HR beyond the image: "free" (unknown, estimated) or "reflect" (s2k's convention)
    cycle_views: bool = True  # round i's prior sees the estimate in the (i mod 8)-th flip/rotation (DPIR)
    dtype: str = "float32"  # or "float64"
    device: str = "cpu"  # where pnp_super_resolve runs the HQS loop ("cuda" works too)

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise S2KError(f"iterations must be >= 1, got {self.iterations}")
        if not (self.sigma_start > 0 and self.lam > 0 and self.noise_min > 0):
            raise S2KError("sigma_start, lam and noise_min must be > 0")
        if self.sigma_floor is not None and not self.sigma_floor > 0:
            raise S2KError(f"sigma_floor must be > 0, got {self.sigma_floor}")
        if self.pad is not None and self.pad < 0:
            raise S2KError(f"pad must be >= 0, got {self.pad}")
        if self.tile < 0 or self.tile_overlap < 0 or (self.tile and self.tile <= 2 * self.tile_overlap):
            raise S2KError("tile must be 0 or larger than twice tile_overlap")
        if not (self.residual_extension >= 0 and self.residual_taper >= 0):
            raise S2KError("residual_extension and residual_taper must be >= 0")
        if self.border not in BORDERS:
            raise S2KError(f"border must be one of {', '.join(BORDERS)}, got {self.border!r}")
        if self.dtype not in ("float32", "float64"):
            raise S2KError(f"dtype must be float32 or float64, got {self.dtype!r}")

    def schedule(self, scale: int, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prior levels σ_i and data weights α_i, both ``iterations × B`` for noise levels ``noise`` (B)."""
        floor = float(scale) if self.sigma_floor is None else self.sigma_floor
        end = torch.clamp(noise, min=floor)
        start = torch.clamp(torch.full_like(end, self.sigma_start), min=end)
        t = torch.linspace(0.0, 1.0, self.iterations, dtype=noise.dtype, device=noise.device)[:, None]
        sigmas = torch.exp(torch.log(start) * (1 - t) + torch.log(end) * t)
        alphas = self.lam * torch.clamp(noise, min=self.noise_min) ** 2 / sigmas**2
        return sigmas, alphas


class TVDenoiser:
    """Classical prior: total-variation denoising (Chambolle) of each channel, weight ∝ σ."""

    factor = 1

    def __init__(self, strength: float = 0.5, iterations: int = 50) -> None:
        self.strength, self.iterations = strength, iterations

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        from skimage.restoration import denoise_tv_chambolle  # here: importing it costs ~0.3 s

        arr = x.detach().cpu().double().numpy() / 255.0
        sig = torch.as_tensor(sigma).detach().cpu().double().reshape(-1).expand(arr.shape[0]).numpy()
        out = np.empty_like(arr)
        for b in range(arr.shape[0]):
            w = self.strength * float(sig[b]) / 255.0
            for c in range(arr.shape[1]):
                out[b, c] = denoise_tv_chambolle(arr[b, c], weight=w, max_num_iter=self.iterations)
        return torch.from_numpy(out * 255.0).to(device=x.device, dtype=x.dtype)


def network_prior(net: DenoiserNet | RoundDenoisers, iterations: int) -> Prior:
    """A learned prior as :func:`hqs_loop` takes it; a per-round network (:class:`RoundDenoisers`) only
    serves exactly its number of rounds (S2KError otherwise)."""
    if isinstance(net, DenoiserNet):
        return net.denoise
    if net.rounds != iterations:
        raise S2KError(
            f"this prior has one network per HQS round ({net.rounds} rounds); it cannot run "
            f"{iterations} iterations"
        )
    return net.priors()


def resolve_denoiser(denoiser: object, config: PnPConfig, scale: int | None = None) -> Prior:
    """Turn the ``denoiser=`` argument of :func:`pnp_super_resolve` into a prior (module docstring); with
    ``denoiser=None`` the shipped prior for ``scale`` (:func:`~s2k.nets.denoiser.prior_for_scale`; the shared
    network when ``scale`` is None)."""
    if denoiser is None:
        net = default_denoiser() if scale is None else prior_for_scale(scale, config.iterations)
        return network_prior(net, config.iterations)
    if isinstance(denoiser, str) and denoiser == "tv":
        return TVDenoiser(config.tv_strength, config.tv_iterations)
    if isinstance(denoiser, (str, Path)):
        return network_prior(load_denoiser(denoiser), config.iterations)
    if isinstance(denoiser, (DenoiserNet, RoundDenoisers)):
        return network_prior(denoiser, config.iterations)
    if callable(denoiser):
        return denoiser  # type: ignore[return-value]
    if isinstance(denoiser, (list, tuple)) and denoiser and all(callable(d) for d in denoiser):
        if len(denoiser) != config.iterations:
            raise S2KError(f"{len(denoiser)} per-round priors for {config.iterations} HQS rounds")
        return list(denoiser)
    raise S2KError(
        "denoiser must be None, 'tv', a weight file, a DenoiserNet, a callable or a list of one callable "
        f"per round, got {denoiser!r}"
    )


def _size_factor(denoiser: Prior) -> int:
    if isinstance(denoiser, Sequence):
        return math.lcm(*(_size_factor(d) for d in denoiser))
    owner = getattr(denoiser, "__self__", denoiser)
    cfg = getattr(owner, "config", None)
    return int(getattr(cfg, "factor", getattr(owner, "factor", 1)))


def _smooth(n: int) -> bool:
    for p in (2, 3, 5, 7):
        while n % p == 0:
            n //= p
    return n == 1


def padded_lr_size(n: int, pad: int, scale: int, multiple: int = 1) -> int:
    """Smallest LR length ``L >= n + 2·pad`` whose HR length ``s·L`` is a multiple of ``multiple`` and,
    if the scale allows it, has no prime factor above 7 (fast FFT)."""
    length = n + 2 * pad
    want_smooth = _smooth(scale) and _smooth(multiple)
    while (scale * length) % multiple or (want_smooth and not _smooth(scale * length)):
        length += 1
    return length


def _seam_axis(
    n: int, before: int, after: int, keep: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices (two sources) and blend weights that extend an axis of length ``n`` periodically-smoothly."""
    length = n + before + after
    band = before + after  # positions outside the image, walking from its end across the wrap to its start
    u = torch.arange(band, device=device)
    right = symmetric_pad_indices(n, 0, band, device=device)[n:]  # reflection continuing past the end
    left = symmetric_pad_indices(n, band, 0, device=device)[:band]  # reflection continuing before the start
    ramp_len = max(band - 2 * keep, 1)
    t = ((u - keep + 0.5) / ramp_len).clamp(0.0, 1.0).to(dtype)
    w = torch.sin(0.5 * torch.pi * t) ** 2
    img = torch.arange(n, device=device)
    # padded order: [before band part | image | after band part]; band position u maps to padded index
    # (before + n + u) mod length
    pos = torch.remainder(before + n + u, length)
    idx_a = torch.empty(length, dtype=torch.long, device=device)
    idx_b = torch.empty(length, dtype=torch.long, device=device)
    wt = torch.zeros(length, dtype=dtype, device=device)
    idx_a[before : before + n] = img
    idx_b[before : before + n] = img
    idx_a[pos], idx_b[pos], wt[pos] = right, left, w
    return idx_a, idx_b, wt


def seam_pad(x: torch.Tensor, pad_h: tuple[int, int], pad_w: tuple[int, int], keep: int) -> torch.Tensor:
    """Extend the last two axes of ``x`` for a periodic solver without a wrap-around seam.

    Along each axis the ``before + after`` padded samples form one band on the circle, from the image's
    end across the wrap to its start. Within ``keep`` samples of the image the band is the half-sample
    symmetric reflection of the image (s2k's border convention); in between it blends the reflection
    continuing past the end into the reflection continuing before the start with a raised-cosine weight,
    so the padded image is continuous across the wrap. Rows first, then columns.
    """
    for dim, (before, after) in ((-2, pad_h), (-1, pad_w)):
        if before + after == 0:
            continue
        ia, ib, wt = _seam_axis(x.shape[dim], before, after, keep, x.dtype, x.device)
        shape = [1] * x.ndim
        shape[dim] = -1
        wt = wt.reshape(shape)
        x = x.index_select(dim, ia) * (1 - wt) + x.index_select(dim, ib) * wt
    return x


def auto_pad(kernel_size: int, scale: int) -> int:
    """Default LR padding per side: the kernel radius plus 32 HR pixels, in LR pixels (rounded up)."""
    return math.ceil((kernel_size // 2 + 32) / scale)


def pnp_torch(
    lr: torch.Tensor,
    kernel: torch.Tensor,
    scale: int,
    noise: float | torch.Tensor,
    denoiser: Prior,
    config: PnPConfig | None = None,
    grad: bool = False,
) -> torch.Tensor:
    """The batched PnP-HQS core: ``B×C×H×W`` LR (0..255, no alpha) → ``B×C×sH×sW`` (not clipped).

    ``kernel``: ``kh×kw`` for the whole batch or ``B×kh×kw``, float, sum 1, centred (not validated here);
    ``noise``: σ_n, a float or one value per image (0..255). Runs on ``lr``'s device in ``config.dtype``.
    ``grad``: keep gradients through the rounds, so that a prior can be trained on this inference path
    (padding, boundary update) with LR images that have real borders (objective ``"sr"`` with
    ``sr_borders="padded"`` in :mod:`s2k.train.denoiser`; :func:`unrolled_pnp` is the cheaper periodic
    problem).
    """
    cfg = config or PnPConfig()
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    b, _, h, w = lr.shape
    y = lr.to(dtype)
    k = kernel.to(device=y.device, dtype=dtype)
    k = k[:, None] if k.ndim == 3 else k  # B×1×kh×kw broadcasts over the channels
    ksize = max(k.shape[-2:])
    pad = auto_pad(ksize, scale) if cfg.pad is None else cfg.pad
    pad = max(pad, math.ceil(ksize / scale))  # the padded HR grid must hold the kernel
    mult = _size_factor(denoiser)
    lh, lw = padded_lr_size(h, pad, scale, mult), padded_lr_size(w, pad, scale, mult)
    keep = math.ceil((ksize // 2) / scale) + 1 if cfg.seam_keep is None else cfg.seam_keep
    y = seam_pad(y, (pad, lh - h - pad), (pad, lw - w - pad), keep)
    sig_n = torch.as_tensor(noise, dtype=dtype, device=y.device).reshape(-1).expand(b).clone()
    sigmas, alphas = cfg.schedule(scale, sig_n)
    boundary = None
    if cfg.boundary_update:
        boundary = boundary_update(
            y, pad, (h, w), keep, cfg.residual_extension, cfg.residual_taper, kernel_asymmetry(k)
        )
    project = None
    if cfg.border == "reflect":
        project = reflect_border(scale * pad, (scale * h, scale * w), scale * keep)
    with torch.set_grad_enabled(grad):
        x = hqs_loop(y, k, scale, sigmas, alphas, denoiser, boundary, project, cfg.cycle_views)
    return x[..., scale * pad : scale * (pad + h), scale * pad : scale * (pad + w)]


def kernel_asymmetry(kernel: torch.Tensor) -> torch.Tensor:
    """Half the L1 distance between a kernel (``kh×kw`` or ``B×[1×]kh×kw``, normalised here) and its 180°
    rotation, per kernel (a B-vector, or a scalar): 0 for centrosymmetric kernels (Gaussian, disk), up
    to 1."""
    k = kernel / kernel.sum(dim=(-2, -1), keepdim=True)
    d = 0.5 * (k - k.flip(-2, -1)).abs().sum(dim=(-2, -1))
    return d.reshape(-1) if d.ndim else d


def boundary_update(
    y: torch.Tensor,
    start: int,
    size: tuple[int, int],
    keep: int,
    gain: float = 0.0,
    taper: float = 4.0,
    first: torch.Tensor | float = 0.0,
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The boundary update of ``boundary_update=True`` on a padded LR grid ``y`` whose real pixels are the
    ``size`` block from ``start`` on both axes (module docstring): given the current estimate's prediction
    ``S H x`` of the whole grid and the round, the LR grid that round's data step fits — the real pixels,
    and on the padding the prediction plus ``gain`` × the residual of the real pixels continued across the
    edge (:func:`seam_pad`'s reflection), fading linearly to 0 over ``taper`` LR pixels. In the first round
    the padding keeps ``y``'s (the seam padding, consistent with a reflected sharp image only for a
    centrosymmetric kernel) with weight ``1 − first`` (a float or one per image; :func:`kernel_asymmetry`)."""
    h, w = size
    m1, m2 = y.shape[-2:]
    pads = ((start, m1 - h - start), (start, m2 - w - start))

    def off_image(n: int, m: int) -> torch.Tensor:
        i = torch.arange(m, dtype=y.dtype, device=y.device)
        return torch.clamp(torch.maximum(start - i, i - (start + n - 1)), min=0)  # LR pixels off the image

    dist = torch.maximum(off_image(h, m1)[:, None], off_image(w, m2)[None, :])
    observed = (dist == 0).to(y.dtype)
    fade = None
    if gain > 0 and taper > 0:
        fade = gain * torch.clamp(1 - (dist - 1) / taper, 0, 1) * (1 - observed)

    weight = torch.as_tensor(first, dtype=y.dtype, device=y.device).reshape(-1, 1, 1, 1)

    def update(pred: torch.Tensor, round_index: int) -> torch.Tensor:
        outside = pred
        if fade is not None:
            residual = (y - pred)[..., start : start + h, start : start + w]
            outside = pred + fade * seam_pad(residual, *pads, keep)
        if round_index == 0:
            outside = y * (1 - weight) + outside * weight
        return y * observed + outside * (1 - observed)

    return update


def reflect_border(start: int, size: tuple[int, int], keep: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The projection of ``border="reflect"``: keep the image region of a padded HR estimate (``size``
    pixels from ``start`` on both axes) and rebuild the padding from it with :func:`seam_pad`, i.e. the
    half-sample symmetric reflection of s2k's degradation next to the image (``keep`` pixels and beyond,
    then the blend across the wrap)."""
    hh, ww = size

    def project(x: torch.Tensor) -> torch.Tensor:
        core = x[..., start : start + hh, start : start + ww]
        m1, m2 = x.shape[-2:]
        return seam_pad(core, (start, m1 - hh - start), (start, m2 - ww - start), keep)

    return project


def view(x: torch.Tensor, index: int, inverse: bool = False) -> torch.Tensor:
    """The ``index``-th of the 8 flips/rotations of the last two axes (0: as is; 1–3: rotations by 90°,
    4–7: the transpose, then rotated), or with ``inverse`` the turn that undoes it."""
    if inverse:
        x = torch.rot90(x, -(index % 4), (-2, -1))
        return x.transpose(-2, -1) if index >= 4 else x
    x = x.transpose(-2, -1) if index >= 4 else x
    return torch.rot90(x, index % 4, (-2, -1))


def hqs_loop(
    y: torch.Tensor,
    kernel: torch.Tensor,
    scale: int,
    sigmas: torch.Tensor,
    alphas: torch.Tensor,
    denoiser: Prior,
    boundary: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cycle: bool = False,
) -> torch.Tensor:
    """The HQS rounds on a periodic LR grid ``y`` (``B×C×M1×M2``): bicubic start, then per round the data
    step with weight ``alphas[i]`` and the prior at level ``sigmas[i]`` (:meth:`PnPConfig.schedule`).

    ``denoiser``: one prior for every round, or a sequence of one prior per round (untied weights; its
    length must be the number of rounds). ``boundary`` (:func:`boundary_update`): round ``i``'s data step
    fits ``boundary(S H x, i)`` instead of ``y`` (the unobserved padding replaced by what the current
    estimate predicts there). ``project``: applied to the estimate after every prior step but the last
    (:func:`reflect_border`). ``cycle``: round ``i``'s prior sees the estimate in view ``i mod 8``
    (:func:`view`) and its output is turned back. Differentiable (no ``no_grad`` here), so a prior can be
    trained through the loop (:func:`unrolled_pnp`).
    """
    b, rounds = y.shape[0], sigmas.shape[0]
    if isinstance(denoiser, Sequence) and len(denoiser) != rounds:
        raise S2KError(f"{len(denoiser)} per-round priors for {rounds} HQS rounds")
    step = DataStep.create(y, kernel, scale)
    x = bicubic_upsample_torch(y, scale)
    for i in range(rounds):
        spectrum = None
        if boundary is not None:
            # the padding is not observed: replace it by what the current estimate predicts there
            spectrum = torch.fft.rfft2(x)  # shared by the prediction and the solve
            step = step.with_y(boundary(step.forward(x, spectrum), i))
        x = step.solve(x, alphas[i].reshape(b, 1, 1, 1), spectrum)
        prior = denoiser[i] if isinstance(denoiser, Sequence) else denoiser
        if cycle:
            x = view(prior(view(x, i % 8), sigmas[i]), i % 8, inverse=True)
        else:
            x = prior(x, sigmas[i])
        if project is not None and i < rounds - 1:
            x = project(x)
    return x


def unrolled_pnp(
    lr: torch.Tensor,
    kernel: torch.Tensor,
    scale: int,
    noise: torch.Tensor,
    denoiser: Prior,
    config: PnPConfig | None = None,
) -> torch.Tensor:
    """The PnP-HQS result for LR images made with *periodic* borders (``B×C×M1×M2`` → ``B×C×sM1×sM2``),
    with gradients: no padding, no clipping, the schedule of ``config`` for noise levels ``noise`` (B).

    This is how a prior is trained end to end through the same rounds :func:`pnp_torch` runs at inference
    (:mod:`s2k.train.denoiser`, objective ``"sr"``); the HR sides ``s·M`` must be multiples of the
    denoiser's size factor. ``kernel``: ``B×1×kh×kw`` or ``kh×kw``.
    """
    cfg = config or PnPConfig()
    sigmas, alphas = cfg.schedule(scale, noise.to(lr.dtype))
    return hqs_loop(lr, kernel.to(lr.dtype), scale, sigmas, alphas, denoiser, cycle=cfg.cycle_views)


def pnp_super_resolve(
    lr: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    noise: float = 0.0,
    denoiser: object = None,
    config: PnPConfig | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Non-blind SR of one LR image by plug-and-play HQS (module docstring).

    Args:
        lr: H×W or H×W×C image in 0..255 (grey, grey + alpha, RGB, RGBA), following s2k's degradation
            ``lr = (HR ⊛ kernel)[0::s, 0::s] + n``.
        kernel: the blur kernel in HR pixels (odd sides, >= 0; renormalised to sum 1).
        scale: integer >= 1.
        noise: σ_n of the LR image's noise, 0..255 units (0 for noise-free 8-bit images).
        denoiser: the prior: None (shipped learned denoiser), ``"tv"``, a weight file, a ``DenoiserNet``
            or ``RoundDenoisers``, a callable, or a list of one callable per round (module docstring).
        config: :class:`PnPConfig` (iterations, schedule, padding, tiling).
        progress: a progress bar over the tiles of a large image.

    Returns:
        The SR image in 0..255, ``s·H × s·W`` with the channels of ``lr``: float64, or float32 for images
        larger than ``config.tile`` LR pixels, which are processed in overlapping tiles
        (:func:`s2k.sr.tiling.tiled_apply`) in bounded memory.
    """
    cfg = config or PnPConfig()
    scale = check_scale(scale)
    k = validate_kernel(kernel)
    noise = check_noise_level(noise)
    fn = resolve_denoiser(denoiser, cfg, scale)
    kt = torch.from_numpy(k)

    def run(tile_lr: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(tile_lr.transpose(2, 0, 1)))[None].to(cfg.device)
        out = pnp_torch(t, kt, scale, noise, fn, cfg)
        return out[0].double().cpu().numpy().transpose(1, 2, 0)

    return apply_sr(run, lr, scale, cfg.tile, cfg.tile_overlap, progress)
