"""Kernel-estimation accuracy of the S2K estimator on a fixed synthetic set (issue: estimator acceptance).

For each family and scale: the first N HR images of a folder, degraded with seed 0 by the foundation's
samplers (:func:`s2k.data.make_synthetic_set`); the estimator's kernel (as shipped, or from --weights-dir)
as :func:`s2k.estimate_kernel` returns it (:func:`s2k.estimate.finalize_kernel`; motion: flip resolved;
Gaussian and disk: the nearest member of the family, :mod:`s2k.kernel_fit`; disk: its radius refined from
the pixels where a regressor ships, :mod:`s2k.disk_radius`); mean D_v, D_s, D_v up to the 180° flip; D_v
of the network's kernel before the fit (``dv_network``), of the nearest family member before the radius
refinement (``dv_fit``; the same as ``dv`` where nothing is refined) and, for motion, before the flip is
resolved (``dv_network_orientation``).
Also the no-skill floor: the family's mean kernel (mean of 2000 samples drawn with seed 1). ``--noise σ``
adds white Gaussian noise to the LR images and tells the estimator σ, so the shipped models are chosen as
:func:`s2k.estimate_kernel` chooses them for that noise level (a family's noise-trained model from
:data:`s2k.estimate.NOISY_LEVEL` on, where one is shipped).

    python benchmarks/estimator_table.py --hr ../shared/data/test/BSD100 --n 50 --out docs/results/bsd100.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch

from s2k.data import make_synthetic_set
from s2k.estimate import finalize_kernel, get_estimator
from s2k.kernel_fit import PARAMETRIC_FAMILIES, fit_kernel
from s2k.kernels import FAMILIES, sample_kernels
from s2k.metrics import kernel_errors

NOISE_TAG = " + noise σ "  # a row's set is "BSD100", or "BSD100 + noise σ 2" with --noise 2


def table_command(row: dict[str, str]) -> str:
    """The command that made a row of this script's CSV (for model cards)."""
    hr, _, noise = row["set"].partition(NOISE_TAG)
    return f"python benchmarks/estimator_table.py --hr ../shared/data/test/{hr} --n {row['n']}" + (
        f" --noise {noise}" if noise else ""
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True, help="HR image folder")
    p.add_argument("--n", type=int, default=50, help="first N images (default 50)")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--scales", default="2,3,4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights-dir", help="folder of estimator-<family>.safetensors (default: shipped)")
    p.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="σ_n of white noise added to the LR images, 0..255 (named in the set column)",
    )
    p.add_argument("--out", help="CSV file to write")
    args = p.parse_args()
    torch.set_num_threads(2)
    rows = []
    for fam in args.families.split(","):
        weights = Path(args.weights_dir) / f"estimator-{fam}.safetensors" if args.weights_dir else None
        est = get_estimator(fam, weights, args.noise)
        mean_k = sample_kernels(fam, 2000, 1).mean(axis=0)
        for s in map(int, args.scales.split(",")):
            items = make_synthetic_set(args.hr, fam, s, args.n, args.seed, noise=args.noise)
            raw, fitted, final, floor, t_est = [], [], [], [], []
            for it in items:
                t0 = time.perf_counter()
                k = est.estimate(it.lr, s)
                t_est.append(time.perf_counter() - t0)
                raw.append(kernel_errors(k, it.kernel))
                fit = fit_kernel(k, fam) if fam in PARAMETRIC_FAMILIES else None
                k = finalize_kernel(it.lr, k, s, fam, fitted=fit, noise=args.noise)
                final.append(kernel_errors(k, it.kernel))
                fitted.append(kernel_errors(fit.kernel, it.kernel) if fit else final[-1])
                floor.append(kernel_errors(mean_k, it.kernel))
            row = {
                "set": Path(args.hr).name + (f"{NOISE_TAG}{args.noise:g}" if args.noise else ""),
                "n": len(items),
                "family": fam,
                "scale": s,
                "dv": np.mean([e.dv for e in final]),
                "ds": np.mean([e.ds for e in final]),
                "dv_flip": np.mean([e.dv_flip for e in final]),
                "dv_network": np.mean([e.dv for e in (final if fam == "motion" else raw)]),
                "dv_network_orientation": np.mean([e.dv for e in raw]),
                "dv_fit": np.mean([e.dv for e in fitted]),
                "dv_mean_kernel": np.mean([e.dv for e in floor]),
                "ms_per_image": 1000 * np.mean(t_est),
            }
            rows.append(row)
            print(
                " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                flush=True,
            )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
