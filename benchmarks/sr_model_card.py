# ruff: noqa: E501  (Markdown table rows are built from long f-strings)
"""Write the model card of a shipped SR weight file (sftmd or denoiser) from its metadata and measured CSVs.

    python benchmarks/sr_model_card.py s2k/weights/sftmd.safetensors --rows docs/results/sr-bsd100-rows.csv \\
        --history "..."

Numbers come from the weight file's metadata, the per-image CSVs of benchmarks/sr_table.py (means over the
images every method of a (family, scale) group has) and, for sftmd, the kernel-PCA reconstruction error
measured here on fresh kernels (200 per family, seed 7).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from s2k.checkpoint import read_metadata
from s2k.kernel_pca import reconstruction_error
from s2k.kernels import FAMILIES, sample_kernels
from s2k.nets import count_parameters
from s2k.nets.denoiser import load_denoiser, scale_weights_path
from s2k.nets.sftmd import load_sftmd

SR_TABLE = "python benchmarks/sr_table.py --hr ../shared/data/test/BSD100"


def _results(rows_paths: list[str], method: str, scales: list[int] | None = None) -> list[str]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from sr_summary import load, means

    groups = load(rows_paths)
    out = [
        "| family | scale | images | PSNR-Y | SSIM-Y | bicubic PSNR-Y |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (fam, s), methods in sorted(groups.items()):
        if method not in methods or (scales and int(s) not in scales):
            continue
        imgs = {r["image"] for r in methods[method]}
        if "bicubic" in methods:
            imgs &= {r["image"] for r in methods["bicubic"]}
        mean = means(methods, imgs)
        bic = f"{mean['bicubic']['psnr_y']:.2f}" if "bicubic" in mean else "—"
        out.append(
            f"| {fam} | ×{s} | {len(imgs)} | {mean[method]['psnr_y']:.2f} | {mean[method]['ssim_y']:.4f} | "
            f"{bic} |"
        )
    return out


def _denoiser_stage(st: dict) -> list[str]:
    """Card rows of one training stage of the denoiser (its run metadata plus ``command`` / ``where``)."""
    cfg = st["config"]
    n = st["stage"]
    where = st.get("where", "this machine's 2 CPU cores (x86_64, torch 2.13.0 CPU)")
    crops = f"{cfg['patch_size']}×{cfg['patch_size']} RGB crops of BSDS500 train+test (400 images, flips, rotations)"
    if cfg.get("objective", "denoise") == "sr":
        if cfg.get("sr_borders", "periodic") == "padded":
            blur = (
                "s2k's blur + down-sampling with real borders (symmetric reflection, or for "
                f"{100 * cfg['sr_photo_fraction']:.0f} % of the batches photo-like: a larger crop degraded and "
                "its margin cut off)"
            )
            loop = "the inference path: seam padding, boundary update"
        else:
            blur, loop = "periodic blur + down-sampling", "unrolled PnP"
        data = (
            f"{crops}; per batch one scale of {cfg['sr_scales']}, per crop a kernel of {', '.join(cfg['sr_families'])} "
            f"(paper ranges), {blur}, noise σ_n uniform in [0, {cfg['sr_noise_max']}] on "
            f"{100 * cfg['sr_noisy_fraction']:.0f} % of the crops, 8-bit rounding; loss {cfg.get('loss', 'l1').upper()} of the output of "
            f"{cfg['sr_iterations']} rounds of {loop} (DPIR schedule"
            + (", views cycled" if cfg.get("sr_cycle_views") else "")
            + ") to the HR crop"
        )
        images = (
            st.get("val_images")
            or f"BSD100 images {cfg['val_start'] + 1}–{cfg['val_start'] + cfg['val_count']}"
        )
        val = (
            f"{images} (outside the benchmark's first 50), centre {cfg['val_crop']}² crops, pnp SR PSNR-Y "
            f"({', '.join(cfg['sr_val_cases'])})"
        )
    else:
        data = f"{crops}, white Gaussian noise σ uniform in [{cfg['sigma_min']}, {cfg['sigma_max']}]; loss {cfg['loss'].upper()}"
        val = f"first {cfg['val_count']} BSD100 images, centre {cfg['val_crop']}² crops, denoising PSNR-Y"
    sched = cfg["lr_schedule"] + (
        f" ending at a {cfg['time_limit_min']}-minute limit" if cfg.get("time_limit_min") else ""
    )
    rows = [
        f"| stage {n} ({cfg.get('objective', 'denoise')}) data | {data} |",
        f"| stage {n} training | batch {cfg['batch_size']} × {st['iteration']} iterations, Adam lr {cfg['lr']} "
        f"{sched}; {st['wall_s'] / 60:.0f} min on {where}"
        + (f"; started from stage {n - 1}'s weights" if cfg.get("init") else "")
        + (f"; command `{st['command']}`" if st.get("command") else "")
        + " |",
    ]
    if st.get("val"):
        rows.append(
            f"| stage {n} validation | {val}: "
            + ", ".join(f"{k} {v:.2f} dB" for k, v in st["val"].items())
            + " |"
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("--rows", nargs="*", default=[])
    p.add_argument("--history", default="")
    args = p.parse_args()
    meta = read_metadata(args.weights)
    size = Path(args.weights).stat().st_size / 1e6
    lines = [f"# Model card: `{Path(args.weights).name}`", ""]
    if meta["kind"] == "s2k-sftmd":
        net = load_sftmd(args.weights)
        c = meta["sftmd"]
        pca = net.pca()
        err = {f: reconstruction_error(pca, sample_kernels(f, 200, 7)) for f in FAMILIES}
        lines += [
            "The `sftmd` SR backend: a kernel-conditioned SFTMD network (IKC's design, s2k's multi-scale form, "
            "`s2k.nets.sftmd`) serving ×"
            + ", ×".join(map(str, c["scales"]))
            + " for every s2k kernel family, "
            "noise-free 8-bit LR images.",
            "",
            "| item | value |",
            "| --- | --- |",
            f"| network | {c['blocks']} SFT residual blocks, width {c['width']}, SFT hidden {c['sft_hidden']} "
            f"(1×1), per-scale pixel-shuffle tails, residual to s2k's bicubic; {count_parameters(net):,} "
            f"parameters, stored fp16 ({size:.1f} MB) with the float64 kernel PCA |",
            f"| kernel code | PCA of {c['code_dim']} components on a {c['canvas']}×{c['canvas']} canvas, fitted on "
            "2000 kernels of each family (seed 1000); energy about the mean lost by the code (fresh kernels): "
            + ", ".join(f"{f} {100 * e:.1f} %" for f, e in err.items())
            + " |",
            "| loss / data | L1 on 0..1 RGB; per batch one scale and one family, 48×48 LR crops of the HR pool "
            "(flips, 90° rotations), fresh random kernels (paper ranges), s2k's degradation with 8-bit "
            "rounding, no noise |",
        ]
        for st in meta.get("history", []):
            cfg = st["config"]
            lines.append(
                f"| stage {st['stage']} | batch {cfg['batch_size']} × {st['iteration']} iterations, Adam lr "
                f"{cfg['lr']} cosine ending at a {cfg['time_limit_min']}-minute limit, {st['wall_s'] / 60:.1f} min"
                + (f", started from stage {st['stage'] - 1}'s weights" if cfg.get("init") else "")
                + f"; {st.get('where', '')}; data: {st.get('data', '')}; command: `{st.get('command', '')}` |"
            )
        method, scales = "sftmd", None
    else:
        net = load_denoiser(args.weights)
        c = meta["denoiser"]
        stages = meta.get("history") or [{**meta["training"], "stage": 1}]
        rounds = int(meta.get("rounds", 1))
        scales = stages[-1]["config"].get("sr_scales") if rounds > 1 else None
        if rounds > 1:
            shipped = [s for s in scales if Path(args.weights).name == scale_weights_path(s).name]
            what = (
                f"one network per HQS round ({rounds} rounds, untied weights) for SR at "
                + " and ".join(f"×{s}" for s in scales)
                + (" (what `super_resolve` uses there by default)" if shipped else "")
                + ", every kernel family and noise level"
            )
            shape = f"{rounds} networks, each U-Net-like"
        else:
            what, shape = "one network for every kernel, scale and noise level", "U-Net-like"
        lines += [
            "The learned prior of the `pnp` SR backend: a noise-level-conditioned Gaussian denoiser "
            f"(`s2k.nets.denoiser`), {what}"
            + (
                ", trained last *through* the unrolled PnP loop it serves (objective `sr`)."
                if stages[-1]["config"].get("objective") == "sr"
                else "."
            ),
            "",
            "| item | value |",
            "| --- | --- |",
            f"| network | {shape}, pixel-unshuffle {c['unshuffle']}, widths {c['widths']}, residual blocks "
            f"{c['blocks']}; {count_parameters(net):,} parameters, stored fp16 ({size:.2f} MB) |",
        ]
        for st in stages:
            lines += _denoiser_stage(st)
        method = "pnp"
    if args.history:
        lines += ["", f"History: {args.history}"]
    if args.rows:
        lines += [
            "",
            f"Measured inside the pipeline (non-blind, true kernel; `{SR_TABLE} ...`, seed 0, PSNR-Y / "
            f"SSIM-Y with s pixels shaved, means over the images):",
            "",
        ]
        lines += _results(args.rows, method, scales)
    lines += [
        "",
        f"Card written by `benchmarks/sr_model_card.py` ({platform.machine()}, torch {torch.__version__}).",
        "",
    ]
    Path(args.weights).with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {Path(args.weights).with_suffix('.md')}")


if __name__ == "__main__":
    main()
