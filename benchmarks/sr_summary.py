"""Markdown tables from the per-image CSVs of benchmarks/sr_table.py (means over the images).

    python benchmarks/sr_summary.py docs/results/sr-bsd100-rows.csv [more CSVs]

Prints, per (family, scale): images, PSNR-Y / SSIM-Y / seconds of each method, the gain of each method over
bicubic, and the blind-vs-true-kernel gap of each backend. Every number comes from the CSVs.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np

ORDER = ("bicubic", "pnp-tv", "pnp", "sftmd", "unaware-pnp", "unaware-sftmd", "blind-pnp", "blind-sftmd")


def load(paths: list[str]) -> dict[tuple[str, int], dict[str, list[dict]]]:
    groups: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        with open(path) as fh:
            for r in csv.DictReader(fh):
                groups[(r["family"], int(r["scale"]))][r["method"]].append(r)
    return groups


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", nargs="+")
    args = p.parse_args()
    groups = load(args.csv)
    print("| family | scale | method | images | PSNR-Y | SSIM-Y | vs bicubic | s / image |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (fam, s), methods in sorted(groups.items(), key=lambda kv: (ORDER.index("bicubic"), kv[0])):
        # compare methods on the images every method of the group has
        common = set.intersection(*({r["image"] for r in rows} for rows in methods.values()))
        mean = {
            m: {
                k: float(np.mean([float(r[k]) for r in rows if r["image"] in common]))
                for k in ("psnr_y", "ssim_y", "seconds")
            }
            for m, rows in methods.items()
        }
        for m in ORDER:
            if m not in mean:
                continue
            gain = f"{mean[m]['psnr_y'] - mean['bicubic']['psnr_y']:+.2f}" if "bicubic" in mean else ""
            print(
                f"| {fam} | ×{s} | {m} | {len(common)} | {mean[m]['psnr_y']:.2f} | {mean[m]['ssim_y']:.4f} | "
                f"{gain} | {mean[m]['seconds']:.2f} |"
            )
    print()
    print(
        "| family | scale | images | pnp: blind − true kernel (dB) | sftmd: blind − true kernel (dB) | "
        "pnp learned − TV prior (dB) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for (fam, s), methods in sorted(groups.items()):
        common = set.intersection(*({r["image"] for r in rows} for rows in methods.values()))
        m = {
            k: float(np.mean([float(r["psnr_y"]) for r in rows if r["image"] in common]))
            for k, rows in methods.items()
        }

        def diff(a: str, b: str, m: dict = m) -> str:
            return f"{m[a] - m[b]:+.2f}" if a in m and b in m else "—"

        print(
            f"| {fam} | ×{s} | {len(common)} | {diff('blind-pnp', 'pnp')} | {diff('blind-sftmd', 'sftmd')} | "
            f"{diff('pnp', 'pnp-tv')} |"
        )


if __name__ == "__main__":
    main()
