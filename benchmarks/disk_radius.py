"""How precise must a disk-kernel estimate be, and how precise is s2k's? (the estimator issue's disk cells)

1. Sensitivity: D_v between the disk of radius r and the disk of radius r ± δ (both 15×15, s2k's
   anti-aliased disk), averaged over r on a grid of [1, 3] (the paper's range) and both signs, per δ.
2. The shipped (or ``--weights-dir``) disk estimator on the benchmark's fixed set (first ``--n`` images of
   ``--hr``, seed 0): D_v of the network's kernel, D_v of the disk whose radius best fits it
   (:func:`s2k.kernel_fit.fit_disk`, what :func:`s2k.estimate_kernel` returns), D_v of the mean of the
   network's kernels over the 8 flips/rotations of the LR image (each turned back), and the radius error of
   the fit (mean, standard deviation) in bands of the true radius.

    python benchmarks/disk_radius.py --hr ../shared/data/test/BSD100 --n 50
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

from s2k.data import make_synthetic_set
from s2k.estimate import get_estimator
from s2k.kernel_fit import fit_disk
from s2k.kernels import padded_disk
from s2k.metrics import kernel_errors

BANDS = ((1.0, 1.5), (1.5, 2.0), (2.0, 2.5), (2.5, 3.0))


def disk(r: float) -> np.ndarray:
    return padded_disk(r)


def dihedral(x: np.ndarray, t: int) -> np.ndarray:
    """The t-th of the 8 flips/rotations of the first two axes of ``x``."""
    x = np.rot90(x, t % 4, axes=(0, 1))
    return np.ascontiguousarray(x[:, ::-1] if t >= 4 else x)


def undo_dihedral(k: np.ndarray, t: int) -> np.ndarray:
    k = k[:, ::-1] if t >= 4 else k
    return np.ascontiguousarray(np.rot90(k, -(t % 4), axes=(0, 1)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True, help="HR image folder")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--scales", default="2,3,4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights-dir", default="", help="folder of estimator-disk.safetensors")
    args = p.parse_args()
    torch.set_num_threads(1)

    def fit_radius(k: np.ndarray) -> float:
        return fit_disk(k).params["radius"]

    print("## D_v of a radius error δ (HR pixels), mean over r in [1, 3]\n")
    print("| δ | D_v |\n| --- | --- |")
    radii = np.linspace(1.0, 3.0, 201)
    for d in (0.02, 0.05, 0.08, 0.1, 0.12, 0.2, 0.3, 0.5):
        dv = [kernel_errors(disk(r + sg * d), disk(r)).dv for r in radii for sg in (-1, 1)]
        print(f"| {d} | {np.mean(dv):.5f} |")

    path = f"{args.weights_dir}/estimator-disk.safetensors" if args.weights_dir else None
    est = get_estimator("disk", path)
    print("\n## the estimator\n")
    print(
        "| scale | D_v | D_v fitted disk | D_v 8-view mean | radius error mean / sd | "
        + " | ".join(f"r in [{lo}, {hi}): bias / sd" for lo, hi in BANDS)
        + " |"
    )
    print("| --- " * (5 + len(BANDS)) + "|")
    for s in map(int, args.scales.split(",")):
        items = make_synthetic_set(args.hr, "disk", s, args.n, args.seed)
        dv, dv_fit, dv_d4, r_true, r_est = [], [], [], [], []
        for it in items:
            k = est.estimate(it.lr, s)
            views = [undo_dihedral(est.estimate(dihedral(it.lr, t), s), t) for t in range(8)]
            mean = np.mean(views, axis=0)
            r_true.append(fit_radius(it.kernel))
            r_est.append(fit_radius(k))
            dv.append(kernel_errors(k, it.kernel).dv)
            dv_fit.append(kernel_errors(disk(r_est[-1]), it.kernel).dv)
            dv_d4.append(kernel_errors(mean / mean.sum(), it.kernel).dv)
        rt, err = np.array(r_true), np.array(r_est) - np.array(r_true)
        bands = []
        for lo, hi in BANDS:
            m = (rt >= lo) & (rt < hi + (1e-9 if hi == BANDS[-1][1] else 0))
            bands.append(f"{err[m].mean():+.2f} / {err[m].std():.2f} (n={m.sum()})" if m.any() else "-")
        print(
            f"| ×{s} | {np.mean(dv):.5f} | {np.mean(dv_fit):.5f} | {np.mean(dv_d4):.5f} | "
            f"{err.mean():+.3f} / {err.std():.3f} | " + " | ".join(bands) + " |"
        )
    print(f"\n# {args.hr}, first {args.n}, seed {args.seed}, {platform.machine()}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
