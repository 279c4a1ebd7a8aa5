"""Wall time of kernel estimation on one LR image after loading (issue: ≤ 100 ms for 512×512).

    python benchmarks/estimate_speed.py --size 512 --repeats 20

Times :func:`s2k.estimate_kernel` (spectrum feature + generator + kernel recovery; for motion also the
flip resolution; for disk at ``--scale`` 3 and 4 also the radius regressor) on a synthetic 512×512 RGB LR
image, after one warm-up call that loads the weights.
``--families gaussian,motion,disk,auto`` also times ``family="auto"`` (the three estimates and the
family classifier; on a Gaussian-blurred image).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from s2k import degrade, estimate_kernel, sample_kernel
from s2k.kernels import FAMILIES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument(
        "--scale",
        type=int,
        default=2,
        help="the LR image's scale (default 2; disk at 3 and 4 includes the radius regressor)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    s = args.scale
    hr = rng.uniform(0, 255, (args.size * s, args.size * s, 3))
    hr = np.asarray(degrade(hr, np.ones((1, 1)), 1))
    for fam in args.families.split(","):
        lr = degrade(hr, sample_kernel("gaussian" if fam == "auto" else fam, rng), s)
        estimate_kernel(lr, s, fam)  # load + warm up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            estimate_kernel(lr, s, fam)
            times.append(time.perf_counter() - t0)
        print(
            f"{fam}: {args.size}×{args.size} LR ×{s}, median {1000 * np.median(times):.1f} ms, "
            f"min {1000 * np.min(times):.1f} ms over {args.repeats} runs"
        )
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
