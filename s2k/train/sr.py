"""Training of the ``sftmd`` SR backend (:mod:`s2k.nets.sftmd`): one multi-scale network for every kernel
family.

Data are made on the fly (DataLoader workers): per batch one scale (uniform over ``scales``) and one kernel
family (uniform over ``families``); random ``lr_patch · s`` HR crops (flips, 90° rotations), one random
kernel per crop (paper ranges), s2k's degradation (:func:`s2k.degradation.degrade_torch`: true
convolution, symmetric borders, ``[0::s]``, 8-bit rounding; optional noise σ uniform in
``[0, noise_max]``). The kernel PCA (:func:`s2k.kernel_pca.fit_kernel_pca`, ``pca_per_family`` kernels of
each family, seed ``pca_seed``) is fitted once at the start and stored in the network. Loss L1 on 0..1 RGB,
Adam, cosine decay to 1 %.

Validation (``val_dir``; default BSD100): the first ``val_count`` images as fixed synthetic sets
(:func:`s2k.data.make_synthetic_set`, seed ``val_seed``) for each family and scale; PSNR-Y with a border
of ``s`` shaved (s2k's metric), ``psnr_<family>_x<s>`` and their mean in ``val.csv``.

Run folders, resume, ``--device cuda`` (bf16 autocast), torchrun DDP and ``time_limit_min`` as the other
trainers (:mod:`s2k.train.common`). :func:`export_sftmd` writes the shippable fp16 file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from s2k.checkpoint import load_checkpoint
from s2k.data import BatchStream, load_hr_pool, make_synthetic_set, random_crops
from s2k.degradation import check_scale, degrade_torch
from s2k.errors import S2KError
from s2k.kernel_pca import fit_kernel_pca, kernel_pool
from s2k.kernels import FAMILIES, pad_kernel, sample_kernels
from s2k.metrics import psnr_y
from s2k.nets import count_parameters
from s2k.nets.sftmd import SFTMD, SFTMDConfig
from s2k.train.common import (
    RunRecorder,
    begin_run,
    check_init,
    due,
    end_run,
    export_run,
    lr_at,
    make_loader,
    schedule_progress,
    time_up,
)
from s2k.train.common import config_from_dict as _config_from_dict
from s2k.train.estimator import DEFAULT_TRAIN_DIRS, DEFAULT_VAL_DIR


@dataclass(frozen=True)
class SRTrainConfig:
    """Everything an SFTMD training run depends on."""

    families: tuple[str, ...] = FAMILIES
    scales: tuple[int, ...] = (2, 3, 4)
    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    val_dir: str = DEFAULT_VAL_DIR  # "" disables validation
    val_count: int = 5
    val_seed: int = 0
    val_every: int = 2000
    iterations: int = 100000
    batch_size: int = 16
    lr_patch: int = 48
    noise_max: float = 0.0
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.999
    lr_schedule: str = "cosine"
    width: int = 64
    blocks: int = 10
    code_dim: int = 32
    sft_hidden: int = 32
    canvas: int = 23
    pca_per_family: int = 2000
    pca_seed: int = 1000
    pool_limit: int = 0  # 0: every training image
    init: str = ""  # start from these SFTMD weights (weight file or run checkpoint; PCA included)
    seed: int = 0
    workers: int = 1
    threads: int = 0  # 0: torch's default
    device: str = "cpu"
    amp: bool = True  # bf16 autocast, CUDA only
    time_limit_min: float = 0.0  # > 0: stop (and save) after this many minutes; the schedule ends there
    log_every: int = 100
    checkpoint_every: int = 1000

    def __post_init__(self) -> None:
        for f in self.families:
            if f not in FAMILIES:
                raise S2KError(f"unknown family {f!r}; choose from {', '.join(FAMILIES)}")
        for s in self.scales:
            if check_scale(s) not in (2, 3, 4):
                raise S2KError(f"SFTMD serves scales 2, 3 and 4, got {s}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise S2KError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.iterations < 1 or self.batch_size < 1 or self.lr_patch < 4:
            raise S2KError("iterations and batch_size must be >= 1 and lr_patch >= 4")

    def net_config(self) -> SFTMDConfig:
        return SFTMDConfig(
            3, self.width, self.blocks, self.code_dim, self.sft_hidden, self.canvas, tuple(self.scales)
        )


def config_from_dict(d: dict[str, Any]) -> SRTrainConfig:
    """Rebuild the config from its JSON form."""
    return _config_from_dict(SRTrainConfig, d)


@dataclass
class SRBatch:
    hr: torch.Tensor  # B×3×(sP)×(sP), uint8 (small to pass between processes)
    lr: torch.Tensor  # B×3×P×P, uint8 (the degradation rounds to 8-bit levels)
    kernels: torch.Tensor  # B×canvas×canvas
    scale: int


def make_sr_batch(pool: Sequence[np.ndarray], cfg: SRTrainConfig, rng: np.random.Generator) -> SRBatch:
    """Draw one batch (module docstring)."""
    s = int(rng.choice(cfg.scales))
    family = str(rng.choice(cfg.families))
    p = cfg.lr_patch
    crops = random_crops(pool, cfg.batch_size, p * s, p * s, rng)
    kernels = sample_kernels(family, cfg.batch_size, int(rng.integers(2**62)))
    hr = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    noise: float | torch.Tensor = 0.0
    if cfg.noise_max > 0:
        noise = torch.from_numpy(rng.uniform(0, cfg.noise_max, cfg.batch_size)).float()
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    lr = degrade_torch(hr, torch.from_numpy(kernels).float(), s, noise=noise, generator=gen)
    canvas = np.stack([pad_kernel(k, cfg.canvas) for k in kernels])
    return SRBatch(hr.to(torch.uint8), lr.to(torch.uint8), torch.from_numpy(canvas), s)


def validate(net: SFTMD, val_sets: dict[tuple[str, int], list]) -> dict[str, float]:
    """Mean PSNR-Y (shave s) per (family, scale) on the validation sets, and their mean."""
    was_training = net.training
    net.eval()
    out: dict[str, float] = {}
    try:
        for (family, s), items in val_sets.items():
            vals = []
            for it in items:
                lr = torch.from_numpy(it.lr.transpose(2, 0, 1).copy())[None]
                sr = net.super_resolve(lr, it.kernel, s)[0].cpu().double().numpy().transpose(1, 2, 0)
                vals.append(psnr_y(it.hr.astype(np.float64), np.clip(sr, 0, 255), shave=s))
            out[f"psnr_{family}_x{s}"] = float(np.mean(vals))
    finally:
        net.train(was_training)
    if out:
        out["psnr_mean"] = float(np.mean(list(out.values())))
    return out


def _rgb_sets(cfg: SRTrainConfig) -> dict[tuple[str, int], list]:
    sets = {}
    for f in cfg.families:
        for s in cfg.scales:
            items = make_synthetic_set(cfg.val_dir, f, s, cfg.val_count, cfg.val_seed)
            for it in items:  # grey images as RGB: the network is RGB
                if it.hr.shape[2] == 1:
                    it.hr, it.lr = np.repeat(it.hr, 3, axis=2), np.repeat(it.lr, 3, axis=2)
            sets[(f, s)] = items
    return sets


def init_sftmd(net: SFTMD, path: str | Path, config: SFTMDConfig) -> None:
    """Load SFTMD weights (and their PCA) from a weight file or run checkpoint to fine-tune from; raises
    S2KError when the file's network differs from ``config``."""
    check_init(
        path,
        config.to_dict(),
        {
            "s2k-sftmd": lambda m: m["sftmd"],
            "s2k-sftmd-run": lambda m: config_from_dict(m["config"]).net_config().to_dict(),
        },
    )
    load_checkpoint(path, {"net": net}, strict=True)


def train_sr(
    cfg: SRTrainConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) an SFTMD run in folder ``out``; returns the final summary."""
    out = Path(out)
    cfg, world, rank, device = begin_run(cfg, out, resume)
    main = rank == 0

    last = out / "last.safetensors"
    net = SFTMD(cfg.net_config())
    net.set_pca(
        fit_kernel_pca(kernel_pool(cfg.families, cfg.pca_per_family, cfg.pca_seed), cfg.code_dim, cfg.canvas)
    )
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    rec = RunRecorder(out, "s2k-sftmd-run", cfg, {"net": net}, {"net": opt}, higher_is_better=True)
    start = 0
    if resume and last.exists():
        start = rec.resume()
    elif cfg.init:
        init_sftmd(net, cfg.init, cfg.net_config())
    model: torch.nn.Module = net
    if world > 1:
        # ranks may draw different scales, so the other scales' tails get no gradient on a rank
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(net, device_ids=ids, find_unused_parameters=True)

    pool = load_hr_pool(cfg.train_dirs, cfg.pool_limit or None, progress=progress and main)
    side = cfg.lr_patch * max(cfg.scales)
    if not any(min(im.shape[:2]) >= side for im in pool):
        raise S2KError(
            f"no training image holds a {side}×{side} crop (lr_patch {cfg.lr_patch} × {max(cfg.scales)})"
        )
    loader = make_loader(BatchStream(make_sr_batch, pool, cfg, cfg.seed, rank, start), cfg.workers, 2)
    val_sets = _rgb_sets(cfg) if main and cfg.val_dir else {}
    amp = cfg.amp and device.type == "cuda"
    if main:
        print(
            f"sftmd {cfg.net_config()}: {count_parameters(net):,} params; {len(pool)} HR images; "
            f"iterations {start} -> {cfg.iterations} on {device}"
        )
    rec.start_clock()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=not (progress and main), desc="train", unit="it")
    model.train()
    data = iter(loader)
    try:
        while it < cfg.iterations and not time_up(rec.elapsed, cfg.time_limit_min):
            batch = next(data)
            hr = batch.hr.to(device, non_blocking=True).float() / 255.0
            lr_im = batch.lr.to(device, non_blocking=True).float() / 255.0
            code = net.encode(batch.kernels.to(device))
            progress_frac = schedule_progress(it, cfg.iterations, rec.elapsed, cfg.time_limit_min)
            lr = lr_at(cfg.lr, cfg.lr_schedule, progress_frac)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                pred = model(lr_im, code, batch.scale)
            loss = F.l1_loss(pred.float(), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            bar.update(1)
            if not main:
                continue
            if due(it, cfg.log_every, cfg.iterations):
                with torch.no_grad():
                    psnr = -10 * torch.log10(F.mse_loss(pred.float().clamp(0, 1), hr).clamp_min(1e-12))
                rec.row(
                    "log.csv",
                    it,
                    {
                        "lr": lr,
                        "loss": loss.item(),
                        "scale": batch.scale,
                        "train_psnr_rgb": round(psnr.item(), 3),
                    },
                )
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if val_sets and due(it, cfg.val_every, cfg.iterations):
                res = validate(net, val_sets)
                rec.validated(it, res, res["psnr_mean"], ".4f", f"psnr_mean={res['psnr_mean']:.3f}", bar)
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations)
        if main:
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations, last_step=True)
    finally:
        end_run(bar, world)
    return {"iteration": it, "best_psnr_mean": rec.best, "wall_s": rec.wall}


def export_sftmd(
    checkpoint: str | Path, output: str | Path, half: bool = True, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a run's network (``last`` or ``best``) as a shippable weight file (fp16 weights, float64 PCA)
    with metadata ``kind = "s2k-sftmd"``; returns the metadata."""

    def build(config: dict[str, Any]) -> tuple[str, torch.nn.Module, dict[str, Any]]:
        net_cfg = config_from_dict(config).net_config()
        return "net", SFTMD(net_cfg), {"kind": "s2k-sftmd", "sftmd": net_cfg.to_dict()}

    return export_run(checkpoint, output, "s2k-sftmd-run", build, half, extra)
