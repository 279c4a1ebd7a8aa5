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
from estimator_table import table_command

from s2k.checkpoint import read_metadata
from s2k.estimate import load_estimator
from s2k.nets import count_parameters
from s2k.train.estimator import EstimatorTrainConfig

DEFAULTS = EstimatorTrainConfig()


def _command(cfg: dict, out: str) -> str:
    parts = ["s2k train estimator", f"--out {out}"]
    for key, val in cfg.items():
        default = getattr(DEFAULTS, key, None)
        if isinstance(val, list):
            val = tuple(val)
        if key == "train_dirs" and ".gpu" in str(val):
            parts.append("--train-dirs .gpu/train")
        if key == "val_dir" and not val:
            parts.append('--val-dir ""')
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
        f"LSGAN {cfg['lambda_adv']} + TV {cfg['lambda_tv']}; Adam β=({cfg['beta1']}, "
        f"{cfg['beta2']}) |",
        f"| data | on-the-fly crops (LR {cfg['lr_size_min']}–{cfg['lr_size_max']} px, flips, 90° rotations), "
        f"fresh random kernels (paper ranges), noise σ ≤ {cfg['noise_max']} |",
    ]
    stages = meta.get("history") or [
        {
            "stage": 1,
            "iteration": tr["iteration"],
            "wall_s": tr["wall_s"],
            "config": cfg,
            "where": "2 CPU cores (x86_64, no GPU), torch 2.13.0 CPU, shared with two other trainings",
        }
    ]
    for st in stages:
        c = st["config"]
        out = f"runs/gpu-est-{fam}" if st.get("command") else f"runs/est-{fam}"
        cmd = st.get("command", "")
        if cmd.startswith("s2k train"):  # the exact command, as run
            how = f"`{cmd}`"
        else:
            how = f"`{cmd}`, i.e. `{_command(c, out)}`" if cmd else f"`{_command(c, out)}`"
        start = (
            f"; started from `{Path(c['init']).name}` as shipped before (the previous stage)"
            if c.get("init")
            else ""
        )
        data = st.get("data") or (
            f"{', '.join(Path(d).name for d in c['train_dirs'])} (../shared/data/train, 400 images)"
        )
        val = ", ".join(f"{k} {v:.5f}" for k, v in (st.get("val") or {}).items() if k.startswith("dv_x"))
        lines += [
            f"| stage {st['stage']}: hardware | {st['where']} |",
            f"| stage {st['stage']}: data | {data}{start} |",
            f"| stage {st['stage']}: batches × iterations | {c['batch_size']} × {st['iteration']}, Adam lr "
            f"{c['lr']}, schedule {c['lr_schedule']}"
            + (f" (ending at a {c['time_limit_min']}-minute limit)" if c.get("time_limit_min") else "")
            + " |",
            f"| stage {st['stage']}: wall time | {st['wall_s'] / 60:.0f} min |",
            f"| stage {st['stage']}: command | {how} |",
        ]
        if val:
            lines.append(
                f"| stage {st['stage']}: validation during training | first {c['val_count']} images of "
                f"{Path(c['val_dir']).name}, seed {c['val_seed']}: {val} |"
            )
    if args.history:
        lines += ["", f"Run history: {args.history}"]
    for path in args.results:
        with open(path) as fh:
            rows = [r for r in csv.DictReader(fh) if r["family"] == fam]
        if not rows:
            continue
        fitted = "dv_network" in rows[0] and fam != "motion"  # s2k.kernel_fit (session 10 on)
        refined = "dv_fit" in rows[0] and fam == "disk"  # s2k.disk_radius (session 18 on)
        lines += [
            "",
            f"Measured with `{table_command(rows[0])}` (seed 0, mean per image"
            + (
                "; D_v of the kernel `s2k.estimate_kernel` returns, the nearest member of the family, and of "
                "the network's kernel before that fit"
                if fitted
                else ""
            )
            + (
                "; where a disk-radius regressor ships for the scale (`s2k.disk_radius`), the kernel "
                "`s2k.estimate_kernel` returns is that disk with its radius refined from the pixels, and "
                '"D_v before the refinement" is the nearest disk itself'
                if refined
                else ""
            )
            + "):",
            "",
            "| scale | D_v | D_s | D_v up to flip | "
            + ("D_v before the refinement | " if refined else "")
            + ("D_v before the fit | " if fitted else "")
            + "D_v mean kernel |",
            "| --- " * (5 + fitted + refined) + "|",
        ]
        lines += [
            f"| ×{r['scale']} | {float(r['dv']):.5f} | {float(r['ds']):.3f} | {float(r['dv_flip']):.5f} | "
            + (f"{float(r['dv_fit']):.5f} | " if refined else "")
            + (f"{float(r['dv_network']):.5f} | " if fitted else "")
            + f"{float(r['dv_mean_kernel']):.5f} |"
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
