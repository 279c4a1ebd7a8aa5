"""How often :func:`s2k.flip.resolve_flip` picks the right orientation when handed the TRUE motion kernel
or its 180° rotation (an upper bound for the flip step, independent of the estimator).

    python benchmarks/flip_oracle.py --hr ../shared/data/test/BSD100 --n 50
"""

from __future__ import annotations

import argparse

import numpy as np

from s2k.data import make_synthetic_set
from s2k.flip import resolve_flip
from s2k.kernels import flip180
from s2k.metrics import kernel_dv


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True)
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--scales", default="2,3,4")
    args = p.parse_args()
    for s in map(int, args.scales.split(",")):
        items = make_synthetic_set(args.hr, "motion", s, args.n, 0)
        asym = [it for it in items if kernel_dv(it.kernel, flip180(it.kernel)) >= 1e-4]
        keep = sum(np.array_equal(resolve_flip(it.lr, it.kernel, s), it.kernel) for it in asym)
        back = sum(np.array_equal(resolve_flip(it.lr, flip180(it.kernel), s), it.kernel) for it in asym)
        print(
            f"×{s}: {len(asym)} asymmetric kernels; true kernel kept {keep}/{len(asym)}, "
            f"rotated kernel turned back {back}/{len(asym)}"
        )


if __name__ == "__main__":
    main()
