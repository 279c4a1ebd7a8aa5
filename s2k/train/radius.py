"""Training of the disk-radius regressor (:mod:`s2k.nets.radius`), one scale per run.

Data on the fly (:mod:`s2k.data`): random HR crops of the training folders (random flips and 90°
rotations), one defocus disk per crop with its radius uniform in ``[radius_min, radius_max]`` (the paper's
[1, 3] by default; :func:`s2k.kernels.disk_kernel`), the foundation's degradation (blur, keep every
``scale``-th pixel, 8-bit rounding; optional white noise up to ``noise_max``), the BT.601 luminance. Loss:
the mean absolute radius error (D_v of a disk grows about linearly with it, docs/ESTIMATOR.md), or with
``loss="dv"`` each error weighted by D_v's slope at its radius (:func:`dv_slope_weights`), Adam,
cosine learning-rate decay, an exponential moving average of the weights (``ema``) that is what validation
scores and what is exported.

Validation: images ``val_start`` to ``val_start + val_count`` of ``val_dir`` (by default BSD100 images
51–74, after the benchmark's first 50), degraded with seed ``val_seed``; the mean absolute radius error and
the mean D_v of the disk at the predicted radius. A run folder holds ``config.json``, ``log.csv``,
``val.csv``, ``last.safetensors`` (everything to resume) and ``best.safetensors``. ``--device cuda`` and
``torchrun`` (DistributedDataParallel) work as for the estimator. Export with :func:`export_radius`.

``init`` starts from a shipped regressor or a run checkpoint (fine-tuning); ``patch_width`` makes the crops
rectangular. Session 19 fine-tuned the shipped ×3 / ×4 networks on crops of 96 / 80 LR pixels and more
(whole BSD-sized images at ×3), which lowered the radius errors of the first runs' 48 px crops
(docs/ESTIMATOR.md, "Larger crops").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from s2k.checkpoint import load_checkpoint
from s2k.color import to_grey_torch
from s2k.data import BatchStream, SyntheticItem, load_hr_pool, make_synthetic_set, random_crops
from s2k.degradation import check_scale, degrade_torch
from s2k.disk_radius import image_luminance
from s2k.errors import S2KError
from s2k.kernel_fit import DISK_RADII, fit_disk
from s2k.kernels import KERNEL_SIZES, padded_disk
from s2k.metrics import kernel_dv
from s2k.nets import count_parameters
from s2k.nets.radius import RadiusNet, RadiusNetConfig
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

RUN_KIND = "s2k-disk-radius-run"


@dataclass(frozen=True)
class RadiusTrainConfig:
    """Everything a disk-radius training run depends on."""

    scale: int = 4
    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    val_dir: str = DEFAULT_VAL_DIR  # "" disables validation
    val_start: int = 50  # held out: the benchmark uses the first 50 images
    val_count: int = 24
    val_seed: int = 0
    val_every: int = 500
    iterations: int = 8000
    batch_size: int = 32
    patch_size: int = 48  # LR pixels (crop height)
    patch_width: int = 0  # LR pixels (crop width; 0: square crops)
    radius_min: float = 1.0
    radius_max: float = 3.0
    noise_max: float = 0.0
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    loss: str = "l1"  # "l1": mean absolute radius error; "dv": weighted by D_v's slope at the radius
    ema: float = 0.999  # decay of the weights' moving average (0: none)
    width: int = 32
    depth: int = 7
    pool_limit: int = 0  # 0: every training image
    init: str = ""  # start from these weights (shipped regressor or run checkpoint): fine-tuning
    seed: int = 0
    workers: int = 0
    threads: int = 0  # 0: torch's default
    device: str = "cpu"
    time_limit_min: float = 0.0
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        check_scale(self.scale)
        if not 0 < self.radius_min < self.radius_max:
            raise S2KError(f"need 0 < radius_min < radius_max, got {self.radius_min}, {self.radius_max}")
        if 2 * np.ceil(self.radius_max - 0.5) + 1 > KERNEL_SIZES["disk"]:
            size = KERNEL_SIZES["disk"]
            raise S2KError(f"radius_max {self.radius_max} does not fit the {size}×{size} disk kernel")
        if not 0.0 <= self.ema < 1.0:
            raise S2KError(f"ema must be in [0, 1), got {self.ema}")
        if self.loss not in ("l1", "dv"):
            raise S2KError(f"loss must be l1 or dv, got {self.loss!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise S2KError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.patch_size < 8 or self.batch_size < 1 or (self.patch_width != 0 and self.patch_width < 8):
            raise S2KError("patch_size must be >= 8, patch_width 0 or >= 8, batch_size >= 1")

    def net_config(self) -> RadiusNetConfig:
        return RadiusNetConfig(self.width, self.depth)


def config_from_dict(d: dict[str, Any]) -> RadiusTrainConfig:
    return _config_from_dict(RadiusTrainConfig, d)


def make_radius_batch(
    pool: Sequence[np.ndarray], cfg: RadiusTrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch: LR luminance crops (``B×1×P×W``, 0..255; ``W`` = ``patch_width`` or ``P``) and their
    disks' radii (``B``, HR pixels)."""
    s, p, pw = cfg.scale, cfg.patch_size, cfg.patch_width or cfg.patch_size
    hr = torch.from_numpy(random_crops(pool, cfg.batch_size, p * s, pw * s, rng)).permute(0, 3, 1, 2).float()
    radii = rng.uniform(cfg.radius_min, cfg.radius_max, size=cfg.batch_size)
    k = torch.from_numpy(np.stack([padded_disk(float(r)) for r in radii])).float()
    noise = rng.uniform(0.0, cfg.noise_max, size=cfg.batch_size) if cfg.noise_max > 0 else 0.0
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    lr = degrade_torch(hr, k, s, noise=torch.as_tensor(noise, dtype=torch.float32), generator=gen)
    return to_grey_torch(lr), torch.from_numpy(radii).float()


def dv_slope_weights(radii: np.ndarray, step: float = 0.05) -> np.ndarray:
    """How fast D_v grows with the radius error at each of ``radii`` (HR pixels): the mean D_v between the
    disk of radius r and those of r ± ``step``, divided by ``step``. It varies about 2× over [1, 3]
    (docs/ESTIMATOR.md); ``loss="dv"`` weights each crop's absolute error by it, relative to its mean."""
    return np.array(
        [
            np.mean([kernel_dv(padded_disk(float(r) + e), padded_disk(float(r))) for e in (-step, step)])
            / step
            for r in np.asarray(radii, dtype=np.float64).ravel()
        ]
    )


def init_radius_net(net: RadiusNet, path: str | Path, config: RadiusNetConfig) -> None:
    """Load a regressor's weights from a shipped file or a run checkpoint (its moving average) as a
    fine-tuning start; raises S2KError when the file holds another network than ``config``."""
    check_init(
        path,
        config.to_dict(),
        {
            "s2k-disk-radius": lambda m: RadiusNetConfig(**m["net"]).to_dict(),
            RUN_KIND: lambda m: config_from_dict(m["config"]).net_config().to_dict(),
        },
    )
    load_checkpoint(path, {"R": net}, strict=True)


def validate(net: RadiusNet, items: Sequence[SyntheticItem], scale: int) -> dict[str, float]:
    """Mean absolute radius error, mean signed error and mean D_v of the predicted disks."""
    was_training = net.training
    net.eval()
    errors, dvs = [], []
    with torch.no_grad():
        for it in items:
            r = float(net(image_luminance(it.lr)))
            errors.append(r - fit_disk(it.kernel).params["radius"])
            dvs.append(kernel_dv(padded_disk(float(np.clip(r, DISK_RADII[0], DISK_RADII[-1]))), it.kernel))
    net.train(was_training)
    e = np.asarray(errors)
    return {"abs_err": float(np.abs(e).mean()), "bias": float(e.mean()), "dv": float(np.mean(dvs))}


def train_radius(
    cfg: RadiusTrainConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) a disk-radius run in folder ``out``; returns the final summary."""
    out = Path(out)
    cfg, world, rank, device = begin_run(cfg, out, resume)
    main = rank == 0
    net = RadiusNet(cfg.net_config()).to(device)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rec = RunRecorder(out, RUN_KIND, cfg, {"R": ema, "R_train": net}, {"R_train": opt}, False, {"R": ema})
    start = 0
    if resume and (out / "last.safetensors").exists():
        start = rec.resume()
    elif cfg.init:
        init_radius_net(net, cfg.init, cfg.net_config())
        ema.load_state_dict(net.state_dict())
    model: torch.nn.Module = net
    if world > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    pool = load_hr_pool(cfg.train_dirs, cfg.pool_limit or None, progress=progress and main)
    loader = make_loader(BatchStream(make_radius_batch, pool, cfg, cfg.seed, rank, start), cfg.workers, 4)
    val_items: list[SyntheticItem] = []
    if main and cfg.val_dir:
        val_items = make_synthetic_set(
            cfg.val_dir, "disk", cfg.scale, cfg.val_count, cfg.val_seed, start=cfg.val_start
        )
    if main:
        print(
            f"disk radius ×{cfg.scale}: {count_parameters(net):,} params; {len(pool)} HR images; "
            f"iterations {start} -> {cfg.iterations} on {device}"
        )
    slope: tuple[np.ndarray, np.ndarray] | None = None
    if cfg.loss == "dv":  # a table over the training radii, relative to its mean
        grid = np.linspace(cfg.radius_min, cfg.radius_max, 81)
        w = dv_slope_weights(grid)
        slope = (grid, w / w.mean())
    rec.start_clock()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=not (progress and main), desc="train", unit="it")
    data = iter(loader)
    try:
        while it < cfg.iterations and not time_up(rec.elapsed, cfg.time_limit_min):
            grey, radii = next(data)
            progress_ = schedule_progress(it, cfg.iterations, rec.elapsed, cfg.time_limit_min)
            lr = lr_at(cfg.lr, cfg.lr_schedule, progress_)
            for group in opt.param_groups:
                group["lr"] = lr
            err = (model(grey.to(device)) - radii.to(device)).abs()
            if slope is not None:
                err = err * torch.from_numpy(np.interp(radii.numpy(), *slope)).to(err)
            loss = err.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            with torch.no_grad():  # warm-up: the average follows the network closely at first
                decay = min(cfg.ema, (1 + it) / (10 + it))
                for pe, pn in zip(ema.parameters(), net.parameters(), strict=True):
                    pe.mul_(decay).add_(pn, alpha=1 - decay)
            bar.update(1)
            if not main:
                continue
            if due(it, cfg.log_every, cfg.iterations):
                rec.row("log.csv", it, {"lr": lr, "l1": loss.item()})
                bar.set_postfix(l1=f"{loss.item():.3f}")
            if val_items and due(it, cfg.val_every, cfg.iterations):
                res = validate(ema, val_items, cfg.scale)
                shown = " ".join(f"{k}={v:.5f}" for k, v in res.items())
                rec.validated(it, res, res["dv"], ".6g", shown, bar)
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations)
        if main:
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations, last_step=True)
    finally:
        end_run(bar, world)
    return {"iteration": it, "best_dv": rec.best, "wall_s": rec.wall}


def export_radius(
    checkpoint: str | Path, output: str | Path, half: bool = False, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a run's averaged network as a shippable weight file (float32 by default: it is small)."""

    def build(config: dict[str, Any]) -> tuple[str, torch.nn.Module, dict[str, Any]]:
        cfg = config_from_dict(config)
        own = {"kind": "s2k-disk-radius", "scale": cfg.scale, "net": cfg.net_config().to_dict()}
        return "R", RadiusNet(cfg.net_config()), own

    return export_run(checkpoint, output, RUN_KIND, build, half, extra)
