"""Write the model cards of the Table-3 ablation estimators (``s2k/weights/ablation/``) from their metadata
and the `s2k bench` result CSVs.

    python benchmarks/ablation_cards.py \
        --results "docs/results/bench-bsd100/results.csv=stage-1 prior (commit a166673)" \
        "docs/results/bench-set14/results.csv=stage-1 prior (commit a166673)" \
        "docs/results/bench-set14-prior2/results.csv=stage-2 prior (session 9)"

Each card states the network, the training command, data, iterations, wall time and hardware, and the
measured kernel errors and blind-SR PSNR of all the ablation estimators side by side (with the shipped S2K
estimator, the spectral fit and the mean kernel for reference); every number comes from the weight files'
metadata or the CSVs.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch
from bench_summary import load_cells, mean
from model_card import _command

from s2k.bench import ABLATION_DIR, ESTIMATORS, ablation_name
from s2k.checkpoint import read_metadata
from s2k.estimate import load_estimator
from s2k.nets import count_parameters

INPUTS = {"spectrum": "log power spectrum (s2k's feature)", "spatial": "LR luminance tiles (spatial domain)"}
OUTPUTS = {"map": "kernel map (the paper's design)", "gaussian": "Gaussian parameters σ1, σ2, θ"}
REFERENCE = ESTIMATORS  # the shipped S2K, the three ablation networks, spectral fit, mean kernel
# the paper's Table 3 (×3, random Gaussian kernels, DIV2K): PSNR of SR with each estimator's kernel
PAPER_PSNR = {"abl-spectrum-map": 26.96, "abl-spatial-map": 22.50, "abl-spectrum-params": 20.53}


def results_table(paths: list[str], family: str, scale: int) -> list[str]:
    """Markdown tables (one per CSV) of mean kernel errors and blind-SR PSNR for ``family`` × ``scale``."""
    lines: list[str] = []
    for entry in paths:
        path, _, prior = entry.partition("=")
        by = load_cells(path).get((family, scale))
        if not by:
            continue
        set_name = next(iter(by.values()))[0]["set"]
        lines += [
            "",
            f"{set_name}, {family} ×{scale} (`s2k bench`, seed 0, pnp backend"
            + (f" with the {prior}" if prior else "")
            + "; true-kernel PSNR-Y "
            f"{mean(by['true-kernel'], 'psnr_y'):.2f} dB, bicubic {mean(by['bicubic'], 'psnr_y'):.2f} dB):",
            "",
            "| estimator | images | D_v | D_s | PSNR-Y of blind SR (dB) | "
            "paper Table 3 PSNR (DIV2K, SFTMD) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for m in REFERENCE:
            ks, srs = by.get(m), by.get(f"blind-{m}")
            if not ks:
                continue
            psnr = f"{mean(srs, 'psnr_y'):.2f}" if srs else "–"
            paper = f"{PAPER_PSNR[m]:.2f}" if m in PAPER_PSNR else ""
            lines.append(
                f"| {m} | {len(ks)} | {mean(ks, 'dv'):.5f} | {mean(ks, 'ds'):.3f} | {psnr} | {paper} |"
            )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--results",
        nargs="*",
        default=[],
        help="results.csv of s2k bench runs, each optionally PATH=PRIOR naming the pnp prior it used",
    )
    p.add_argument("--folder", default=str(ABLATION_DIR))
    p.add_argument(
        "--where",
        default="this machine: 2 CPU cores (x86_64, no GPU), torch 2.13.0 CPU, one thread each; the three "
        "ablation trainings and an `s2k bench` run side by side",
    )
    args = p.parse_args()
    for w in sorted(Path(args.folder).glob("*.safetensors")):
        meta = read_metadata(w)
        est = load_estimator(w)
        tr, cfg = meta["training"], meta["training"]["config"]
        name = ablation_name(est)
        scales = list(meta["scales"])
        lines = [
            f"# Model card: `{w.name}` ({name})",
            "",
            f"Table-3 ablation estimator for **{meta['family']}** kernels at "
            f"×{', ×'.join(map(str, scales))}: "
            "one of three small networks trained from scratch with the same budget (the same data stream, "
            "seed, iterations, batch, loss and optimiser) that differ only in what the network sees and "
            "what it outputs. It is a benchmark reference, not for use in place of the shipped "
            "`estimator-gaussian.safetensors`.",
            "",
            "| item | value |",
            "| --- | --- |",
            f"| input | {INPUTS[est.feature]}, {cfg['spectrum_size']}×{cfg['spectrum_size']} |",
            f"| output | {OUTPUTS[est.generator.config.output]} |",
            f"| network | U-Net-{cfg['depth']} encoder, width {cfg['width']}→{cfg['max_width']}"
            + (", decoder with skips" if est.generator.config.output == "map" else ", fully-connected head")
            + f"; {count_parameters(est.generator):,} parameters, stored fp16 "
            f"({w.stat().st_size / 1e6:.1f} MB) |",
            f"| loss / optimiser | λ1·L1 {cfg['lambda_l1']} on the kernel map + LSGAN {cfg['lambda_adv']} + "
            f"TV {cfg['lambda_tv']}; Adam β=({cfg['beta1']}, {cfg['beta2']}), lr {cfg['lr']} "
            f"{cfg['lr_schedule']} |",
            f"| data | {', '.join(Path(d).name for d in cfg['train_dirs'])} (../shared/data/train, 400 "
            f"images), on-the-fly crops (LR {cfg['lr_size_min']}–{cfg['lr_size_max']} px), fresh random "
            "kernels (paper ranges) |",
            f"| batches × iterations | {cfg['batch_size']} × {tr['iteration']} (the last iteration is "
            "shipped: no selection on validation scores) |",
            f"| wall time | {tr['wall_s'] / 60:.0f} min |",
            f"| hardware | {args.where} |",
            f"| command | `{_command(cfg, f'runs/abl-{est.feature}-{est.generator.config.output}')}`, then "
            f"`s2k train export runs/abl-{est.feature}-{est.generator.config.output}/last.safetensors -o "
            f"s2k/weights/ablation/{w.name}` |",
        ]
        for s in scales:
            lines += results_table(args.results, meta["family"], s)
        lines += [
            "",
            f"Card written by `benchmarks/ablation_cards.py` ({platform.machine()}, "
            f"torch {torch.__version__}).",
            "",
        ]
        w.with_suffix(".md").write_text("\n".join(lines))
        print(f"wrote {w.with_suffix('.md')}")


if __name__ == "__main__":
    main()
