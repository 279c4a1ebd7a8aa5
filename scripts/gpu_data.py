"""Copy a subset of the HR training pool into .gpu/train for a lent-GPU run (the working tree that travels
to the device machine is limited to 64 MiB, and the shipped weights already take about 48 MB of it).

    python scripts/gpu_data.py --count 248     # the first GPU round of session 7; 218 for the second
    python scripts/gpu_data.py --count 400 --val   # sessions 10 and 16 (scripts/gpu_prior.sh,
                                                   # scripts/gpu_scale_priors.sh): all 400, and the pnp
                                                   # validation images BSD100 img 61-68 in .gpu/val

Images are taken alternately from BSDS500_train and BSDS500_test in sorted order (renamed
<folder>_<file>), the first --count of that sequence; the bytes are copied unchanged.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "train"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=248)
    p.add_argument("--out", default=str(ROOT / ".gpu" / "train"))
    p.add_argument("--val", action="store_true", help="also copy BSD100 img 61-68 into .gpu/val")
    args = p.parse_args()
    if args.val:
        val = ROOT / ".gpu" / "val"
        val.mkdir(parents=True, exist_ok=True)
        for f in sorted((DATA.parent / "test" / "BSD100").glob("*.png"))[60:68]:
            shutil.copyfile(f, val / f.name)
    a = sorted((DATA / "BSDS500_train").glob("*.jpg"))
    b = sorted((DATA / "BSDS500_test").glob("*.jpg"))
    order = [x for pair in zip(a, b, strict=False) for x in pair][: args.count]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for f in order:
        shutil.copyfile(f, out / f"{f.parent.name}_{f.name}")
        total += f.stat().st_size
    print(f"{len(order)} images, {total / 1e6:.1f} MB -> {out}")


if __name__ == "__main__":
    main()
