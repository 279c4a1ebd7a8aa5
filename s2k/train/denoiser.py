"""Training of the Gaussian denoiser that serves as the prior of plug-and-play SR (:mod:`s2k.sr.pnp`).

Data are made on the fly, never stored: random ``patch_size`` RGB crops (random flips and 90° rotations,
:func:`s2k.data.random_crops`) of the HR training pool (default: the pool of the estimator,
:data:`s2k.train.estimator.DEFAULT_TRAIN_DIRS`), additive white Gaussian noise with σ uniform in
``[sigma_min, sigma_max]`` (0..255 units, one level per patch; not clipped or quantised, like the
intermediate images the prior sees inside PnP). The network (:class:`s2k.nets.denoiser.DenoiserNet`) gets
the noisy patch and σ in 0..1 units; the loss is the L1 distance to the clean patch (as DRUNet; L1 rather
than L2 for its robustness on textured patches), Adam, cosine learning-rate decay to 1 %.

Validation: the first ``val_count`` images of ``val_dir`` (sorted; default BSD100), centre crops of
``val_crop`` pixels, each with fixed noise (``numpy.random.default_rng([val_seed, round(σ)])``) at every
level of ``val_sigmas`` (default 15 and 50); PSNR on BT.601 Y (s2k's metric) of the clipped output,
``psnr_s15``, ``psnr_s50`` and their mean ``psnr_mean`` in ``val.csv``.

A run folder holds ``config.json``, ``log.csv``, ``val.csv``, ``last.safetensors`` (network, optimizer,
iteration: everything to resume) and ``best.safetensors`` (the network with the best ``psnr_mean``).
``device="cuda"`` trains with bf16 autocast; under ``torchrun`` (``WORLD_SIZE`` > 1) with
DistributedDataParallel. :func:`export_denoiser` writes a run's network as a shippable fp16 weight file
(metadata ``kind = "s2k-denoiser"``), read back by :func:`s2k.nets.denoiser.load_denoiser`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from s2k.data import load_hr_pool, random_crops
from s2k.errors import S2KError
from s2k.io import list_images, read_image
from s2k.metrics import psnr_y
from s2k.nets import count_parameters
from s2k.nets.denoiser import (
    DenoiserConfig,
    DenoiserNet,
    default_denoiser,
    load_denoiser,
)
from s2k.train.common import (
    RunRecorder,
    begin_run,
    due,
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
    "train_denoiser",
]


@dataclass(frozen=True)
class DenoiserTrainConfig:
    """Everything a denoiser training run depends on (defaults: s2k's recommended CPU run)."""

    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    val_dir: str = DEFAULT_VAL_DIR  # "" disables validation
    val_count: int = 10
    val_crop: int = 128
    val_sigmas: tuple[float, ...] = (15.0, 50.0)
    val_seed: int = 0
    val_every: int = 1000
    iterations: int = 30000
    batch_size: int = 16
    patch_size: int = 64
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
        factor = self.denoiser_config().factor
        if self.patch_size % factor or (self.val_dir and self.val_crop % factor):
            raise S2KError(f"patch_size and val_crop must be multiples of {factor} for this network")

    def denoiser_config(self) -> DenoiserConfig:
        return DenoiserConfig(3, self.unshuffle, tuple(self.widths), tuple(self.blocks))


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
class ValItem:
    name: str
    clean: np.ndarray  # H×W×3, 0..255
    noisy: dict[float, np.ndarray]  # σ → noisy image (float, unclipped)


def make_val_set(cfg: DenoiserTrainConfig) -> list[ValItem]:
    """The fixed validation crops of ``cfg.val_dir`` (see the module docstring)."""
    items = []
    for p in list_images(cfg.val_dir)[: cfg.val_count]:
        im = read_image(p)[:, :, :3]
        if im.shape[2] == 1:
            im = np.repeat(im, 3, axis=2)
        c = min(cfg.val_crop, im.shape[0], im.shape[1])
        y0, x0 = (im.shape[0] - c) // 2, (im.shape[1] - c) // 2
        clean = im[y0 : y0 + c, x0 : x0 + c].astype(np.float64)
        noisy = {}
        for s in cfg.val_sigmas:
            rng = np.random.default_rng([cfg.val_seed, round(s)])
            noisy[s] = clean + rng.normal(0.0, s, size=clean.shape)
        items.append(ValItem(p.stem, clean, noisy))
    if not items:
        raise S2KError(f"no validation images in {cfg.val_dir}")
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

    net = DenoiserNet(cfg.denoiser_config()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    rec = RunRecorder(out, "s2k-denoiser-run", cfg, {"net": net}, {"net": opt}, higher_is_better=True)
    start = rec.resume() if resume and last.exists() else 0
    plain = net
    model: torch.nn.Module = net
    if world > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    pool = load_hr_pool(cfg.train_dirs, cfg.pool_limit or None, progress=progress and main)
    rng = np.random.default_rng([cfg.seed, rank, start])  # a resumed run does not replay its batches
    val_items = make_val_set(cfg) if main and cfg.val_dir else []
    amp = cfg.amp and device.type == "cuda"

    if main:
        print(
            f"denoiser {cfg.denoiser_config()}: {count_parameters(plain):,} params; {len(pool)} HR images; "
            f"iterations {start} -> {cfg.iterations} on {device}"
        )
    rec.start_clock()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=not (progress and main), desc="train", unit="it")
    model.train()
    try:
        while it < cfg.iterations and not time_up(rec.elapsed, cfg.time_limit_min):
            clean, noisy, sigma = make_denoiser_batch(pool, cfg, rng)
            clean, noisy, sigma = (t.to(device, non_blocking=True) for t in (clean, noisy, sigma))
            lr = _lr_at(cfg, it, rec.elapsed)
            for group in opt.param_groups:
                group["lr"] = lr
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
                res = validate(plain, val_items, cfg.val_sigmas)
                rec.row("val.csv", it, {k: f"{v:.4f}" for k, v in res.items()})
                bar.write(f"[{it}] " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
                rec.offer(it, res["psnr_mean"], res)
            if due(it, cfg.checkpoint_every, cfg.iterations):
                rec.save("last.safetensors", it)
        if main and not due(it, cfg.checkpoint_every, cfg.iterations):  # stopped by the time limit
            rec.save("last.safetensors", it)
    finally:
        bar.close()
        if world > 1:
            dist.destroy_process_group()
    return {"iteration": it, "best_psnr_mean": rec.best, "wall_s": rec.wall}


def export_denoiser(
    checkpoint: str | Path, output: str | Path, half: bool = True, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a run's network (``last.safetensors`` or ``best.safetensors``) as a shippable weight file
    (fp16 by default) with metadata ``kind = "s2k-denoiser"``; returns the metadata."""

    def build(config: dict[str, Any]) -> tuple[str, torch.nn.Module, dict[str, Any]]:
        net_cfg = config_from_dict(config).denoiser_config()
        return "net", DenoiserNet(net_cfg), {"kind": "s2k-denoiser", "denoiser": net_cfg.to_dict()}

    return export_run(checkpoint, output, "s2k-denoiser-run", build, half, extra)
