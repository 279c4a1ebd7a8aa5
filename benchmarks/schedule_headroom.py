"""Headroom of the HQS schedule: how much a schedule learned for one case would gain over DPIR's.

For each ``family:scale`` case, the shipped prior is frozen and 16 numbers are learned end to end through
the unrolled loop (:func:`s2k.sr.pnp.hqs_loop`): a log-gain on each round's prior level σ_i and on each
round's data weight α_i, both starting at 0 (DPIR's schedule, :meth:`s2k.sr.pnp.PnPConfig.schedule`).
Training batches are the prior trainer's ``"sr"`` batches (:func:`s2k.train.denoiser.make_sr_batch`:
96² crops of the training pool, periodic degradation, noise-free, this case's family and scale only);
evaluation is the full inference path (:func:`s2k.sr.pnp.pnp_torch`) on the trainer's held-out validation
problems (BSD100 images ``val_start`` …, centre 192² crops, one kernel per image). A learned schedule
*per case* bounds what any kernel- or scale-dependent schedule (a hyper-network like USRNet's) could
gain with this prior. Prints the held-out PSNR-Y with DPIR's and the learned schedule, and the gains.

    python benchmarks/schedule_headroom.py --cases gaussian:2,gaussian:4,motion:2 --steps 600
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch

from s2k.data import load_hr_pool
from s2k.nets.denoiser import default_denoiser
from s2k.sr.pnp import PnPConfig, hqs_loop
from s2k.train.denoiser import (
    DenoiserTrainConfig,
    make_sr_batch,
    make_sr_val_set,
    parse_case,
    scaled,
    sr_kernel_sampler,
    validate_sr,
)


def with_gains(
    sigmas: torch.Tensor, alphas: torch.Tensor, log_sigma_gain: torch.Tensor, log_alpha_gain: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A schedule (``rounds × B``) with a log-gain per round on σ_i and α_i."""
    return sigmas * torch.exp(log_sigma_gain)[:, None], alphas * torch.exp(log_alpha_gain)[:, None]


@dataclass(frozen=True)
class GainedSchedule(PnPConfig):
    """DPIR's schedule with a log-gain on every round's σ_i and α_i."""

    log_sigma_gain: tuple[float, ...] = ()
    log_alpha_gain: tuple[float, ...] = ()

    def schedule(self, scale: int, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigmas, alphas = super().schedule(scale, noise)
        gs = torch.tensor(self.log_sigma_gain or [0.0] * self.iterations, dtype=sigmas.dtype)
        ga = torch.tensor(self.log_alpha_gain or [0.0] * self.iterations, dtype=alphas.dtype)
        return with_gains(sigmas, alphas, gs, ga)


def held_out(net, items, config: PnPConfig) -> float:
    """Mean PSNR-Y of the inference path with ``config`` on the validation problems of one case."""
    return validate_sr(net, items, [items[0].case], config)["psnr_mean"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="gaussian:2,gaussian:4")
    p.add_argument("--steps", type=int, default=600, help="Adam steps per case (batch 8)")
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--val-start", type=int, default=68)
    p.add_argument("--val-count", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="", help="write the results (and learned gains) as JSON")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    net = default_denoiser()
    for w in net.parameters():
        w.requires_grad_(False)

    prior = scaled(net)  # 0..255 units, with gradients (the trainer's wrapper)
    dpir = PnPConfig()
    pool = None
    results = []
    for case in args.cases.split(","):
        family, scale = parse_case(case)
        cfg = DenoiserTrainConfig(
            objective="sr",
            sr_scales=(scale,),
            sr_families=(family,),
            sr_noisy_fraction=0.0,
            batch_size=8,
            patch_size=96,
            val_start=args.val_start,
            val_count=args.val_count,
            sr_val_cases=(case,),
            seed=args.seed,
        )
        items = make_sr_val_set(cfg)
        before = held_out(net, items, dpir)
        pool = pool if pool is not None else load_hr_pool(cfg.train_dirs, progress=False)
        rng, draw = np.random.default_rng(args.seed), sr_kernel_sampler(cfg)
        n = dpir.iterations
        gs, ga = torch.zeros(n, requires_grad=True), torch.zeros(n, requires_grad=True)
        opt = torch.optim.Adam([gs, ga], lr=args.lr)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            b = make_sr_batch(pool, cfg, rng, draw)
            sigmas, alphas = with_gains(*dpir.schedule(b.scale, b.noise), gs, ga)
            out = hqs_loop(b.lr, b.kernels, b.scale, sigmas, alphas, prior, cycle=dpir.cycle_views)
            loss = (out - b.hr).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        learned = GainedSchedule(log_sigma_gain=tuple(gs.tolist()), log_alpha_gain=tuple(ga.tolist()))
        after = held_out(net, items, learned)
        row = {
            "case": case,
            "images": len(items),
            "dpir": before,
            "learned": after,
            "gain": after - before,
            "train_s": time.perf_counter() - t0,
            "log_sigma_gain": gs.tolist(),
            "log_alpha_gain": ga.tolist(),
        }
        results.append(row)
        print(
            f"{case}: DPIR {before:.2f}  learned {after:.2f}  ({after - before:+.2f} dB, "
            f"{len(items)} images, {row['train_s']:.0f} s)",
            flush=True,
        )
        gains = (np.round(np.exp(g.detach().numpy()), 2) for g in (gs, ga))
        print("  σ gain", next(gains), " α gain", next(gains))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
