"""A compact Markdown summary of an `s2k bench` results.csv: one row per family and scale.

    python benchmarks/bench_summary.py docs/results/bench-bsd100/results.csv

Columns: D_v of the S2K estimator (as is and up to the 180° flip) and of the family's mean kernel; PSNR-Y of
bicubic interpolation, kernel-unaware SR, blind SR with the S2K kernel and non-blind SR with the true kernel,
and the blind − true gap. Every number is a mean over the CSV's images (``results.md`` has every method).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np


def load_cells(path: str) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """The rows of a results.csv grouped by (family, scale), then by method."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    cells: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cells[(r["family"], int(r["scale"]))][r["method"]].append(r)
    return cells


def mean(rows: list[dict], key: str) -> float:
    """Mean of a column over rows (NaN for none)."""
    return float(np.mean([float(r[key]) for r in rows])) if rows else float("nan")


def cell(x: float, fmt: str) -> str:
    """A table cell: the number formatted, or "—" where the method was not run (NaN)."""
    return "—" if np.isnan(x) else format(x, fmt)


def summary(path: str) -> str:
    """The summary table of one results.csv."""
    cells = load_cells(path)
    lines = [
        "| family | scale | images | D_v S2K | D_v S2K up to flip | D_v mean kernel | PSNR bicubic | "
        "PSNR unaware | PSNR blind S2K | PSNR true kernel | blind − true (dB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = {"gaussian": 0, "motion": 1, "disk": 2}
    for (fam, s), m in sorted(cells.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])):
        blind, true = mean(m["blind-s2k"], "psnr_y"), mean(m["true-kernel"], "psnr_y")
        cells_ = [
            cell(mean(m["s2k"], "dv"), ".5f"),
            cell(mean(m["s2k"], "dv_flip"), ".5f"),
            cell(mean(m["mean-kernel"], "dv"), ".5f"),
            cell(mean(m["bicubic"], "psnr_y"), ".2f"),
            cell(mean(m["unaware"], "psnr_y"), ".2f"),
            cell(blind, ".2f"),
            cell(true, ".2f"),
            cell(blind - true, "+.2f"),
        ]
        lines.append(f"| {fam} | ×{s} | {len(m['s2k'])} | " + " | ".join(cells_) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="results.csv files of s2k bench")
    args = p.parse_args()
    for path in args.results:
        print(f"{path}:\n\n{summary(path)}")


if __name__ == "__main__":
    main()
