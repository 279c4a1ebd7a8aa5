"""Training of the Gaussian denoiser that serves as the prior of plug-and-play SR (:mod:`s2k.sr.pnp`).

Data are made on the fly, never stored: random ``patch_size`` RGB crops (random flips and 90° rotations,
:func:`s2k.data.random_crops`) of the HR training pool (default: the pool of the estimator,
:data:`s2k.train.estimator.DEFAULT_TRAIN_DIRS`), additive white Gaussian noise with σ uniform in
``[sigma_min, sigma_max]`` (0..255 units, one level per patch; not clipped or quantised, like the
intermediate images the prior sees inside PnP). The network (:class:`s2k.nets.denoiser.DenoiserNet`) gets
the noisy patch and σ in 0..1 units; the loss is the L1 distance to the clean patch (as DRUNet; L1 rather
than L2 for its robustness on textured patches), Adam, cosine learning-rate decay to 1 %.

Objective ``"sr"`` (end-to-end prior, fine-tuning from ``init``, e.g. the shipped denoiser): the network is
trained *through* the unrolled plug-and-play loop it serves (:func:`s2k.sr.pnp.unrolled_pnp`, DPIR's
schedule, ``sr_iterations`` rounds), in the manner of deep unfolding (USRNet, Zhang et al., CVPR 2020):
each batch is ``patch_size`` HR crops, one scale from ``sr_scales``, one random kernel per crop from
``sr_families`` (paper ranges; motion kernels from a pool drawn with a seed other than the benchmarks'),
*periodic* blur and down-sampling (so the FFT data step is exact and no padding is needed), noise σ_n
uniform in ``[0, sr_noise_max]`` on a ``sr_noisy_fraction`` of the crops, 8-bit quantisation; the loss is
the L1 distance of the loop's output to the HR crop. ``sr_borders="padded"`` trains on the inference path
instead (:func:`s2k.sr.pnp.pnp_torch` with gradients: seam padding, boundary update), with crops degraded
with real borders (:func:`make_sr_batch`): about 3.5× the cost per crop, and what the periodic problems
never show, the image's edges. The network stays a σ-conditioned residual
denoiser, so it still runs in every PnP round at inference. ``rounds`` = ``sr_iterations`` (> 1) trains
one network per round instead of one shared by all (:class:`s2k.nets.denoiser.RoundDenoisers`, untied
weights: the same cost per round); ``init`` may then be a shared network, copied into every round.
``grow`` (with ``init``): the file holds a smaller network (fewer levels or blocks; shared, or one per
round), grown into the configured one so that training starts from exactly what it computed
(:func:`s2k.nets.denoiser.grow_denoiser`, round by round).

Validation: the first ``val_count`` images of ``val_dir`` (sorted; default BSD100), centre crops of
``val_crop`` pixels, each with fixed noise (``numpy.random.default_rng([val_seed, round(σ)])``) at every
level of ``val_sigmas`` (default 15 and 50); PSNR on BT.601 Y (s2k's metric) of the clipped output,
``psnr_s15``, ``psnr_s50`` and their mean ``psnr_mean`` in ``val.csv``. With objective ``"sr"``: images
``val_start`` … ``val_start + val_count − 1``, centre crops, s2k's degradation (symmetric borders,
quantised, noise-free) with one kernel per image and case of ``sr_val_cases`` (``family:scale``), the full
inference path (:func:`s2k.sr.pnp.pnp_torch`: padding, boundary update), PSNR-Y with ``s`` pixels shaved:
``psnr_<family><scale>`` per case and their mean ``psnr_mean``.

A run folder holds ``config.json``, ``log.csv``, ``val.csv``, ``last.safetensors`` (network, optimizer,
iteration: everything to resume) and ``best.safetensors`` (the network with the best ``psnr_mean``).
``device="cuda"`` trains with bf16 autocast; under ``torchrun`` (``WORLD_SIZE`` > 1) with
DistributedDataParallel. :func:`export_denoiser` writes a run's network as a shippable fp16 weight file
(metadata ``kind = "s2k-denoiser"``), read back by :func:`s2k.nets.denoiser.load_denoiser`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from s2k.checkpoint import load_checkpoint, read_metadata
from s2k.data import load_hr_pool, random_crops
from s2k.degradation import blur_downsample_torch, degrade, quantize_torch
from s2k.errors import S2KError
from s2k.io import list_images, read_image
from s2k.kernels import FAMILIES, pad_kernel, sample_kernel, sample_kernels
from s2k.metrics import psnr_y
from s2k.nets import count_parameters
from s2k.nets.denoiser import (
    DenoiserConfig,
    DenoiserNet,
    RoundDenoisers,
    build_denoiser,
    default_denoiser,
    grow_denoiser,
    load_denoiser,
)
from s2k.sr.fft_data import p2o, periodic_blur_downsample
from s2k.sr.pnp import PnPConfig, network_prior, pnp_torch, unrolled_pnp
from s2k.train.common import (
    RunRecorder,
    begin_run,
    check_init,
    due,
    end_run,
    export_run,
    lr_at,
    schedule_progress,
    time_up,
)
from s2k.train.common import config_from_dict as _config_from_dict
from s2k.train.estimator import DEFAULT_TRAIN_DIRS, DEFAULT_VAL_DIR

__all__ = [
    "DenoiserTrainConfig",
    "default_denoiser",
    "export_denoiser",
    "load_denoiser",
    "make_denoiser_batch",
    "make_sr_batch",
    "train_denoiser",
]


SR_BORDERS = ("periodic", "padded")  # DenoiserTrainConfig.sr_borders
PHOTO_MARGIN = 6  # sr_borders "padded": LR pixels cut off every side of a photo-like crop


@dataclass(frozen=True)
class DenoiserTrainConfig:
    """Everything a denoiser training run depends on (defaults: s2k's recommended CPU run)."""

    objective: str = "denoise"  # or "sr": train through the unrolled PnP loop (module docstring)
    init: str = ""  # start from these weights (shipped denoiser file or run checkpoint)
    grow: bool = False  # init holds a smaller network (shared or per round): grow it into this one
    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    val_dir: str = DEFAULT_VAL_DIR  # "" disables validation
    val_start: int = 0  # first validation image (sorted order)
    val_count: int = 10
    val_crop: int = 0  # 0: 128 (objective denoise) or 192 (sr)
    val_sigmas: tuple[float, ...] = (15.0, 50.0)
    val_seed: int = 0
    val_every: int = 1000
    iterations: int = 30000
    batch_size: int = 16
    patch_size: int = 0  # 0: 64 (objective denoise) or 96 (sr: a multiple of every scale × 8)
    sigma_min: float = 0.0
    sigma_max: float = 50.0
    loss: str = "l1"  # or "l2"
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    lr_schedule: str = "cosine"  # or "constant"
    unshuffle: int = DenoiserConfig.unshuffle
    widths: tuple[int, ...] = DenoiserConfig.widths
    blocks: tuple[int, ...] = DenoiserConfig.blocks
    rounds: int = 1  # 1: one network for every PnP round; = sr_iterations: one per round (objective sr)
    sr_scales: tuple[int, ...] = (2, 3, 4)  # objective "sr": one scale per batch
    sr_families: tuple[str, ...] = FAMILIES  # objective "sr": one kernel family per crop
    sr_noise_max: float = 10.0  # objective "sr": σ_n of the noisy crops, 0..255
    sr_noisy_fraction: float = 0.3  # objective "sr": share of crops with noise (the rest: quantisation only)
    sr_iterations: int = PnPConfig.iterations  # objective "sr": unrolled PnP rounds (the inference default)
    sr_borders: str = "periodic"  # objective "sr": "periodic" problems, or "padded" (real borders, below)
    sr_photo_fraction: float = 0.5  # sr_borders "padded": share of batches whose LR borders saw real content
    sr_cycle_views: bool = True  # objective "sr": PnPConfig.cycle_views in training and validation
    sr_val_cases: tuple[str, ...] = ("gaussian:2", "gaussian:4", "motion:2")
    pool_limit: int = 0  # 0: every training image
    seed: int = 0
    threads: int = 0  # 0: torch's default
    device: str = "cpu"
    amp: bool = True  # bf16 autocast, CUDA only
    time_limit_min: float = 0.0  # > 0: stop (and save) after this many minutes; the schedule ends there
    log_every: int = 100
    checkpoint_every: int = 1000

    def __post_init__(self) -> None:
        if self.loss not in ("l1", "l2"):
            raise S2KError(f"loss must be l1 or l2, got {self.loss!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise S2KError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if not 0 <= self.sigma_min <= self.sigma_max:
            raise S2KError(f"need 0 <= sigma_min <= sigma_max, got {self.sigma_min}, {self.sigma_max}")
        if self.iterations < 1 or self.batch_size < 1:
            raise S2KError("iterations and batch_size must be >= 1")
        if self.grow and not self.init:
            raise S2KError("grow needs init (the smaller network to grow)")
        if self.objective not in ("denoise", "sr"):
            raise S2KError(f"objective must be denoise or sr, got {self.objective!r}")
        sr = self.objective == "sr"
        if not self.patch_size:
            object.__setattr__(self, "patch_size", 96 if sr else 64)
        if not self.val_crop:
            object.__setattr__(self, "val_crop", 192 if sr else 128)
        factor = self.denoiser_config().factor
        if self.patch_size % factor or (self.val_dir and self.val_crop % factor):
            raise S2KError(f"patch_size and val_crop must be multiples of {factor} for this network")
        if sr:
            bad = [f for f in self.sr_families if f not in FAMILIES]
            if bad or not self.sr_families or not self.sr_scales:
                raise S2KError(f"sr_families must be some of {', '.join(FAMILIES)}, sr_scales not empty")
            for n in (self.patch_size, self.val_crop):
                # HR sides: whole LR pixels at every scale, and the network's factor (periodic, unpadded)
                if any(sc < 1 or n % math.lcm(sc, factor) for sc in self.sr_scales):
                    raise S2KError(
                        f"patch_size and val_crop must be multiples of {factor} and of every scale "
                        "(objective sr)"
                    )
            for case in self.sr_val_cases:
                parse_case(case)
            if self.sr_iterations < 1 or not (0 <= self.sr_noisy_fraction <= 1) or self.sr_noise_max < 0:
                raise S2KError("need sr_iterations >= 1, 0 <= sr_noisy_fraction <= 1, sr_noise_max >= 0")
            if self.sr_borders not in SR_BORDERS or not 0 <= self.sr_photo_fraction <= 1:
                raise S2KError(
                    f"sr_borders must be one of {', '.join(SR_BORDERS)} and 0 <= sr_photo_fraction <= 1"
                )
        if self.rounds != 1 and not (sr and self.rounds == self.sr_iterations):
            raise S2KError(
                f"rounds must be 1 or, with objective sr, equal to sr_iterations ({self.sr_iterations}); "
                f"got {self.rounds}"
            )

    def denoiser_config(self) -> DenoiserConfig:
        return DenoiserConfig(3, self.unshuffle, tuple(self.widths), tuple(self.blocks))


def parse_case(case: str) -> tuple[str, int]:
    """``"gaussian:2"`` → ``("gaussian", 2)``; raises S2KError for anything else."""
    family, _, scale = case.partition(":")
    if family not in FAMILIES or not scale.isdigit() or int(scale) < 1:
        raise S2KError(f"validation case must be family:scale, family one of {', '.join(FAMILIES)}: {case!r}")
    return family, int(scale)


def config_from_dict(d: dict[str, Any]) -> DenoiserTrainConfig:
    """Rebuild the config from its JSON form."""
    return _config_from_dict(DenoiserTrainConfig, d)


def _lr_at(cfg: DenoiserTrainConfig, it: int, elapsed_s: float = 0.0) -> float:
    progress = schedule_progress(it, cfg.iterations, elapsed_s, cfg.time_limit_min)
    return lr_at(cfg.lr, cfg.lr_schedule, progress)


def make_denoiser_batch(
    pool: Sequence[np.ndarray], cfg: DenoiserTrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch: clean ``B×3×P×P`` and noisy patches in 0..1, and the noise levels σ (B, 0..1 units)."""
    crops = random_crops(pool, cfg.batch_size, cfg.patch_size, cfg.patch_size, rng)
    clean = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    sigma = torch.from_numpy(rng.uniform(cfg.sigma_min, cfg.sigma_max, cfg.batch_size)).float() / 255.0
    noise = torch.from_numpy(rng.standard_normal(clean.shape, dtype=np.float32))
    noisy = clean + sigma.view(-1, 1, 1, 1) * noise
    return clean, noisy, sigma


@dataclass
class SRBatch:
    """One batch of the ``"sr"`` objective (0..255 units)."""

    hr: torch.Tensor  # B×3×P×P
    lr: torch.Tensor  # B×3×(P/s)×(P/s), periodic (or, sr_borders "padded", s2k's) degradation, quantised
    kernels: torch.Tensor  # B×1×K×K (K: the largest family size), sum 1
    noise: torch.Tensor  # σ_n per crop (B)
    scale: int


def sr_kernel_sampler(cfg: DenoiserTrainConfig) -> Any:
    """``draw(rng) -> kernel`` for the ``"sr"`` objective: a family of ``cfg.sr_families``, then a kernel
    of the paper's ranges; motion kernels come from a pool of 2000 drawn with seed ``10_000 + cfg.seed``
    (the benchmarks draw theirs with small seeds), each used as is or rotated by 180°."""
    motion = sample_kernels("motion", 2000, 10_000 + cfg.seed) if "motion" in cfg.sr_families else None

    def draw(rng: np.random.Generator) -> np.ndarray:
        family = cfg.sr_families[rng.integers(len(cfg.sr_families))]
        if family == "motion":
            k = motion[rng.integers(len(motion))]  # type: ignore[index]
            return k[::-1, ::-1] if rng.random() < 0.5 else k
        return sample_kernel(family, rng)

    return draw


def make_sr_batch(
    pool: Sequence[np.ndarray], cfg: DenoiserTrainConfig, rng: np.random.Generator, draw_kernel: Any
) -> SRBatch:
    """One ``"sr"`` batch (module docstring): crops, one scale, a kernel and a noise level per crop.

    ``cfg.sr_borders == "padded"``: the crops are degraded as s2k degrades an image (symmetric borders,
    :func:`s2k.degradation.blur_downsample_torch`), or, for a ``sr_photo_fraction`` of the batches, like a
    photo's: a crop ``PHOTO_MARGIN`` LR pixels larger on every side is degraded and the margin cut off, so
    the LR border pixels saw real content beyond the crop."""
    scale = int(cfg.sr_scales[rng.integers(len(cfg.sr_scales))])
    p, b = cfg.patch_size, cfg.batch_size
    photo = cfg.sr_borders == "padded" and rng.random() < cfg.sr_photo_fraction
    margin = PHOTO_MARGIN if photo else 0
    side = p + 2 * scale * margin
    hr = torch.from_numpy(random_crops(pool, b, side, side, rng)).permute(0, 3, 1, 2).float()
    ks = [draw_kernel(rng) for _ in range(b)]
    size = max(k.shape[0] for k in ks)
    kernels = torch.from_numpy(np.stack([pad_kernel(k, size) for k in ks])).float()[:, None]
    noisy = rng.random(b) < cfg.sr_noisy_fraction
    noise = torch.from_numpy(np.where(noisy, rng.uniform(0.0, cfg.sr_noise_max, b), 0.0)).float()
    if cfg.sr_borders == "periodic":
        lr = periodic_blur_downsample(hr, p2o(kernels, (p, p)), scale)
    else:
        lr = blur_downsample_torch(hr, kernels[:, 0], scale)
        if margin:
            m = scale * margin
            lr, hr = lr[..., margin:-margin, margin:-margin], hr[..., m:-m, m:-m]
    lr = lr + noise.view(-1, 1, 1, 1) * torch.from_numpy(rng.standard_normal(lr.shape, dtype=np.float32))
    return SRBatch(hr, quantize_torch(lr), kernels, noise, scale)


def scaled(net: torch.nn.Module, rounds: int = 1) -> Any:
    """The network as a PnP prior with gradients: ``f(x, σ)`` in 0..255 units; for ``rounds`` > 1 (a
    :class:`RoundDenoisers`, possibly wrapped for DDP) the list of per-round priors ``net(x, σ, i)``."""

    def prior(x: torch.Tensor, sigma: torch.Tensor, *index: int) -> torch.Tensor:
        return net(x / 255.0, sigma / 255.0, *index) * 255.0

    if rounds == 1:
        return prior
    return [lambda x, sigma, i=i: prior(x, sigma, i) for i in range(rounds)]


@dataclass
class SRValItem:
    name: str  # image
    case: str  # family:scale (an entry of sr_val_cases)
    hr: np.ndarray  # H×W×3 crop, 0..255
    lr: np.ndarray  # its LR image (s2k degradation, quantised)
    kernel: np.ndarray
    scale: int


def _val_crops(cfg: DenoiserTrainConfig, multiple: int = 1) -> list[tuple[str, np.ndarray]]:
    """The centre crops (RGB, float, 0..255) of the validation images (module docstring), sides cut
    down to a multiple of ``multiple`` where an image is smaller than ``val_crop``."""
    crops = []
    for p in list_images(cfg.val_dir)[cfg.val_start : cfg.val_start + cfg.val_count]:
        im = read_image(p)[:, :, :3]
        if im.shape[2] == 1:
            im = np.repeat(im, 3, axis=2)
        c = min(cfg.val_crop, im.shape[0], im.shape[1])
        c -= c % multiple
        y0, x0 = (im.shape[0] - c) // 2, (im.shape[1] - c) // 2
        crops.append((p.stem, im[y0 : y0 + c, x0 : x0 + c].astype(np.float64)))
    if not crops:
        raise S2KError(f"no validation images in {cfg.val_dir} from index {cfg.val_start}")
    return crops


def make_sr_val_set(cfg: DenoiserTrainConfig, noise: float = 0.0) -> list[SRValItem]:
    """The fixed ``"sr"`` validation problems: every crop × every case, kernels from
    ``numpy.random.default_rng([val_seed, image index, case index])``; LR noise σ_n = ``noise`` (0..255,
    drawn from ``default_rng([val_seed, image index, case index, 1])``; training validates noise-free)."""
    items = []
    multiple = math.lcm(*(parse_case(case)[1] for case in cfg.sr_val_cases))
    for i, (name, hr) in enumerate(_val_crops(cfg, multiple)):
        for j, case in enumerate(cfg.sr_val_cases):
            family, scale = parse_case(case)
            k = sample_kernel(family, np.random.default_rng([cfg.val_seed, i, j]))
            lr = degrade(hr, k, scale, noise, rng=np.random.default_rng([cfg.val_seed, i, j, 1]))
            items.append(SRValItem(name, case, hr, lr, k, scale))
    return items


def validate_sr(
    net: DenoiserNet | RoundDenoisers,
    items: list[SRValItem],
    cases: Sequence[str],
    config: PnPConfig | None = None,
) -> dict[str, float]:
    """Mean PSNR-Y of pnp SR (the inference path, no gradients, ``config``'s rounds and views) per
    validation case, and their mean."""
    was_training = net.training
    net.eval()
    dev = next(net.parameters()).device
    scores: dict[str, list[float]] = {}
    config = replace(config or PnPConfig(), device=dev.type)
    prior = network_prior(net, config.iterations)
    try:
        for it in items:
            lr = torch.from_numpy(it.lr.transpose(2, 0, 1).copy())[None].to(dev)
            k = torch.from_numpy(it.kernel)
            sr = pnp_torch(lr, k, it.scale, 0.0, prior, config)
            out = np.clip(sr[0].double().cpu().numpy().transpose(1, 2, 0), 0, 255)
            scores.setdefault(it.case, []).append(psnr_y(it.hr, np.round(out), shave=it.scale))
    finally:
        net.train(was_training)
    res = {}
    for case in cases:
        family, scale = parse_case(case)
        res[f"psnr_{family}{scale}"] = float(np.mean(scores[case]))
    res["psnr_mean"] = float(np.mean(list(res.values())))
    return res


def init_denoiser(net: DenoiserNet | RoundDenoisers, path: str | Path, grow: bool = False) -> None:
    """Load a denoiser's weights from a shipped file or a run checkpoint (fine-tuning start); a shared
    network may start every round of a :class:`RoundDenoisers`. Raises S2KError when the file holds
    another network (other shape, or another number of rounds). ``grow``: the file holds a smaller network
    (fewer levels or blocks; shared, or one per round as many as ``net`` has), grown into ``net`` round by
    round so that it starts computing exactly the same (:func:`s2k.nets.denoiser.grow_denoiser`)."""

    if grow:
        _grow_into(net, path)
        return
    own = net.rounds if isinstance(net, RoundDenoisers) else 1

    def network(meta: dict[str, Any]) -> dict[str, Any]:
        config, theirs = _file_network(meta)
        return {"denoiser": config.to_dict(), "rounds": own if theirs == 1 else theirs}  # shared: any rounds

    expected = {"denoiser": net.config.to_dict(), "rounds": own}
    check_init(path, expected, dict.fromkeys(_NETWORK_KINDS, network))
    theirs = _file_network(read_metadata(path))[1]
    if isinstance(net, RoundDenoisers) and theirs == 1:
        shared = DenoiserNet(net.config)
        load_checkpoint(path, {"net": shared}, strict=True)
        net.load_shared(shared)
    else:
        load_checkpoint(path, {"net": net}, strict=True)


_NETWORK_KINDS = ("s2k-denoiser", "s2k-denoiser-run")  # a shipped weight file, a run checkpoint


def _file_network(meta: dict[str, Any]) -> tuple[DenoiserConfig, int]:
    """The network (configuration, rounds) that a weight file or run checkpoint of a denoiser holds."""
    if meta.get("kind") == "s2k-denoiser-run":
        run = config_from_dict(meta["config"])
        return run.denoiser_config(), run.rounds
    return DenoiserConfig.from_dict(meta["denoiser"]), int(meta.get("rounds", 1))


def _grow_into(net: DenoiserNet | RoundDenoisers, path: str | Path) -> None:
    meta = read_metadata(path)
    if meta.get("kind") not in _NETWORK_KINDS:
        raise S2KError(f"{path}: not one of {', '.join(_NETWORK_KINDS)}")
    small, rounds = _file_network(meta)
    own = net.rounds if isinstance(net, RoundDenoisers) else 1
    if rounds not in (1, own):
        raise S2KError(f"{path}: {rounds} networks (one per round); cannot grow them into {own}")
    source = build_denoiser(small, rounds)
    load_checkpoint(path, {"net": source}, strict=True)
    sources = list(source.nets) if isinstance(source, RoundDenoisers) else [source] * own
    targets = list(net.nets) if isinstance(net, RoundDenoisers) else [net]
    for src, dst in zip(sources, targets, strict=True):  # each round grown from its own (or the shared) net
        try:
            grown = grow_denoiser(src, net.config)
        except ValueError as exc:
            raise S2KError(f"{path}: cannot grow its network {small} into {net.config}: {exc}") from None
        dst.load_state_dict(grown.state_dict())


@dataclass
class ValItem:
    name: str
    clean: np.ndarray  # H×W×3, 0..255
    noisy: dict[float, np.ndarray]  # σ → noisy image (float, unclipped)


def make_val_set(cfg: DenoiserTrainConfig) -> list[ValItem]:
    """The fixed validation crops of ``cfg.val_dir`` (see the module docstring)."""
    items = []
    for name, clean in _val_crops(cfg):
        noisy = {}
        for s in cfg.val_sigmas:
            rng = np.random.default_rng([cfg.val_seed, round(s)])
            noisy[s] = clean + rng.normal(0.0, s, size=clean.shape)
        items.append(ValItem(name, clean, noisy))
    return items


def validate(net: DenoiserNet, items: list[ValItem], sigmas: Sequence[float]) -> dict[str, float]:
    """Mean PSNR-Y of the denoised validation crops per noise level, and their mean."""
    was_training = net.training
    net.eval()
    dev = next(net.parameters()).device
    out: dict[str, float] = {}
    try:
        for s in sigmas:
            vals = []
            for it in items:
                x = torch.from_numpy(it.noisy[s].transpose(2, 0, 1).copy()).float()[None].to(dev)
                den = net.denoise(x, torch.tensor([s], device=dev))[0].cpu().double().numpy()
                vals.append(psnr_y(it.clean, np.clip(den.transpose(1, 2, 0), 0, 255)))
            out[f"psnr_s{round(s)}"] = float(np.mean(vals))
    finally:
        net.train(was_training)
    out["psnr_mean"] = float(np.mean([out[f"psnr_s{round(s)}"] for s in sigmas]))
    return out


def train_denoiser(
    cfg: DenoiserTrainConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) a denoiser run in folder ``out``; returns the final summary."""
    out = Path(out)
    cfg, world, rank, device = begin_run(cfg, out, resume)
    main = rank == 0

    last = out / "last.safetensors"

    net = build_denoiser(cfg.denoiser_config(), cfg.rounds).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    rec = RunRecorder(out, "s2k-denoiser-run", cfg, {"net": net}, {"net": opt}, higher_is_better=True)
    start = 0
    if resume and last.exists():
        start = rec.resume()
    elif cfg.init:
        init_denoiser(net, cfg.init, cfg.grow)
    plain = net
    model: torch.nn.Module = net
    if world > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    pool = load_hr_pool(cfg.train_dirs, cfg.pool_limit or None, progress=progress and main)
    rng = np.random.default_rng([cfg.seed, rank, start])  # a resumed run does not replay its batches
    sr = cfg.objective == "sr"
    draw_kernel = sr_kernel_sampler(cfg) if sr else None
    unrolled = PnPConfig(iterations=cfg.sr_iterations, cycle_views=cfg.sr_cycle_views)
    val_items: list[Any] = []
    if main and cfg.val_dir:
        val_items = make_sr_val_set(cfg) if sr else make_val_set(cfg)
    amp = cfg.amp and device.type == "cuda"

    if main:
        print(
            f"denoiser {cfg.denoiser_config()}: {count_parameters(plain):,} params; {len(pool)} HR images; "
            f"iterations {start} -> {cfg.iterations} on {device}; objective {cfg.objective}"
        )
    rec.start_clock()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=not (progress and main), desc="train", unit="it")
    model.train()
    try:
        while it < cfg.iterations and not time_up(rec.elapsed, cfg.time_limit_min):
            lr = _lr_at(cfg, it, rec.elapsed)
            for group in opt.param_groups:
                group["lr"] = lr
            if sr:
                b = make_sr_batch(pool, cfg, rng, draw_kernel)
                clean = b.hr.to(device) / 255.0
                lr_img, kernels, noise = (t.to(device) for t in (b.lr, b.kernels, b.noise))
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    prior = scaled(model, cfg.rounds)
                    if cfg.sr_borders == "padded":
                        pred = pnp_torch(lr_img, kernels[:, 0], b.scale, noise, prior, unrolled, grad=True)
                        pred = pred / 255.0
                    else:
                        pred = unrolled_pnp(lr_img, kernels, b.scale, noise, prior, unrolled) / 255.0
            else:
                clean, noisy, sigma = make_denoiser_batch(pool, cfg, rng)
                clean, noisy, sigma = (t.to(device, non_blocking=True) for t in (clean, noisy, sigma))
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    pred = model(noisy, sigma)
            pred = pred.float()
            loss = F.l1_loss(pred, clean) if cfg.loss == "l1" else F.mse_loss(pred, clean)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            bar.update(1)
            if not main:
                continue
            if due(it, cfg.log_every, cfg.iterations):
                with torch.no_grad():
                    psnr = -10 * torch.log10(F.mse_loss(pred.clamp(0, 1), clean).clamp_min(1e-12))
                rec.row(
                    "log.csv", it, {"lr": lr, "loss": loss.item(), "train_psnr_rgb": round(psnr.item(), 3)}
                )
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if val_items and due(it, cfg.val_every, cfg.iterations):
                if sr:
                    res = validate_sr(plain, val_items, cfg.sr_val_cases, unrolled)
                else:
                    res = validate(plain, val_items, cfg.val_sigmas)
                shown = " ".join(f"{k}={v:.3f}" for k, v in res.items())
                rec.validated(it, res, res["psnr_mean"], ".4f", shown, bar)
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations)
        if main:
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations, last_step=True)
    finally:
        end_run(bar, world)
    return {"iteration": it, "best_psnr_mean": rec.best, "wall_s": rec.wall}


def export_denoiser(
    checkpoint: str | Path, output: str | Path, half: bool = True, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a run's network (``last.safetensors`` or ``best.safetensors``) as a shippable weight file
    (fp16 by default) with metadata ``kind = "s2k-denoiser"``; returns the metadata."""

    def build(config: dict[str, Any]) -> tuple[str, torch.nn.Module, dict[str, Any]]:
        run_cfg = config_from_dict(config)
        net_cfg = run_cfg.denoiser_config()
        meta: dict[str, Any] = {"kind": "s2k-denoiser", "denoiser": net_cfg.to_dict()}
        if run_cfg.rounds > 1:
            meta["rounds"] = run_cfg.rounds
        return "net", build_denoiser(net_cfg, run_cfg.rounds), meta

    return export_run(checkpoint, output, "s2k-denoiser-run", build, half, extra)
