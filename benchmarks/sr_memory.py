"""Peak memory of tiled SR on a large LR image, and tiled vs untiled accuracy (issue: SR tiling).

    python benchmarks/sr_memory.py --make-lr /tmp/big_lr.png --height 3000 --width 4000 --scale 2
    python benchmarks/sr_memory.py --lr /tmp/big_lr.png --scale 2     # peak RSS of read + SR + write
    python benchmarks/sr_memory.py --equivalence                       # tiled vs untiled PSNR
    python benchmarks/sr_memory.py --lr /tmp/big_lr.png --scale 2 --blind motion   # the blind pipeline

The large LR image is the bundled sample degraded with a Gaussian kernel (s2k's degradation) and tiled
(mirrored, so it has no seams) to the LR size, made in a separate process so its making does not count.
The measured process reads it, super-resolves it with the same kernel and writes the SR PNG to a temporary
folder, as `s2k sr` would; with ``--blind F`` it estimates the kernel with the family-F model instead
(and, for motion, refines it: the whole blind pipeline of `s2k sr --family F`). Peak RSS is the process's
ru_maxrss (Linux: KiB), torch included.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

import s2k
from s2k.degradation import degrade
from s2k.io import read_image, write_image
from s2k.kernels import gaussian_kernel
from s2k.metrics import psnr_y
from s2k.pipeline import super_resolve

SAMPLE = Path(s2k.__file__).parent / "assets" / "sample.png"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--backend", default="pnp")
    p.add_argument("--equivalence", action="store_true", help="tiled vs untiled on the bundled sample")
    p.add_argument("--make-lr", help="write the large LR image here and stop")
    p.add_argument("--lr", help="the large LR image to super-resolve")
    p.add_argument("--blind", help="estimate the kernel with this family's model instead of giving it")
    args = p.parse_args()
    k = gaussian_kernel(15, 1.6, 1.1, 0.5)
    if args.equivalence:
        hr = read_image(SAMPLE)[:, :, :3]
        for s in (2, 4):
            lr = degrade(hr, k, s)
            for backend, tile in (("pnp", 64), ("sftmd", 64)):
                whole = super_resolve(lr, s, k, backend=backend, tile=10_000).image
                tiled = super_resolve(lr, s, k, backend=backend, tile=tile).image
                a, b = psnr_y(hr, whole, shave=s), psnr_y(hr, tiled, shave=s)
                print(
                    f"backend={backend} scale={s} lr={lr.shape[1]}x{lr.shape[0]} tile={tile} "
                    f"untiled={a:.3f} tiled={b:.3f} diff={b - a:+.3f} dB",
                    flush=True,
                )
        return
    if args.make_lr:
        small = degrade(read_image(SAMPLE)[:, :, :3], k, args.scale)
        tile = np.concatenate([small, small[::-1]], axis=0)
        tile = np.concatenate([tile, tile[:, ::-1]], axis=1)
        reps = (-(-args.height // tile.shape[0]), -(-args.width // tile.shape[1]), 1)
        write_image(args.make_lr, np.tile(tile, reps)[: args.height, : args.width])
        return
    t = time.perf_counter()
    lr = read_image(args.lr)
    if args.blind:
        res = super_resolve(lr, args.scale, family=args.blind, backend=args.backend)
    else:
        res = super_resolve(lr, args.scale, k, backend=args.backend)
    with tempfile.TemporaryDirectory() as tmp:
        write_image(Path(tmp) / "sr.png", res.image)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"backend={args.backend} blind={args.blind} refined={res.refined} lr={lr.shape[1]}x{lr.shape[0]} "
        f"scale={args.scale} "
        f"sr={res.image.shape[1]}x{res.image.shape[0]} seconds={dt:.0f} peak_rss_mib={peak / 1024:.0f}"
    )


if __name__ == "__main__":
    main()
