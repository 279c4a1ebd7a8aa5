"""SR accuracy and time of s2k's backends on a fixed synthetic set (issue: SR acceptance).

For each family and scale: the first N HR images of a folder, degraded with seed 0 by the foundation's
samplers (:func:`s2k.data.make_synthetic_set`); then, per image, PSNR-Y / SSIM-Y (border of s shaved) and
wall time of each method:

* ``bicubic`` — bicubic interpolation on s2k's grid;
* ``bicubic-resize`` — the usual image-library bicubic resize (Pillow; pixel-centred grid, so
  ``(s − 1)/2`` HR pixels off s2k's degradation grid: the weaker baseline users usually compare with);
* ``pnp-tv`` — pnp with the TV prior and the true kernel (the classical calibration baseline);
* ``pnp`` / ``sftmd`` — non-blind with the true kernel (the upper bound of each backend);
* ``unaware-pnp`` / ``unaware-sftmd`` — the kernel-unaware reference (the bicubic-like kernel assumed);
* ``blind-pnp`` / ``blind-sftmd`` — blind: the kernel estimated by the shipped S2K model of the family
  (with :func:`s2k.super_resolve`'s default kernel refinement, :mod:`s2k.kernel_refine`; rows measured
  before session 12 had none);
* ``blind-pnp-norefine`` / ``blind-pnp-refine`` — blind pnp with the refinement forced off / on.

``--prior FILE`` runs every learned-prior pnp method with that denoiser weight file instead of the shipped
one (a prior of one's own, or a candidate; keep its rows in their own ``--out``).

Per-image rows go to ``--out`` (CSV, appended as they come, so an interrupted run keeps what it did and a
rerun skips the rows it already has); the means per (family, scale, method) are printed at the end.
``--replace BEFORE.csv`` remeasures rows (e.g. after new weights): first it moves the rows this run would
write (its cases, methods and images) out of ``--out`` and appends them to ``BEFORE.csv``, which keeps the
replaced figures; then it runs as usual. Rows are written with ``\n`` line ends.

    python benchmarks/sr_table.py --hr ../shared/data/test/BSD100 --n 50 --cases gaussian:2,3,4 motion:2 \\
        --out docs/results/sr-bsd100-rows.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch

from s2k.data import make_synthetic_set, synthetic_set_images
from s2k.io import atomic_write
from s2k.metrics import psnr_y, ssim_y
from s2k.pipeline import super_resolve
from s2k.sr.bicubic import bicubic_upsample, image_resize_bicubic
from s2k.sr.pnp import BORDERS

ALL_METHODS = (
    "bicubic",
    "bicubic-resize",
    "pnp-tv",
    "pnp",
    "sftmd",
    "unaware-pnp",
    "unaware-sftmd",
    "blind-pnp",
    "blind-sftmd",
    "blind-pnp-norefine",
    "blind-pnp-refine",
)


def run_method(
    method: str,
    lr: np.ndarray,
    scale: int,
    kernel: np.ndarray,
    family: str,
    learned: str = "learned",
    border: str = "free",
) -> np.ndarray:
    """The SR image of one method (module docstring); ``learned``: the learned prior (or a weight file);
    ``border``: pnp's border assumption (:class:`s2k.sr.pnp.PnPConfig`)."""
    if method == "bicubic":
        return bicubic_upsample(lr, scale)
    if method == "bicubic-resize":
        return image_resize_bicubic(lr, scale)
    backend = "sftmd" if method.endswith("sftmd") else "pnp"
    if method.startswith("unaware"):
        k: np.ndarray | str | None = "bicubic"
    elif method.startswith("blind"):
        k = None
    else:
        k = kernel
    prior = "tv" if method == "pnp-tv" else "learned" if backend == "sftmd" else learned
    refine = {"blind-pnp-norefine": False, "blind-pnp-refine": True}.get(method)
    return super_resolve(
        lr,
        scale,
        k,
        family=family,
        backend=backend,
        prior=prior,
        refine=refine,
        border=border if backend == "pnp" else "free",
    ).image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True, help="HR image folder")
    p.add_argument("--n", type=int, default=50, help="first N images (default 50)")
    p.add_argument(
        "--cases",
        nargs="+",
        default=["gaussian:2,3,4", "motion:2"],
        help="family:scales items (default gaussian:2,3,4 motion:2)",
    )
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="per-image CSV (appended; existing rows are skipped)")
    p.add_argument("--prior", default="learned", help="denoiser weight file for the learned-prior methods")
    p.add_argument(
        "--border",
        default="free",
        choices=BORDERS,
        help="pnp's border assumption (default free; keep reflect rows in their own --out)",
    )
    p.add_argument(
        "--replace",
        default="",
        help="move the rows this run would write from --out to this CSV first (remeasure them)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    out = Path(args.out)
    if args.replace:
        names = {q.stem for q in synthetic_set_images(args.hr, args.n)}
        keys = {
            (family, scale, m, name)
            for family, scales in (case.split(":") for case in args.cases)
            for scale in scales.split(",")
            for m in methods
            for name in names
        }
        moved = move_rows(out, Path(args.replace), keys)
        print(f"moved {moved} rows from {out} to {args.replace}", flush=True)
    done: set[tuple[str, str, str, str]] = set()
    if out.exists():
        with out.open() as fh:
            done = {(r["family"], r["scale"], r["method"], r["image"]) for r in csv.DictReader(fh)}
    fields = ["set", "family", "scale", "method", "image", "psnr_y", "ssim_y", "seconds"]
    new = not out.exists()
    with out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        if new:
            w.writeheader()
        for case in args.cases:
            family, scales = case.split(":")
            for s in map(int, scales.split(",")):
                items = make_synthetic_set(args.hr, family, s, args.n, args.seed)
                for it in items:
                    for m in methods:
                        if (family, str(s), m, it.name) in done:
                            continue
                        t = time.perf_counter()
                        sr = run_method(m, it.lr, s, it.kernel, family, args.prior, args.border)
                        dt = time.perf_counter() - t
                        w.writerow(
                            {
                                "set": Path(args.hr).name,
                                "family": family,
                                "scale": s,
                                "method": m,
                                "image": it.name,
                                "psnr_y": f"{psnr_y(it.hr, sr, shave=s):.4f}",
                                "ssim_y": f"{ssim_y(it.hr, sr, shave=s):.5f}",
                                "seconds": f"{dt:.3f}",
                            }
                        )
                        fh.flush()
                print(f"{family} ×{s} done", flush=True)
    summarise(out)
    print(
        f"# {platform.machine()}, torch {torch.__version__}, {args.threads} threads, prior {args.prior}, "
        f"border {args.border}"
    )


def move_rows(src: Path, dst: Path, keys: set[tuple[str, str, str, str]]) -> int:
    """Move the rows of ``src`` whose (family, scale, method, image) is in ``keys`` to the end of ``dst``
    (created with ``src``'s header if missing); returns how many moved."""
    if not src.exists():
        return 0
    with src.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    hit = [(r["family"], r["scale"], r["method"], r["image"]) in keys for r in rows]
    if not any(hit):
        return 0
    new = not dst.exists()
    with dst.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerows(r for r, h in zip(rows, hit, strict=True) if h)

    def write_kept(tmp: str) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(r for r, h in zip(rows, hit, strict=True) if not h)

    atomic_write(src, write_kept)  # the moved rows are in dst before src loses them
    return sum(hit)


def summarise(path: Path) -> None:
    """Print the mean PSNR-Y / SSIM-Y / seconds per (family, scale, method) of a per-image CSV."""
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["scale"], r["method"]), []).append(r)
    for (f, s, m), rs in groups.items():
        mean = {k: float(np.mean([float(r[k]) for r in rs])) for k in ("psnr_y", "ssim_y", "seconds")}
        print(
            f"family={f} scale={s} method={m} n={len(rs)} psnr_y={mean['psnr_y']:.3f} "
            f"ssim_y={mean['ssim_y']:.4f} seconds={mean['seconds']:.2f}"
        )


if __name__ == "__main__":
    main()
