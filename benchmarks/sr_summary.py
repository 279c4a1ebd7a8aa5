"""Markdown tables from the per-image CSVs of benchmarks/sr_table.py (means over the images).

    python benchmarks/sr_summary.py docs/results/sr-bsd100-rows.csv [more CSVs]

Prints, per (family, scale): images, PSNR-Y / SSIM-Y / seconds of each method, the gain of each method over
bicubic (s2k's grid) and over the usual bicubic resize (``bicubic-resize``, where the CSVs have it), and the
blind-vs-true-kernel gap of each backend. Every number comes from the CSVs.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np
from sr_table import ALL_METHODS as ORDER  # benchmarks/ is on sys.path when a script here runs


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
    print("| family | scale | method | images | PSNR-Y | SSIM-Y | vs bicubic | vs resize | s / image |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (fam, s), methods in sorted(groups.items()):
        for m in ORDER:
            if m not in methods:
                continue
            # each method against bicubic on the images both have
            imgs = {r["image"] for r in methods[m]}
            if "bicubic" in methods:
                imgs &= {r["image"] for r in methods["bicubic"]}
            mean = means(methods, imgs)
            gain = f"{mean[m]['psnr_y'] - mean['bicubic']['psnr_y']:+.2f}" if "bicubic" in mean else ""
            ref = "bicubic-resize"
            resize = f"{mean[m]['psnr_y'] - mean[ref]['psnr_y']:+.2f}" if ref in mean else ""
            print(
                f"| {fam} | ×{s} | {m} | {len(imgs)} | {mean[m]['psnr_y']:.2f} | {mean[m]['ssim_y']:.4f} | "
                f"{gain} | {resize} | {mean[m]['seconds']:.2f} |"
            )
    print()
    print(
        "| family | scale | pnp: blind − true kernel, dB (images) | "
        "sftmd: blind − true kernel, dB (images) | pnp learned − TV prior, dB (images) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for (fam, s), methods in sorted(groups.items()):

        def diff(a: str, b: str, methods: dict = methods) -> str:
            if a not in methods or b not in methods:
                return "—"
            imgs = {r["image"] for r in methods[a]} & {r["image"] for r in methods[b]}
            m = means(methods, imgs)
            return f"{m[a]['psnr_y'] - m[b]['psnr_y']:+.2f} ({len(imgs)})"

        print(
            f"| {fam} | ×{s} | {diff('blind-pnp', 'pnp')} | {diff('blind-sftmd', 'sftmd')} | "
            f"{diff('pnp', 'pnp-tv')} |"
        )


def means(methods: dict[str, list[dict]], imgs: set[str]) -> dict[str, dict[str, float]]:
    """Mean PSNR-Y / SSIM-Y / seconds of each method over the images ``imgs`` (methods lacking one of them
    are left out)."""
    out = {}
    for m, rows in methods.items():
        sel = [r for r in rows if r["image"] in imgs]
        if len(sel) == len(imgs) and sel:
            out[m] = {k: float(np.mean([float(r[k]) for r in sel])) for k in ("psnr_y", "ssim_y", "seconds")}
    return out


if __name__ == "__main__":
    main()
