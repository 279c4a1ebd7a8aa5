"""Training of the Spectrum-to-Kernel estimator: the paper's conditional GAN (§3.3, Eq. 11-12).

Generator loss ``λ1·|map − G(s)|₁ + λ2·(D(s; G(s)) − 1)² + λ3·TV(G(s))`` with λ = (100, 1, 1) (the L1 term
taken up to the 180° flip, :func:`map_l1`, an s2k change measured on motion kernels), LSGAN
discriminator loss ``D(s; G(s))² + (D(s; map) − 1)²``, Adam β = (0.5, 0.999), lr 1e-3 (all defaults of
:class:`EstimatorTrainConfig`). Data are made on the fly (:mod:`s2k.data`) in DataLoader workers.

A run folder holds ``config.json``, ``log.csv`` (losses), ``val.csv`` (D_v / D_s per scale on the fixed
validation set), ``last.safetensors`` (everything needed to resume: networks, optimizers, iteration) and
``best.safetensors`` (the generator with the lowest mean validation D_v). ``--device cuda`` trains with
bf16 autocast; under ``torchrun`` it trains with DistributedDataParallel (one process per GPU, or gloo on
CPU). Export a run's generator for shipping with :func:`export_estimator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from s2k.checkpoint import load_checkpoint
from s2k.data import BatchConfig, estimator_batches, load_hr_pool, make_synthetic_set
from s2k.errors import S2KError
from s2k.estimate import KernelEstimator
from s2k.features import check_feature
from s2k.kernels import FAMILIES
from s2k.losses import gan_loss, tv_loss
from s2k.metrics import kernel_errors
from s2k.nets import build_generator, count_parameters
from s2k.nets.discriminator import PatchDiscriminator
from s2k.nets.generator import GeneratorConfig, kernel_to_map
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

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEFAULT_TRAIN_DIRS = (
    str(SHARED_DATA / "train" / "BSDS500_train"),
    str(SHARED_DATA / "train" / "BSDS500_test"),
)
DEFAULT_VAL_DIR = str(SHARED_DATA / "test" / "BSD100")


@dataclass(frozen=True)
class EstimatorTrainConfig:
    """Everything a training run depends on; the defaults are the paper's loss and optimiser."""

    family: str = "gaussian"
    scales: tuple[int, ...] = (2, 3, 4)  # one drawn per batch, uniformly (list one twice to weight it)
    train_dirs: tuple[str, ...] = DEFAULT_TRAIN_DIRS
    val_dir: str = DEFAULT_VAL_DIR  # "" disables validation
    val_count: int = 50
    val_seed: int = 0
    val_every: int = 500
    iterations: int = 20000
    batch_size: int = 32
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    lr_schedule: str = "constant"  # or "cosine" (to 1 % of lr at the last iteration)
    lambda_l1: float = 100.0
    lambda_adv: float = 1.0
    lambda_tv: float = 1.0
    flip_invariant_l1: bool = True  # L1 to the nearer of the target map and its 180° rotation
    gan_mode: str = "lsgan"
    spectrum_size: int = 64
    depth: int = 5
    width: int = 32
    max_width: int = 256
    skips: bool = True
    feature: str = "spectrum"  # generator input: "spectrum", or "spatial" (the paper's Table-3 ablation)
    output: str = "map"  # generator output: "map", or "gaussian" parameters (Table-3 ablation)
    disc_width: int = 32
    disc_layers: int = 3
    lr_size_min: int = 48
    lr_size_max: int = 160
    noise_max: float = 0.0
    pool_limit: int = 0  # 0: every training image
    init: str = ""  # start the generator from these weights (shipped file or run checkpoint); D starts fresh
    seed: int = 0
    workers: int = 1
    threads: int = 0  # 0: torch's default
    device: str = "cpu"
    amp: bool = True  # bf16 autocast, CUDA only
    time_limit_min: float = 0.0  # > 0: stop (and save) after this many minutes; the schedule ends there
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise S2KError(f"unknown family {self.family!r}; choose from {', '.join(FAMILIES)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise S2KError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        check_feature(self.feature)
        if self.output == "gaussian" and self.family != "gaussian":
            raise S2KError("the Gaussian-parameter output only serves the gaussian family")

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(
            self.spectrum_size, self.depth, self.width, self.max_width, self.skips, 1, self.output
        )

    def batch_config(self) -> BatchConfig:
        return BatchConfig(
            self.family,
            self.scales,
            self.batch_size,
            (self.lr_size_min, self.lr_size_max),
            self.spectrum_size,
            (0.0, self.noise_max),
            self.feature,
        )


def config_from_dict(d: dict[str, Any]) -> EstimatorTrainConfig:
    """Rebuild the config from its JSON form."""
    return _config_from_dict(EstimatorTrainConfig, d)


def map_l1(fake: torch.Tensor, target: torch.Tensor, flip_invariant: bool) -> torch.Tensor:
    """Mean L1 between kernel maps; with ``flip_invariant``, per sample the smaller of the L1 to the target
    and to its 180° rotation.

    The amplitude spectrum cannot tell a kernel from its 180° rotation, so for non-centrosymmetric (motion)
    kernels the plain L1 asks for the impossible and is minimised by a blurred mix of both orientations;
    the flip-invariant L1 lets the network commit to one orientation, and :mod:`s2k.flip` picks the right
    one afterwards from the phase. For centrosymmetric kernels (Gaussian, disk) both are the same loss.
    """
    err = (fake - target).abs().mean(dim=(1, 2, 3))
    if flip_invariant:
        err = torch.minimum(err, (fake - target.flip(-2, -1)).abs().mean(dim=(1, 2, 3)))
    return err.mean()


def _lr_at(cfg: EstimatorTrainConfig, it: int, elapsed_s: float = 0.0) -> float:
    progress = schedule_progress(it, cfg.iterations, elapsed_s, cfg.time_limit_min)
    return lr_at(cfg.lr, cfg.lr_schedule, progress)


def validate(estimator: KernelEstimator, val_sets: dict[int, list]) -> dict[str, float]:
    """Mean D_v, D_s and D_v up to the flip per scale on the validation sets (and their mean D_v)."""
    out: dict[str, float] = {}
    for s, items in val_sets.items():
        errs = [kernel_errors(estimator.estimate(it.lr, s), it.kernel) for it in items]
        out[f"dv_x{s}"] = float(np.mean([e.dv for e in errs]))
        out[f"ds_x{s}"] = float(np.mean([e.ds for e in errs]))
        out[f"dv_flip_x{s}"] = float(np.mean([e.dv_flip for e in errs]))
    if val_sets:
        out["dv_mean"] = float(np.mean([out[f"dv_x{s}"] for s in val_sets]))
    return out


def init_generator(G: torch.nn.Module, path: str | Path, config: GeneratorConfig) -> None:
    """Load a generator's weights from a shipped estimator file or a run checkpoint (fine-tuning start);
    raises S2KError when the file's network differs from ``config``."""
    check_init(
        path,
        config.to_dict(),
        {
            "s2k-estimator": lambda m: GeneratorConfig(**m["generator"]).to_dict(),
            "s2k-estimator-run": lambda m: config_from_dict(m["config"]).generator_config().to_dict(),
        },
    )
    load_checkpoint(path, {"G": G}, strict=True)


def train_estimator(
    cfg: EstimatorTrainConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) an estimator run in folder ``out``; returns the final summary."""
    out = Path(out)
    cfg, world, rank, device = begin_run(cfg, out, resume)
    main = rank == 0

    last = out / "last.safetensors"

    G = build_generator(cfg.generator_config()).to(device)
    D = PatchDiscriminator(2, cfg.disc_width, cfg.disc_layers).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    rec = RunRecorder(
        out,
        "s2k-estimator-run",
        cfg,
        {"G": G, "D": D},
        {"G": opt_g, "D": opt_d},
        higher_is_better=False,
        best_modules={"G": G},
    )
    start = 0
    if resume and last.exists():
        start = rec.resume()
    elif cfg.init:
        init_generator(G, cfg.init, cfg.generator_config())
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        G = DistributedDataParallel(G, device_ids=ids)
        D = DistributedDataParallel(D, device_ids=ids)
    g_plain: torch.nn.Module = getattr(G, "module", G)

    pool = load_hr_pool(cfg.train_dirs, cfg.pool_limit or None, progress=progress and main)
    loader = make_loader(estimator_batches(pool, cfg.batch_config(), cfg.seed, rank, start), cfg.workers, 4)
    val_sets = {}
    if main and cfg.val_dir:
        val_sets = {
            s: make_synthetic_set(cfg.val_dir, cfg.family, s, cfg.val_count, cfg.val_seed) for s in cfg.scales
        }
    estimator = KernelEstimator(g_plain, cfg.family, cfg.scales, {}, cfg.feature)
    amp = cfg.amp and device.type == "cuda"

    if main:
        print(
            f"estimator {cfg.family} ×{','.join(map(str, cfg.scales))}: G {count_parameters(g_plain):,} "
            f"params, D {count_parameters(getattr(D, 'module', D)):,}; {len(pool)} HR images; "
            f"iterations {start} -> {cfg.iterations} on {device}"
        )
    rec.start_clock()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=not (progress and main), desc="train", unit="it")
    G.train()
    D.train()
    data = iter(loader)
    try:
        while it < cfg.iterations and not time_up(rec.elapsed, cfg.time_limit_min):
            batch = next(data)
            spec = batch.spectrum.to(device, non_blocking=True)
            cond = batch.scale.to(device)
            target = kernel_to_map(batch.kernel.to(device), cfg.spectrum_size)
            lr = _lr_at(cfg, it, rec.elapsed)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                fake = G(spec, cond)
                # discriminator: fake and real in one forward (instance norm is per sample)
                scores = D(torch.cat([spec, spec]), torch.cat([fake.detach(), target]))
            d_fake, d_real = scores.float().chunk(2)
            loss_d = gan_loss(d_fake, False, cfg.gan_mode) + gan_loss(d_real, True, cfg.gan_mode)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                score_g = D(spec, fake)
            fake32 = fake.float()
            l1 = map_l1(fake32, target, cfg.flip_invariant_l1)
            adv = gan_loss(score_g.float(), True, cfg.gan_mode)
            tv = tv_loss(fake32)
            loss_g = cfg.lambda_l1 * l1 + cfg.lambda_adv * adv + cfg.lambda_tv * tv
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            it += 1
            bar.update(1)
            if not main:
                continue
            if due(it, cfg.log_every, cfg.iterations):
                rec.row(
                    "log.csv",
                    it,
                    {
                        "lr": lr,
                        "loss_g": loss_g.item(),
                        "l1": l1.item(),
                        "adv": adv.item(),
                        "tv": tv.item(),
                        "loss_d": loss_d.item(),
                    },
                )
                bar.set_postfix(l1=f"{l1.item():.4f}", d=f"{loss_d.item():.3f}")
            if val_sets and due(it, cfg.val_every, cfg.iterations):
                res = validate(estimator, val_sets)
                shown = " ".join(f"{k}={v:.6f}" for k, v in res.items() if k.startswith("dv"))
                rec.validated(it, res, res["dv_mean"], ".6g", shown, bar)
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations)
        if main:
            rec.checkpoint(it, cfg.checkpoint_every, cfg.iterations, last_step=True)
    finally:
        end_run(bar, world)
    return {"iteration": it, "best_dv_mean": rec.best, "wall_s": rec.wall}


def export_estimator(
    checkpoint: str | Path, output: str | Path, half: bool = True, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a run's generator as a shippable weight file (fp16 by default) with its metadata."""

    def build(config: dict[str, Any]) -> tuple[str, torch.nn.Module, dict[str, Any]]:
        cfg = config_from_dict(config)
        own = {
            "kind": "s2k-estimator",
            "family": cfg.family,
            "scales": sorted(set(cfg.scales)),  # a scale listed twice was only drawn twice as often
            "generator": cfg.generator_config().to_dict(),
            "feature": cfg.feature,
        }
        return "G", build_generator(cfg.generator_config()), own

    return export_run(checkpoint, output, "s2k-estimator-run", build, half, extra)
