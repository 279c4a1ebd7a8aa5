"""Fitting the combiner of a disk-radius regressor (:class:`s2k.nets.radius.RadiusCombiner`).

A disk estimate at ×3 / ×4 has two readings of the radius: r_S2K, of the disk fitted to the S2K kernel
(the amplitude spectrum), and r_CNN, the regressor's (the pixels). The shipped regressors first combined
them with one weight for every radius. The combiner adds a correction learned from the two readings, so
that the weight and the bias may depend on the radius.

Data: every image of the training folders (by default the estimators' own pool, BSDS500 train + test;
never the benchmark's images), degraded whole by the foundation's samplers
(:func:`s2k.data.iter_synthetic_set`) once per kernel draw, with seeds ``0 .. draws − 1``. The shipped S2K
disk estimator and the regressor read each LR image. The true radius is that of the disk fitted to the
drawn kernel, the same as the benchmark's. For a noise-trained regressor the draws carry white noise
spread over ``[noise_min, noise_max]``, as the images it serves do. Fit: the mean absolute radius error,
Adam with cosine decay, random mini-batches of the problems. The correction starts at zero, so the
combiner starts as the linear blend. Minutes on a CPU, nearly all of it spent in the estimates.

:func:`attach_combiner` writes a copy of the regressor's weight file with the combiner added: tensors
``C.*`` and metadata ``combiner``, holding the configuration, the number of problems, and the radius
errors before and after on those same problems. :mod:`s2k.disk_radius` uses the combiner where a file has
one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from s2k.checkpoint import save_checkpoint
from s2k.data import SyntheticItem, iter_synthetic_set, list_images
from s2k.disk_radius import RadiusRegressor, load_radius_regressor
from s2k.errors import S2KError
from s2k.estimate import KernelEstimator, get_estimator
from s2k.kernel_fit import fit_disk
from s2k.nets.radius import CombinerConfig, RadiusCombiner
from s2k.train.common import spread_level
from s2k.train.estimator import DEFAULT_TRAIN_DIRS


@dataclass(frozen=True)
class CombinerFitConfig:
    """Data and optimisation of a combiner fit."""

    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    n: int = 0  # first N images of each folder (0: all)
    draws: int = 10  # kernel draws per image (degradation seeds 0 .. draws − 1)
    noise_min: float = 0.0  # white noise σ_n (0..255) of the draws: spread evenly over [min, max] ...
    noise_max: float = 0.0  # ... (draw d: min + (max − min)·(d + 0.5) / draws); 0, 0: noise-free
    hidden: int = 16
    steps: int = 3000
    batch_size: int = 512
    lr: float = 3e-3
    seed: int = 0
    threads: int = 0  # 0: torch's default

    def __post_init__(self) -> None:
        if not self.train_dirs or self.n < 0 or self.draws < 1:
            raise S2KError("need training folders, n >= 0 and draws >= 1")
        if not 0.0 <= self.noise_min <= self.noise_max:
            raise S2KError(f"need 0 <= noise_min <= noise_max, got {self.noise_min}, {self.noise_max}")
        if self.hidden < 1 or self.steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise S2KError("hidden, steps and batch_size must be >= 1 and lr > 0")

    def draw_noise(self, draw: int) -> float:
        """The noise level σ_n of kernel draw ``draw``."""
        return spread_level(self.noise_min, self.noise_max, draw, self.draws)


def radius_readings(
    reg: RadiusRegressor, item: SyntheticItem, est: KernelEstimator
) -> tuple[float, float, float]:
    """One disk problem's (true radius, r_S2K, r_CNN): the disks fitted to the drawn kernel and to ``est``'s
    estimate, and ``reg``'s reading of the LR image (the benchmark's true radius is the same fit)."""
    r_s2k = fit_disk(est.estimate(item.lr, reg.scale)).params["radius"]
    return fit_disk(item.kernel).params["radius"], r_s2k, reg.radius(item.lr)


def radius_problems(reg: RadiusRegressor, cfg: CombinerFitConfig, progress: bool = True) -> np.ndarray:
    """``N × 3`` array of (true radius, r_S2K, r_CNN) over the folders' images and the kernel draws. r_S2K is
    read by the S2K disk model an image of the draw's noise level gets (:func:`s2k.estimate.get_estimator`
    with that level: the noise-trained one where one ships), as :func:`s2k.estimate_kernel` reads it."""
    n = cfg.n or None
    total = 0
    for d in cfg.train_dirs:
        count = len(list_images(d)[:n])
        if count == 0:
            raise S2KError(f"no images in {d}")
        total += count * cfg.draws
    rows = []
    with tqdm(total=total, desc=f"disk radius problems ×{reg.scale}", disable=not progress) as bar:
        for seed in range(cfg.draws):
            est = get_estimator("disk", noise=cfg.draw_noise(seed))
            for d in cfg.train_dirs:
                for item in iter_synthetic_set(d, "disk", reg.scale, n, seed, cfg.draw_noise(seed)):
                    rows.append(radius_readings(reg, item, est))
                    bar.update()
    return np.asarray(rows, dtype=np.float64)


def fit_combiner(problems: np.ndarray, blend: float, cfg: CombinerFitConfig) -> RadiusCombiner:
    """A combiner around the linear ``blend``, fitted to ``problems`` (:func:`radius_problems`)."""
    torch.manual_seed(cfg.seed)
    comb = RadiusCombiner(CombinerConfig(blend=blend, hidden=cfg.hidden))
    t = torch.as_tensor(problems, dtype=torch.float32)
    opt = torch.optim.Adam(comb.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.steps):
        b = t[torch.randint(0, len(t), (cfg.batch_size,), generator=gen)]
        loss = (comb(b[:, 1], b[:, 2]) - b[:, 0]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return comb.eval()


def radius_errors(comb: RadiusCombiner, problems: np.ndarray) -> dict[str, float]:
    """Mean absolute radius error on ``problems`` of the linear blend alone and of the combiner."""
    t = torch.as_tensor(problems, dtype=torch.float32)
    w = comb.config.blend
    with torch.no_grad():
        combined = comb(t[:, 1], t[:, 2])
    linear = (1.0 - w) * t[:, 1] + w * t[:, 2]
    return {
        "linear_abs_err": float((linear - t[:, 0]).abs().mean()),
        "combined_abs_err": float((combined - t[:, 0]).abs().mean()),
    }


def attach_combiner(
    weights: str | Path, output: str | Path, cfg: CombinerFitConfig, progress: bool = True
) -> dict[str, Any]:
    """Fit a combiner for the regressor in ``weights`` (its linear ``blend`` as the starting point; a
    combiner the file already has is replaced) and write the regressor with it to ``output``; returns
    the combiner's metadata."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    reg = load_radius_regressor(weights)
    problems = radius_problems(reg, cfg, progress)
    comb = fit_combiner(problems, reg.blend, cfg)
    info = {
        "net": comb.config.to_dict(),
        "fit": {**asdict(cfg), "train_dirs": list(cfg.train_dirs), "problems": len(problems)},
        "errors": radius_errors(comb, problems),
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    meta = {**reg.meta, "combiner": info}
    save_checkpoint(output, {"R": reg.net, "C": comb}, None, meta)
    return info
