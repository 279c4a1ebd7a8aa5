"""How well ``noise="auto"`` (:func:`s2k.noise.estimate_noise`) knows the noise, and what it buys pnp.

The benchmark's problems (:func:`s2k.data.make_synthetic_set`: N images of a folder from ``--start``, seed 0)
with white Gaussian noise σ_n added before 8-bit rounding, non-blind pnp with the true kernel told three
things about the noise: nothing (σ_n = 0, the default), the truth, and the estimate; with ``--blind``, also
blind pnp (the kernel estimated by the family's S2K model) with the noise estimated: what ``s2k sr`` does by
default; with ``--auto-family``, also blind pnp with the family chosen by ``family="auto"`` and the noise
estimated (what ``s2k sr --family auto`` does). With ``--jpeg Q`` the LR images (noise included) are stored as
JPEG of quality Q and read back first, and a fourth way is added: the estimate raised to the JPEG floor of the
file's quantisation table (:func:`s2k.noise.jpeg_noise_floor`: what ``s2k sr`` does with a JPEG file). With
``--compare-haar`` every way that uses the estimate is run a second time with the ``"haar"`` method's estimate
(the way's name + ``-haar``), and ``--ways`` keeps only the named ways. Prints, per case and σ_n, the mean
estimate (and its range) and the mean PSNR-Y of each way (s border pixels shaved); rows go to ``--out``.

    python benchmarks/noise_level.py --hr ../shared/data/test/BSD100 --n 20 --cases gaussian:2 gaussian:4 \\
        motion:2 --noise 0,5,10 --out runs/noise-rows.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2k.data import make_synthetic_set
from s2k.metrics import psnr_y
from s2k.noise import estimate_noise, jpeg_noise_floor
from s2k.pipeline import super_resolve

TOLD = ("zero", "true", "auto")
BLIND = "blind-auto"  # --blind: kernel and noise both estimated
JPEG = "auto-jpeg"  # --jpeg: the estimate raised to the file's JPEG floor
AUTO = "blind-family-auto"  # --auto-family: family, kernel and noise all estimated
HAAR = "-haar"  # --compare-haar: a way's name + this = the same way told the "haar" method's estimate
LABELS = {
    "zero": "told 0",
    "true": "told σ_n",
    "auto": "auto",
    BLIND: "blind + auto",
    JPEG: "auto + JPEG floor",
    AUTO: "family auto",
}


def label(way: str) -> str:
    """How a way is printed."""
    base = way.removesuffix(HAAR)
    return LABELS[base] + (" (haar)" if way.endswith(HAAR) else "")


def as_jpeg(lr: np.ndarray, quality: int) -> tuple[np.ndarray, float]:
    """``lr`` stored as JPEG of ``quality`` (Pillow, 4:2:0) and read back, and that file's noise floor."""
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(lr), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        floor = jpeg_noise_floor(np.asarray(im.quantization[0], dtype=np.float64))
        return np.asarray(im.convert("RGB"), dtype=np.float64), floor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hr", required=True, help="HR image folder")
    p.add_argument("--n", type=int, default=20, help="first N images (default 20)")
    p.add_argument(
        "--cases", nargs="+", default=["gaussian:2", "gaussian:4", "motion:2"], help="family:scale items"
    )
    p.add_argument("--noise", default="0,5,10", help="σ_n values, 0..255 units (default 0,5,10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blind", action="store_true", help="also blind pnp with the noise estimated")
    p.add_argument(
        "--auto-family",
        action="store_true",
        help="also blind pnp with family='auto' (chosen from the image), noise estimated",
    )
    p.add_argument("--jpeg", type=int, default=0, help="store the LR images as JPEG of this quality first")
    p.add_argument("--start", type=int, default=0, help="skip this many images first (default 0)")
    p.add_argument(
        "--compare-haar",
        action="store_true",
        help="also run every estimate-using way with the 'haar' method's estimate",
    )
    p.add_argument("--ways", help="run only these ways (comma-separated names, as in the CSV's 'told')")
    p.add_argument("--out", required=True, help="per-image CSV")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    extra = [way for way, on in ((BLIND, args.blind), (JPEG, args.jpeg), (AUTO, args.auto_family)) if on]
    names = list(TOLD) + extra
    if args.compare_haar:
        names += [w + HAAR for w in names if w not in ("zero", "true")]
    if args.ways:
        keep = [w.strip() for w in args.ways.split(",") if w.strip()]
        unknown = sorted(set(keep) - set(names))
        if unknown:
            p.error(
                f"unknown ways {unknown}: choose from {names} (--blind, --jpeg, --auto-family, "
                "--compare-haar add ways)"
            )
        names = [w for w in names if w in keep]
    fields = [
        "family",
        "scale",
        "noise",
        "image",
        "estimate",
        "estimate_haar",
        "told",
        "chosen",
        "psnr_y",
        "seconds",
    ]
    rows: list[dict[str, object]] = []
    with Path(args.out).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for case in args.cases:
            family, s = case.split(":")
            scale = int(s)
            for sigma in map(float, args.noise.split(",")):
                items = make_synthetic_set(
                    args.hr, family, scale, args.n, args.seed, noise=sigma, start=args.start
                )
                for it in items:
                    lr, floor = as_jpeg(it.lr, args.jpeg) if args.jpeg else (it.lr, 0.0)
                    est = {"": estimate_noise(lr), HAAR: estimate_noise(lr, "haar")}
                    for told in names:
                        base, method = told.removesuffix(HAAR), HAAR if told.endswith(HAAR) else ""
                        fixed = {"zero": 0.0, "true": sigma, JPEG: max(est[method], floor)}
                        value = fixed.get(base, est[method])
                        t = time.perf_counter()
                        kernel = None if base in (BLIND, AUTO) else it.kernel
                        res = super_resolve(
                            lr, scale, kernel, family="auto" if base == AUTO else family, noise=value
                        )
                        chosen = res.family if base == AUTO else family
                        row = {
                            "family": family,
                            "scale": scale,
                            "noise": sigma,
                            "image": it.name,
                            "estimate": f"{est['']:.3f}",
                            "estimate_haar": f"{est[HAAR]:.3f}",
                            "told": told,
                            "chosen": chosen,
                            "psnr_y": f"{psnr_y(it.hr, res.image, shave=scale):.4f}",
                            "seconds": f"{time.perf_counter() - t:.3f}",
                        }
                        w.writerow(row)
                        rows.append(row)
                    fh.flush()
                sel = [r for r in rows if (r["family"], r["scale"], r["noise"]) == (family, scale, sigma)]
                first = [r for r in sel if r["told"] == names[0]]
                ests = np.array([float(r["estimate"]) for r in first])
                haar = np.array([float(r["estimate_haar"]) for r in first])
                psnr = {t: np.mean([float(r["psnr_y"]) for r in sel if r["told"] == t]) for t in names}
                right = {
                    t: sum(r["chosen"] == family for r in sel if r["told"] == t)
                    for t in names
                    if t.removesuffix(HAAR) == AUTO
                }
                print(
                    f"{family} ×{scale} σ_n {sigma:g}: estimate {ests.mean():.2f} ({ests.min():.2f}–"
                    f"{ests.max():.2f}), haar {haar.mean():.2f} ({haar.min():.2f}–{haar.max():.2f}); "
                    "PSNR-Y "
                    + " / ".join(label(t) for t in names)
                    + ": "
                    + " / ".join(f"{psnr[t]:.2f}" for t in names)
                    + f" ({len(ests)} images)"
                    + "".join(f"; {label(t)} family right {r}/{len(ests)}" for t, r in right.items()),
                    flush=True,
                )
    jpeg = f", LR stored as JPEG quality {args.jpeg}" if args.jpeg else ""
    print(f"# {platform.machine()}, torch {torch.__version__}, {args.threads} threads{jpeg}")


if __name__ == "__main__":
    main()
