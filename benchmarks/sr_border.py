"""How much of the SR error sits at the image borders: PSNR-Y with growing border shaves.

The benchmark's problems (:func:`s2k.data.make_synthetic_set`: the first N images of a folder, s2k's
degradation with symmetric borders, seed 0), non-blind SR with the true kernel by each backend; PSNR-Y
of the same outputs with ``s`` (the tables' convention) and more pixels shaved. If shaving more raised
PSNR much, the border handling (pnp's seam padding and boundary update) would be costing accuracy.

    python benchmarks/sr_border.py --hr ../shared/data/test/BSD100 --n 20 --cases gaussian:2 gaussian:4
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import replace

import numpy as np
import torch

from s2k.data import SyntheticItem, make_synthetic_set
from s2k.metrics import psnr_y
from s2k.pipeline import super_resolve


def cropped(item: SyntheticItem, scale: int, c: int) -> SyntheticItem:
    """The item with ``c`` LR pixels cut off every side and the HR cut to the same region."""
    lr = item.lr[c:-c, c:-c]
    hr = item.hr[scale * c : scale * (c + lr.shape[0]), scale * c : scale * (c + lr.shape[1])]
    return replace(item, lr=lr, hr=hr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True, help="HR image folder")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--cases", nargs="+", default=["gaussian:2", "gaussian:4"], help="family:scale items")
    p.add_argument("--backends", default="pnp,sftmd")
    p.add_argument("--shaves", default="8,16,32", help="extra shaves in HR pixels (besides s)")
    p.add_argument("--borders", default="free", help="pnp border assumptions to compare (free,reflect)")
    p.add_argument(
        "--crop",
        type=int,
        default=0,
        help="cut this many LR pixels off every side after degrading (and the HR to match): the "
        "LR border pixels then saw real content beyond the HR, as in a photo",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prior", default="learned", help="pnp prior: learned, tv or a denoiser weight file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    extra = [int(v) for v in args.shaves.split(",")]
    print(f"# {platform.machine()}, torch {torch.__version__}, {args.threads} threads")
    for case in args.cases:
        family, scale = case.split(":")
        s = int(scale)
        shaves = [s, *extra]
        items = make_synthetic_set(args.hr, family, s, args.n, args.seed)
        if args.crop:
            items = [cropped(it, s, args.crop) for it in items]
        backends = args.backends.split(",")
        runs = [("pnp", b) for b in args.borders.split(",")] if "pnp" in backends else []
        runs += [(b, "free") for b in backends if b != "pnp"]
        for backend, border in runs:
            rows = []
            for it in items:
                prior = args.prior if backend == "pnp" else "learned"  # sftmd has no prior to swap
                sr = super_resolve(it.lr, s, it.kernel, backend=backend, border=border, prior=prior)
                rows.append([psnr_y(it.hr, sr.image, shave=v) for v in shaves])
            mean = np.mean(rows, axis=0)
            cells = "  ".join(f"shave {v}: {m:.2f}" for v, m in zip(shaves, mean, strict=True))
            name = f"pnp border={border}" if backend == "pnp" else backend
            print(f"{family} ×{s} {name} ({len(items)} images)  {cells}", flush=True)


if __name__ == "__main__":
    main()
