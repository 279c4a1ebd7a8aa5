"""Turn the CSV of estimator_table.py into the Markdown tables of docs/ESTIMATOR.md (no hand copying).

python benchmarks/csv_to_markdown.py docs/results/estimator-bsd100.csv
"""

from __future__ import annotations

import csv
import sys


def main() -> None:
    for path in sys.argv[1:]:
        with open(path) as fh:
            rows = list(csv.DictReader(fh))
        print(f"{rows[0]['set']} (first {rows[0]['n']} images), mean per image:\n")
        fitted = "dv_network" in rows[0]  # CSVs from before the family fit (session 10) lack the column
        refined = "dv_fit" in rows[0]  # ... and from before the disk-radius refinement (session 18)
        print(
            "| family | scale | D_v | D_s | D_v up to flip | "
            + ("D_v before the radius refinement | " if refined else "")
            + ("D_v before the family fit | " if fitted else "")
            + "D_v before flip resolution | D_v mean kernel | ms / image |"
        )
        print("| --- " * (8 + fitted + refined) + "|")
        for r in rows:
            before_fit = f"{float(r['dv_network']):.5f} | " if fitted else ""
            before_refine = f"{float(r['dv_fit']):.5f} | " if refined else ""
            print(
                f"| {r['family']} | ×{r['scale']} | {float(r['dv']):.5f} | {float(r['ds']):.3f} | "
                f"{float(r['dv_flip']):.5f} | {before_refine}{before_fit}"
                f"{float(r['dv_network_orientation']):.5f} | "
                f"{float(r['dv_mean_kernel']):.5f} | {float(r['ms_per_image']):.0f} |"
            )
        print()


if __name__ == "__main__":
    main()
