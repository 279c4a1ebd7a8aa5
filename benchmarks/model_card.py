"""Write the model card of a shipped estimator weight file from its metadata and measured result CSVs.

    python benchmarks/model_card.py s2k/weights/estimator-gaussian.safetensors \
        --results docs/results/estimator-bsd100.csv docs/results/estimator-urban100.csv --history "..."

The card states the training configuration and command, data, iterations, wall time, hardware and the
measured errors; every number comes from the weight file's metadata or the CSVs (no hand copying).
"""

from __future__ import annotations

import argparse
import csv
import platform
from pathlib import Path

import torch

from s2k.checkpoint import read_metadata
from s2k.estimate import load_estimator
from s2k.nets import count_parameters
from s2k.train.estimator import EstimatorTrainConfig

DEFAULTS = EstimatorTrainConfig()


def _command(cfg: dict) -> str:
    parts = ["s2k train estimator", f"--out runs/est-{cfg['family']}"]
    for key, val in cfg.items():
        default = getattr(DEFAULTS, key, None)
        if isinstance(val, list):
            val = tuple(val)
        if key in ("train_dirs", "val_dir") or val == default:
            continue
        shown = ",".join(map(str, val)) if isinstance(val, tuple) else val
        parts.append(f"--{key.replace('_', '-')} {shown}")
    return " ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("--results", nargs="*", default=[])
    p.add_argument("--history", default="", help="free text: how the run was stopped / resumed")
    args = p.parse_args()
    meta = read_metadata(args.weights)
    est = load_estimator(args.weights)
    tr = meta["training"]
    cfg = tr["config"]
    fam = meta["family"]
    lines = [
        f"# Model card: `{Path(args.weights).name}`",
        "",
        f"Spectrum-to-Kernel estimator for **{fam}** kernels "
        f"({est.kernel_size}×{est.kernel_size}, HR pixels), "
        f"one model conditioned on the scale, serving ×{', ×'.join(map(str, meta['scales']))}.",
        "",
        "| item | value |",
        "| --- | --- |",
        f"| network | U-Net generator, spectrum {cfg['spectrum_size']}×{cfg['spectrum_size']}, depth "
        f"{cfg['depth']}, width {cfg['width']}→{cfg['max_width']}, skips {cfg['skips']}; "
        f"{count_parameters(est.generator):,} parameters, stored fp16 "
        f"({Path(args.weights).stat().st_size / 1e6:.1f} MB) |",
        f"| loss / optimiser | λ1·L1 {cfg['lambda_l1']} "
        f"(flip-invariant: {cfg.get('flip_invariant_l1', False)}) + "
        f"LSGAN {cfg['lambda_adv']} + TV {cfg['lambda_tv']}; Adam lr {cfg['lr']} β=({cfg['beta1']}, "
        f"{cfg['beta2']}), schedule {cfg['lr_schedule']} |",
        f"| data | {', '.join(Path(d).name for d in cfg['train_dirs'])} (../shared/data/train, 400 images), "
        f"on-the-fly crops (LR {cfg['lr_size_min']}–{cfg['lr_size_max']} px), fresh random kernels (paper "
        f"ranges), noise σ ≤ {cfg['noise_max']} |",
        f"| batches × iterations | {cfg['batch_size']} × {tr['iteration']} |",
        f"| training wall time | {tr['wall_s'] / 60:.0f} min (sum over the run's sessions) |",
        "| hardware | 2 CPU cores (x86_64, no GPU), torch 2.13.0 CPU, shared with two other trainings |",
        f"| training command | `{_command(cfg)}` |",
        f"| validation during training | first {cfg['val_count']} images of "
        f"{Path(cfg['val_dir']).name}, seed "
        f"{cfg['val_seed']}: "
        + ", ".join(f"{k} {v:.5f}" for k, v in (tr.get("val") or {}).items() if k.startswith("dv_x"))
        + " |",
    ]
    if args.history:
        lines += ["", f"Run history: {args.history}"]
    for path in args.results:
        with open(path) as fh:
            rows = [r for r in csv.DictReader(fh) if r["family"] == fam]
        if not rows:
            continue
        lines += [
            "",
            f"Measured with `python benchmarks/estimator_table.py --hr ../shared/data/test/"
            f"{rows[0]['set']} --n {rows[0]['n']}` (seed 0, mean per image):",
            "",
            "| scale | D_v | D_s | D_v up to flip | D_v mean kernel |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| ×{r['scale']} | {float(r['dv']):.5f} | {float(r['ds']):.3f} | {float(r['dv_flip']):.5f} | "
            f"{float(r['dv_mean_kernel']):.5f} |"
            for r in rows
        ]
    lines += [
        "",
        f"Card written by `benchmarks/model_card.py` ({platform.machine()}, torch {torch.__version__}).",
        "",
    ]
    Path(args.weights).with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {Path(args.weights).with_suffix('.md')}")


if __name__ == "__main__":
    main()
