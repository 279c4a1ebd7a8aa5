"""Wall time of s2k's SR backends on one LR image (issue: SR speed goal, ≤ 2 s for 256×256 ×4 on CPU).

    python benchmarks/sr_speed.py --size 256 --scale 4 --repeats 5

A 256×256 RGB LR image (the bundled sample degraded with a Gaussian kernel), the true kernel given (non-blind:
the estimator's own time is in benchmarks/estimate_speed.py); each backend is run once to load its weights,
then ``--repeats`` times; the median is printed. Threads: torch's default for this machine unless --threads.

Blind methods (the whole pipeline, estimate included), on the same image degraded with a motion kernel:
``blind-motion`` (``family="motion"``, the default kernel refinement) and ``blind-motion-norefine``
(``refine=False``), e.g. ``--methods blind-motion,blind-motion-norefine --scale 2``. ``--prior W`` times
the ``pnp`` method with a denoiser weight file of one's own instead of the shipped prior.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import s2k
from s2k.degradation import degrade
from s2k.io import read_image
from s2k.kernels import gaussian_kernel, motion_kernel_pool
from s2k.pipeline import super_resolve

SAMPLE = Path(s2k.__file__).parent / "assets" / "sample.png"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256, help="LR side (default 256)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--methods", default="pnp,pnp-tv,sftmd")
    p.add_argument("--prior", default="learned", help="denoiser weight file for the pnp method")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hr = read_image(SAMPLE)[:, :, :3]
    reps = int(np.ceil(args.size * args.scale / min(hr.shape[:2])))
    hr = np.tile(hr, (reps, reps, 1))[: args.size * args.scale, : args.size * args.scale]
    k = gaussian_kernel(15, 2.0, 1.2, 0.4)
    lr = degrade(hr, k, args.scale)
    lr_motion = degrade(hr, motion_kernel_pool(8, 0)[3], args.scale)
    for m in args.methods.split(","):
        backend = "sftmd" if m == "sftmd" else "pnp"
        prior = "tv" if m == "pnp-tv" else args.prior if m == "pnp" else "learned"

        def run(backend: str = backend, prior: str = prior, m: str = m) -> None:
            if m.startswith("blind-motion"):
                refine = False if "norefine" in m else None
                super_resolve(lr_motion, args.scale, family="motion", refine=refine)
            else:
                super_resolve(lr, args.scale, k, backend=backend, prior=prior)

        run()
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        print(
            f"method={m} lr={args.size}x{args.size} scale={args.scale} "
            f"median_s={statistics.median(times):.2f} "
            f"min_s={min(times):.2f} repeats={args.repeats}",
            flush=True,
        )
    print(
        f"# {platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, pnp prior {args.prior}"
    )


if __name__ == "__main__":
    main()
