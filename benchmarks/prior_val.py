"""PnP priors on the validation problems of the end-to-end prior training (objective ``sr``).

The trainer's fixed problems (:func:`s2k.train.denoiser.make_sr_val_set`: BSD100 images 61–68 by default,
outside the benchmark's first 50, centre 192² crops, one kernel per image and case) solved by pnp with each
prior given: weight files, or ``tv`` (20 iterations, the calibration baseline); bicubic on s2k's grid for
reference; ``--noise σ`` adds white noise to the LR images (pnp is told σ). Prints the mean PSNR-Y per case
(s pixels shaved) and over the cases.

    python benchmarks/prior_val.py tv runs/stage1-denoiser.safetensors s2k/weights/denoiser.safetensors
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

from s2k.metrics import psnr_y
from s2k.sr.bicubic import bicubic_upsample
from s2k.sr.pnp import TV_ITERATIONS, PnPConfig, pnp_super_resolve
from s2k.train.denoiser import DenoiserTrainConfig, make_sr_val_set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("priors", nargs="+", help="weight files, or tv")
    p.add_argument("--val-dir", default=DenoiserTrainConfig.val_dir)
    p.add_argument("--val-start", type=int, default=60)
    p.add_argument("--val-count", type=int, default=8)
    p.add_argument("--noise", type=float, default=0.0, help="LR noise σ_n, 0..255 (default 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--digits", type=int, default=2, help="decimals of the printed PSNR-Y (default 2)")
    p.add_argument(
        "--iterations",
        type=int,
        default=PnPConfig.iterations,
        help="HQS rounds for the learned priors (default 8, what they were trained with)",
    )
    p.add_argument(
        "--cases",
        default=",".join(DenoiserTrainConfig.sr_val_cases),
        help="family:scale problems (default the trainer's gaussian:2,gaussian:4,motion:2)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DenoiserTrainConfig(
        objective="sr",
        val_dir=args.val_dir,
        val_start=args.val_start,
        val_count=args.val_count,
        sr_val_cases=tuple(c.strip() for c in args.cases.split(",") if c.strip()),
    )
    items = make_sr_val_set(cfg, args.noise)
    cases = list(cfg.sr_val_cases)
    print("| prior | " + " | ".join(cases) + " | mean |")
    print("| --- |" + " --- |" * (len(cases) + 1))
    for prior in ["bicubic", *args.priors]:
        scores: dict[str, list[float]] = {c: [] for c in cases}
        for it in items:
            if prior == "bicubic":
                sr = bicubic_upsample(it.lr, it.scale)
            else:
                config = PnPConfig(iterations=TV_ITERATIONS if prior == "tv" else args.iterations)
                sr = pnp_super_resolve(it.lr, it.kernel, it.scale, args.noise, denoiser=prior, config=config)
            sr = np.round(np.clip(sr, 0, 255))
            scores[it.case].append(psnr_y(it.hr, sr, shave=it.scale))
        means = [float(np.mean(scores[c])) for c in cases]
        d = args.digits
        print(f"| {prior} | " + " | ".join(f"{m:.{d}f}" for m in means) + f" | {np.mean(means):.{d}f} |")
    n = len(items) // len(cases)
    print(
        f"# {n} images, noise {args.noise}, {args.iterations} HQS rounds for learned priors, "
        f"{platform.machine()}, torch {torch.__version__}"
    )


if __name__ == "__main__":
    main()
