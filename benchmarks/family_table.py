"""How well ``family="auto"`` chooses the kernel family, and what the choice is worth in blind SR.

For each family and scale, the first N images of a folder degraded with seed 0 (the estimator benchmark's
set, :func:`s2k.data.make_synthetic_set`): :func:`s2k.choose_family` with the shipped (or ``--classifier``)
classifier. Prints the confusion matrix per scale (rows: true family, columns: chosen), the accuracy, the
mean probability given to the chosen family when right and when wrong, and D_v of the chosen family's kernel
against D_v of the true family's (each on its own canvas, as :func:`s2k.metrics.kernel_dv` measures).

With ``--sr``, also blind pnp SR (PSNR-Y, s pixels shaved) with the true family's estimate, with the
Gaussian default's (what a user who does not say the family gets without auto) and with auto's. An SR run
is skipped where its kernel is one already run (auto choosing the true family or Gaussian), so the table
costs about two SR runs per image.

    python benchmarks/family_table.py --hr ../shared/data/test/BSD100 --n 50 --sr \\
        --out docs/results/family-bsd100.csv
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
from s2k.family import choose_family
from s2k.kernels import FAMILIES
from s2k.metrics import kernel_dv, psnr_y
from s2k.noise import auto_noise
from s2k.pipeline import super_resolve


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True)
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--scales", default="2,3,4")
    p.add_argument("--classifier", help="classifier file (default: shipped)")
    p.add_argument("--sr", action="store_true", help="also blind pnp SR with each family's kernel")
    p.add_argument("--out", help="per-image CSV")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--noise", type=float, default=0.0, help="LR noise σ_n, 0..255")
    p.add_argument(
        "--told",
        choices=("zero", "true", "estimated", "estimated-haar"),
        default="zero",
        help="the noise level auto is told: 0 (default), the true σ_n, or estimated from the LR "
        "image as s2k estimate/sr do (s2k.noise.auto_noise; 'estimated-haar': with the 'haar' "
        "method, s2k's estimate before session 24)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    t0 = time.perf_counter()
    for s in map(int, args.scales.split(",")):
        conf = np.zeros((3, 3), dtype=int)
        for ti, fam in enumerate(FAMILIES):
            for it in make_synthetic_set(args.hr, fam, s, args.n, noise=args.noise):
                if args.told == "estimated":
                    told = auto_noise(it.lr)[0]
                elif args.told == "estimated-haar":
                    told = auto_noise(it.lr, method="haar")[0]
                else:
                    told = args.noise if args.told == "true" else 0.0
                ch = choose_family(it.lr, s, args.classifier, noise=told)
                row = {
                    "scale": s,
                    "family": fam,
                    "image": it.name,
                    "chosen": ch.family,
                    "p_chosen": ch.probabilities[ch.family],
                    "p_true": ch.probabilities[fam],
                    "dv_auto": kernel_dv(ch.kernel, it.kernel),
                    "dv_true_family": kernel_dv(ch.kernels[fam], it.kernel),
                    "dv_gaussian": kernel_dv(ch.kernels["gaussian"], it.kernel),
                    "noise_told": told,
                }
                if args.sr:
                    psnr = {}
                    for name in dict.fromkeys([fam, "gaussian", ch.family]):
                        sr = super_resolve(it.lr, s, ch.kernels[name]).image
                        psnr[name] = psnr_y(it.hr, np.round(np.clip(sr, 0, 255)), shave=s)
                    row.update(
                        psnr_true_family=psnr[fam], psnr_gaussian=psnr["gaussian"], psnr_auto=psnr[ch.family]
                    )
                rows.append(row)
                conf[ti, FAMILIES.index(ch.family)] += 1
        sel = [r for r in rows if r["scale"] == s]
        right = [r["p_chosen"] for r in sel if r["chosen"] == r["family"]]
        wrong = [r["p_chosen"] for r in sel if r["chosen"] != r["family"]]
        print(
            f"×{s}: accuracy {np.trace(conf) / conf.sum():.3f}; rows true {'/'.join(FAMILIES)}, "
            f"columns chosen: {conf.tolist()}; mean p(chosen) right {np.mean(right):.3f}"
            + (f", wrong {np.mean(wrong):.3f}" if wrong else ""),
            flush=True,
        )
    print(
        "| family | scale | images | chosen right | D_v auto | D_v true family | D_v gaussian |"
        + (" PSNR-Y auto | true family | gaussian |" if args.sr else "")
    )
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- | --- |" if args.sr else ""))
    for fam in FAMILIES:
        for s in map(int, args.scales.split(",")):
            sel = [r for r in rows if r["scale"] == s and r["family"] == fam]
            ok = sum(r["chosen"] == fam for r in sel)
            line = (
                f"| {fam} | ×{s} | {len(sel)} | {ok} | {np.mean([r['dv_auto'] for r in sel]):.5f} | "
                f"{np.mean([r['dv_true_family'] for r in sel]):.5f} | "
                f"{np.mean([r['dv_gaussian'] for r in sel]):.5f} |"
            )
            if args.sr:
                line += "".join(
                    f" {np.mean([r[k] for r in sel]):.2f} |"
                    for k in ("psnr_auto", "psnr_true_family", "psnr_gaussian")
                )
            print(line)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(
        f"# {Path(args.hr).name}, {platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
        f"noise {args.noise} (told: {args.told}), {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
