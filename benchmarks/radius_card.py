"""Write the model card of a shipped disk-radius regressor from its metadata and measured result CSVs.

    python benchmarks/radius_card.py s2k/weights/disk-radius-x3.safetensors \\
        --blend-results docs/results/disk-blend-x3-val.csv docs/results/disk-blend-x3-test.csv \\
        --estimator-results docs/results/estimator-bsd100.csv docs/results/estimator-urban100.csv \\
        --out runs/x --hardware "..."

Every number comes from the weight file's metadata or the CSVs (no hand copying): the training command and
configuration, iterations, wall time, the blend weight and the table it was chosen from, the estimator
benchmark's disk rows at the file's scale.
"""

from __future__ import annotations

import argparse
import csv
import platform
from pathlib import Path

import torch
from estimator_table import table_command

from s2k.checkpoint import read_metadata
from s2k.disk_radius import load_radius_regressor
from s2k.nets import count_parameters
from s2k.train.radius import RadiusTrainConfig
from s2k.train.radius_combiner import CombinerFitConfig

DEFAULTS = RadiusTrainConfig()
COMBINER_DEFAULTS = CombinerFitConfig()


def _changed(cfg: dict, defaults: object, skip: tuple[str, ...]) -> list[tuple[str, object]]:
    """The (flag, value) pairs of a stored config that differ from the dataclass ``defaults`` (lists read
    back as tuples), except the keys in ``skip``: what a command line had to give."""
    pairs = []
    for key, val in cfg.items():
        val = tuple(val) if isinstance(val, list) else val
        if key not in skip and val != getattr(defaults, key, None):
            pairs.append((f"--{key.replace('_', '-')}", val))
    return pairs


def _command(cfg: dict, out: str) -> str:
    parts = ["s2k train radius", f"--out {out}", f"--scale {cfg['scale']}"]
    for flag, val in _changed(cfg, DEFAULTS, ("scale", "train_dirs", "val_dir")):
        parts.append(f"{flag} {','.join(map(str, val)) if isinstance(val, tuple) else val}")
    return " ".join(parts)


def _combiner_rows(info: dict, weights: str, n_params: int) -> list[str]:
    """The card's rows on the file's combiner (metadata ``combiner``, :mod:`s2k.train.radius_combiner`)."""
    fit, err = info["fit"], info["errors"]
    flags = [
        f"{flag} {val:g}" if isinstance(val, float) else f"{flag} {val}"
        for flag, val in _changed(fit, COMBINER_DEFAULTS, ("problems", "train_dirs"))
    ]
    first = f" (first {fit['n']})" if fit["n"] else ""
    noise = (
        f", white noise σ_n spread over [{fit['noise_min']:g}, {fit['noise_max']:g}] across the draws"
        if fit.get("noise_max")
        else ""
    )
    return [
        f"| combiner | (1 − w)·r_S2K + w·r_CNN plus an MLP's correction from the two radii (2 → "
        f"{info['net']['hidden']} → {info['net']['hidden']} → 1, tanh; {n_params:,} parameters) |",
        f"| combiner fit | {fit['problems']:,} problems: every image of "
        f"{', '.join(Path(d).name for d in fit['train_dirs'])}{first}"
        f", degraded whole, {fit['draws']} kernel draws (seeds 0–{fit['draws'] - 1}){noise}; mean absolute "
        f"radius error, Adam lr {fit['lr']:g} (cosine), {fit['steps']:,} steps of {fit['batch_size']}; "
        f"radius error on those problems {err['linear_abs_err']:.3f} px (linear blend) → "
        f"{err['combined_abs_err']:.3f} px; {info['wall_time_s'] / 60:.0f} min |",
        f"| combiner command | `s2k train radius-combiner <the exported file> --out {weights}"
        f"{''.join(' ' + f for f in flags)}` |",
    ]


def _rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _weight(w: str) -> str:
    """A blend CSV's ``w``: a weight, or ``combiner`` (the file's radius-dependent combination)."""
    return w if w == "combiner" else f"{float(w):.1f}"


def _last_val(run: Path) -> str:
    """The run's last validation row (the shipped weights are the last iteration's), or a pointer."""
    if not (run / "val.csv").is_file():
        return "the run's val.csv"
    r = _rows(str(run / "val.csv"))[-1]
    return (
        f"at iteration {r['iteration']}, mean absolute radius error {float(r['abs_err']):.3f} HR px, "
        f"bias {float(r['bias']):+.3f}, D_v {float(r['dv']):.5f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("--out", required=True, help="the run folder the weights were exported from")
    p.add_argument("--hardware", required=True, help="what the run ran on (one line)")
    p.add_argument("--blend-results", nargs="*", default=[], help="benchmarks/disk_blend.py CSVs")
    p.add_argument("--estimator-results", nargs="*", default=[], help="benchmarks/estimator_table.py CSVs")
    p.add_argument("--history", default="", help="a paragraph on the run's history")
    args = p.parse_args()
    meta = read_metadata(args.weights)
    reg = load_radius_regressor(args.weights)
    train = meta["training"]
    cfg = train["config"]
    s = reg.scale
    size = Path(args.weights).stat().st_size
    lines = [
        f"# Model card: `{Path(args.weights).name}`",
        "",
        f"Disk-radius regressor for ×{s} (`s2k.disk_radius`, `s2k.nets.radius`): reads a defocus disk's "
        'radius from the LR image\'s pixels; `s2k.estimate_kernel(..., family="disk")` combines it with the '
        f"radius of the disk fitted to the S2K estimate: (1 − w)·r_S2K + w·r_CNN with w = "
        f"**{reg.blend:g}**"
        + (
            ", plus the radius-dependent correction of the file's combiner "
            "(`s2k.nets.radius.RadiusCombiner`)."
            if reg.combiner is not None
            else "."
        ),
        "",
        "| item | value |",
        "| --- | --- |",
        f"| network | {reg.net.config.depth} 3×3 convolutions of {reg.net.config.width} channels (ReLU) on 3 "
        f"input planes, a 1×1 head to a radius guess and a weight per pixel, softmax-weighted mean; "
        f"{count_parameters(reg.net):,} parameters, stored "
        f"{str(next(iter(reg.net.parameters())).dtype).removeprefix('torch.')} ({size / 1e3:.0f} kB) |",
        f"| loss / optimiser | mean absolute radius error"
        f"{', weighted by the slope of D_v at the radius' if cfg.get('loss') == 'dv' else ''}; "
        f"Adam lr {cfg['lr']}, schedule "
        f"{cfg['lr_schedule']}, EMA {cfg['ema']} of the weights (exported) |",
        f"| data | on-the-fly {cfg['patch_size']}×{cfg.get('patch_width') or cfg['patch_size']} LR crops "
        "(height × width; flips, 90° rotations) of "
        f"{', '.join(Path(d).name for d in cfg['train_dirs'])} (../shared/data/train), one disk per crop, "
        f"radius uniform in [{cfg['radius_min']}, {cfg['radius_max']}] HR pixels, the foundation's "
        f"degradation at ×{s}, noise σ ≤ {cfg['noise_max']} |",
        f"| batches × iterations | {cfg['batch_size']} × {train['iteration']} |",
        *([f"| started from | `{cfg['init']}` (fine-tuned; history below) |"] if cfg.get("init") else []),
        f"| wall time | {train['wall_s'] / 60:.0f} min |",
        f"| hardware | {args.hardware} |",
        f"| command | `{_command(cfg, args.out)}`, then `s2k train export {args.out}/last.safetensors -o "
        f"{args.weights} --blend {reg.blend:g}` |",
        f"| validation during training | {Path(cfg['val_dir']).name} images {cfg['val_start'] + 1}–"
        f"{cfg['val_start'] + cfg['val_count']} (held out from the benchmark's first 50), seed "
        f"{cfg['val_seed']}: {_last_val(Path(args.out))} |",
    ]
    if reg.combiner is not None:
        lines += _combiner_rows(meta["combiner"], args.weights, count_parameters(reg.combiner))
    if args.history:
        lines += ["", args.history]
    for path in args.blend_results:
        groups: dict[str, list[dict[str, str]]] = {}
        for r in _rows(path):
            if int(r["scale"]) == s:
                groups.setdefault(r.get("noise", "0"), []).append(r)
        for noise, rows in groups.items():
            first = int(rows[0]["start"])
            lines += [
                "",
                f"`{Path(path).name}` (`benchmarks/disk_blend.py`, {rows[0]['set']} images {first + 1}–"
                f"{first + int(rows[0]['images'])}, seeds {rows[0].get('seeds', '0')}, noise σ "
                f"{float(noise):g}): D_v of the disk at "
                "(1 − w)·r_S2K + w·r_CNN"
                + (
                    " (row `combiner`: at the combiner's radius)"
                    if any(r["w"] == "combiner" for r in rows)
                    else ""
                ),
                "",
                "| w | D_v | mean abs radius error (HR px) | bias |",
                "| --- | --- | --- | --- |",
            ]
            lines += [
                f"| {_weight(r['w'])} | {float(r['dv']):.5f} | {float(r['abs_err']):.3f} | "
                f"{float(r['bias']):+.3f} |"
                for r in rows
            ]
    for path in args.estimator_results:
        rows = [r for r in _rows(path) if r["family"] == "disk" and int(r["scale"]) == s]
        for r in rows:
            lines += [
                "",
                f"`{table_command(r)}` "
                f"(disk ×{s}): D_v {float(r['dv']):.5f} with this regressor, {float(r['dv_fit']):.5f} for "
                f"the disk fitted to the S2K estimate alone, {float(r['dv_network']):.5f} for the S2K "
                f"network's kernel as is, {float(r['dv_mean_kernel']):.5f} for the family's mean kernel.",
            ]
    lines += [
        "",
        f"Card written by `benchmarks/radius_card.py` ({platform.machine()}, torch {torch.__version__}).",
    ]
    card = Path(args.weights).with_suffix(".md")
    card.write_text("\n".join(lines) + "\n")
    print(f"wrote {card}")


if __name__ == "__main__":
    main()
