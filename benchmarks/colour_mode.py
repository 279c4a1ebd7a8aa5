"""pnp on the RGB channels (s2k's way) against pnp on the luma only (chroma from bicubic interpolation).

The SR issue asks for colour "per channel or in YCbCr as measured best". With one kernel for every channel
the data step is the same linear operator per channel, so the only real alternative to s2k's RGB
processing is to super-resolve the luma alone (a grey image through the same pnp) and take the chroma from
bicubic interpolation: ``SR = bicubic(LR) + (pnp(luma(LR)) − luma(bicubic(LR)))`` on every channel (adding
the same value to R, G and B moves the luma by that value and leaves the chroma). Prints, per case, PSNR-Y
and PSNR on RGB (s pixels shaved, 8-bit results) and the wall time of each way, true kernel, noise-free.

    python benchmarks/colour_mode.py --hr ../shared/data/test/BSD100 --n 20 --threads 1
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from s2k.color import to_grey
from s2k.data import make_synthetic_set
from s2k.metrics import psnr_y
from s2k.sr.bicubic import bicubic_upsample
from s2k.sr.pnp import pnp_super_resolve


def psnr_rgb(a: np.ndarray, b: np.ndarray, shave: int) -> float:
    """PSNR over the three colour channels, ``shave`` border pixels removed."""
    d = a[shave:-shave, shave:-shave, :3].astype(np.float64) - b[shave:-shave, shave:-shave, :3]
    return float(10 * np.log10(255.0**2 / np.mean(d**2)))


def luma_only(lr: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
    """pnp on the luma; chroma from bicubic interpolation."""
    bic = bicubic_upsample(lr, scale)
    sr_luma = pnp_super_resolve(to_grey(lr), kernel, scale)
    return bic + (sr_luma - to_grey(bic))[:, :, None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--cases", nargs="+", default=["gaussian:2", "gaussian:4", "motion:2"])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ways = {
        "rgb": lambda it, s: pnp_super_resolve(it.lr, it.kernel, s),
        "luma": lambda it, s: luma_only(it.lr, it.kernel, s),
    }
    print("| case | way | images | PSNR-Y | PSNR-RGB | s / image |")
    print("| --- | --- | --- | --- | --- | --- |")
    for case in args.cases:
        family, scale = case.split(":")
        s = int(scale)
        items = make_synthetic_set(args.hr, family, s, args.n)
        for name, way in ways.items():
            rows = []
            for it in items:
                t0 = time.perf_counter()
                sr = np.round(np.clip(way(it, s), 0, 255))
                dt = time.perf_counter() - t0
                rows.append((psnr_y(it.hr, sr, s), psnr_rgb(it.hr, sr, s), dt))
            m = np.mean(rows, axis=0)
            print(
                f"| {family} ×{scale} | {name} | {len(rows)} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |",
                flush=True,
            )
    print(f"# {platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)")


if __name__ == "__main__":
    main()
