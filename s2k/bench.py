"""`s2k bench`: one command that degrades a folder of HR images, runs every kernel estimator and SR method
on them, and writes the per-image results, mean tables and figures.

For each (family, scale): the HR images of ``hr`` (sorted, the first ``n``) are degraded by the foundation's
convention and samplers (:func:`s2k.data.make_synthetic_set`, seed ``seed``, noise ``noise``); the LR images
and true kernels are saved under ``out/data/<family>_x<s>/`` so the set can be shared and rerun. Then:

* kernel estimators — ``s2k`` (the shipped Spectrum-to-Kernel model of the family), ``s2k-auto`` (the same
  models not told the family: ``family="auto"``, :mod:`s2k.family`), ``spectral-fit`` (training-free fit
  of a Gaussian transfer function, :mod:`s2k.spectral_fit`; Gaussian family only), ``mean-kernel`` (the
  family's mean kernel, 2000 samples with seed 1: the no-skill floor) — scored by D_v, D_s and D_v up to
  the 180° flip (:func:`s2k.metrics.kernel_errors`);
* SR (backend ``backend``, default the CPU default ``pnp``) — ``bicubic``, ``unaware`` (the backend told
  the bicubic-like kernel), ``blind-<estimator>`` for each estimator's kernel as it is, ``true-kernel``
  (the upper bound), and where :func:`s2k.pipeline.refines_by_default` says so (motion, pnp, ≤ ×3)
  ``blind-s2k-refined`` (S2K's kernel refined against the LR image, :mod:`s2k.kernel_refine`: what
  :func:`s2k.super_resolve` does by default there) — scored by PSNR-Y / SSIM-Y with ``s`` border
  pixels shaved; every SR method is told the noise level ``noise`` the LR images were made with;
* the wall time of every method on every image.

``methods`` (``s2k bench --methods``) restricts a run to some of these methods, e.g. only ``blind-s2k,
true-kernel`` after the SR prior changed (an estimator needed by a requested ``blind-<estimator>`` still
runs, and its kernel is kept, but its kernel row is written only if it was requested too).

Outputs: ``results.csv`` (one row per image and method; a rerun skips the rows it already has, so an
interrupted run resumes), ``results.md`` (means per family, scale and method), ``kernels_<family>_x<s>.png``
(ground truth vs each estimator, like the paper's Fig. 6) and ``sr_<family>_x<s>.png`` (crops of the first
image's SR results side by side, like its Fig. 5).

The paper's Table-3 ablation joins wherever its weights apply (``s2k/weights/ablation/``, Gaussian ×3):
three small estimators trained from scratch with the same budget (same data stream, iterations, batch,
optimiser; a model card beside each weight file) that differ only in input and output —
``abl-spectrum-map`` (s2k's design), ``abl-spatial-map`` (the LR image as input) and
``abl-spectrum-params`` (Gaussian parameters as output). They also run blind SR.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from s2k.data import iter_synthetic_set
from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.estimate import AUTO, WEIGHTS_DIR, KernelEstimator, estimate_kernel, load_estimator
from s2k.io import list_images, save_kernel, write_image
from s2k.kernels import FAMILIES, sample_kernels
from s2k.metrics import kernel_errors, psnr_y, ssim_y
from s2k.pipeline import refines_by_default, super_resolve
from s2k.spectral_fit import spectral_fit_kernel
from s2k.sr.bicubic import bicubic_upsample

ESTIMATORS = (
    "s2k",
    "s2k-auto",
    "abl-spectrum-map",
    "abl-spatial-map",
    "abl-spectrum-params",
    "spectral-fit",
    "mean-kernel",
)
#: Every method name a bench row can have: the estimators, then the SR methods.
METHODS = (
    *ESTIMATORS,
    "bicubic",
    "unaware",
    *(f"blind-{e}" for e in ESTIMATORS),
    "blind-s2k-refined",
    "true-kernel",
)
ABLATION_DIR = WEIGHTS_DIR / "ablation"
FIELDS = (
    "set",
    "family",
    "scale",
    "image",
    "kind",
    "method",
    "dv",
    "ds",
    "dv_flip",
    "psnr_y",
    "ssim_y",
    "seconds",
)


@dataclass(frozen=True)
class BenchConfig:
    """What one benchmark run covers."""

    hr: str
    out: str
    families: tuple[str, ...] = FAMILIES
    scales: tuple[int, ...] = (2, 3, 4)
    n: int | None = None
    seed: int = 0
    noise: float = 0.0
    backend: str = "pnp"
    figures: bool = True
    methods: tuple[str, ...] = ()  # only these estimators / SR methods (module docstring); empty: all

    def __post_init__(self) -> None:
        for f in self.families:
            if f not in FAMILIES:
                raise S2KError(f"unknown family {f!r}; choose from {', '.join(FAMILIES)}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise S2KError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
        for s in self.scales:
            check_scale(s)
        if self.noise and self.backend == "sftmd":
            raise S2KError("the sftmd backend is trained for noise-free images: bench noisy images with pnp")
        if not list_images(self.hr)[: self.n]:
            raise S2KError(f"no images in {self.hr}")

    def wants(self, method: str) -> bool:
        """Whether this run computes ``method`` (every method when ``methods`` is empty)."""
        return not self.methods or method in self.methods


def ablation_name(est: KernelEstimator) -> str:
    """Bench name of a Table-3 ablation estimator: ``abl-<input>-<map|params>``."""
    out = "params" if est.generator.config.output == "gaussian" else "map"
    return f"abl-{est.feature}-{out}"


def ablation_estimators(folder: Path = ABLATION_DIR) -> dict[str, KernelEstimator]:
    """The Table-3 ablation estimators shipped in ``folder`` (none when it is missing), by bench name."""
    ests = [load_estimator(p) for p in sorted(folder.glob("*.safetensors"))] if folder.is_dir() else []
    return {ablation_name(e): e for e in ests}


def estimators_for(
    family: str, scale: int, ablation: dict[str, KernelEstimator] | None = None, noise: float = 0.0
) -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    """The kernel estimators that apply to a family and scale (the spectral fit models Gaussian kernels only;
    an ablation estimator applies to its own family and scales). ``s2k`` is told the images' noise level
    ``noise``, as :func:`s2k.super_resolve` tells it (the noise-trained model where one ships, no disk-radius
    refinement on noisy images)."""
    mean = sample_kernels(family, 2000, 1).mean(axis=0)
    out: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
        "s2k": lambda lr, s: estimate_kernel(lr, s, family, noise=noise),
        "s2k-auto": lambda lr, s: estimate_kernel(lr, s, AUTO),  # not told the family
    }
    for name, est in (ablation or {}).items():
        if est.family == family and scale in est.scales:
            out[name] = est.estimate
    if family == "gaussian":
        out["spectral-fit"] = spectral_fit_kernel
    out["mean-kernel"] = lambda lr, s: mean
    return out


def _read_done(path: Path) -> tuple[list[dict], set[tuple[str, str, str, str]]]:
    if not path.exists():
        return [], set()
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return rows, {(r["family"], r["scale"], r["image"], r["method"]) for r in rows}


def run_bench(cfg: BenchConfig, progress: bool = True) -> Path:
    """Run (or resume) the benchmark; returns the path of ``results.csv``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    _, done = _read_done(csv_path)
    set_name = Path(cfg.hr).name
    new_file = not csv_path.exists()

    def restore(lr: np.ndarray, s: int, kernel: np.ndarray | str, refine: bool | None = None) -> np.ndarray:
        """SR by the run's backend, told the noise level the images were made with."""
        return super_resolve(lr, s, kernel, backend=cfg.backend, noise=cfg.noise, refine=refine).image

    with csv_path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        ablation = ablation_estimators()
        total = len(list_images(cfg.hr)[: cfg.n])
        for family in cfg.families:
            for s in cfg.scales:
                refined_row = refines_by_default(family, cfg.backend, s)  # blind-s2k-refined applies here
                ests = {
                    name: fn
                    for name, fn in estimators_for(family, s, ablation, cfg.noise).items()
                    if cfg.wants(name)
                    or cfg.wants(f"blind-{name}")
                    or (name == "s2k" and refined_row and cfg.wants("blind-s2k-refined"))
                }
                items = iter_synthetic_set(cfg.hr, family, s, cfg.n, cfg.seed, noise=cfg.noise)
                data_dir, kern_dir = out / "data" / f"{family}_x{s}", out / "kernels" / f"{family}_x{s}"
                bar = tqdm(items, desc=f"{family} ×{s}", total=total, disable=not progress, unit="image")
                for i, it in enumerate(bar):
                    if not (data_dir / f"{it.name}.png").exists():
                        write_image(data_dir / f"{it.name}.png", it.lr)
                        save_kernel(data_dir / f"{it.name}.npy", it.kernel)

                    base = {"set": set_name, "family": family, "scale": s, "image": it.name}

                    def emit(
                        method: str, kind: str, seconds: float, base: dict = base, **vals: float
                    ) -> None:
                        row = {**base, "kind": kind, "method": method, "seconds": f"{seconds:.3f}"}
                        row.update({k: f"{v:.6g}" for k, v in vals.items()})
                        writer.writerow(row)
                        fh.flush()

                    key = (family, str(s), it.name)
                    kernels: dict[str, np.ndarray] = {}
                    for name, fn in ests.items():
                        kpath = kern_dir / f"{it.name}_{name}.npy"
                        if kpath.exists() and ((*key, name) in done or not cfg.wants(name)):
                            kernels[name] = np.load(kpath)
                            continue
                        t = time.perf_counter()
                        k = fn(it.lr, s)
                        dt = time.perf_counter() - t
                        kernels[name] = k
                        save_kernel(kpath, k)
                        if cfg.wants(name):
                            e = kernel_errors(k, it.kernel)
                            emit(name, "kernel", dt, dv=e.dv, ds=e.ds, dv_flip=e.dv_flip)
                    sr_methods: dict[str, Callable[[], np.ndarray]] = {
                        "bicubic": lambda it=it, s=s: bicubic_upsample(it.lr, s),
                        "unaware": lambda it=it, s=s: restore(it.lr, s, "bicubic"),
                        **{
                            f"blind-{name}": lambda k=k, it=it, s=s: restore(it.lr, s, k)
                            for name, k in kernels.items()
                        },
                        **(
                            {
                                "blind-s2k-refined": lambda it=it, s=s, k=kernels["s2k"]: restore(
                                    it.lr, s, k, refine=True
                                )
                            }
                            if refined_row and "s2k" in kernels
                            else {}
                        ),
                        "true-kernel": lambda it=it, s=s: restore(it.lr, s, it.kernel),
                    }
                    for name, fn_sr in sr_methods.items():
                        if not cfg.wants(name):
                            continue
                        keep = cfg.figures and i == 0
                        img_path = out / "sr" / f"{family}_x{s}" / f"{it.name}_{name}.png"
                        if (*key, name) in done and (not keep or img_path.exists()):
                            continue
                        t = time.perf_counter()
                        sr = fn_sr()
                        dt = time.perf_counter() - t
                        if keep:
                            write_image(img_path, sr)
                        if (*key, name) not in done:
                            emit(
                                name,
                                "sr",
                                dt,
                                psnr_y=psnr_y(it.hr, sr, shave=s),
                                ssim_y=ssim_y(it.hr, sr, shave=s),
                            )
    rows, _ = _read_done(csv_path)
    (out / "results.md").write_text(markdown_tables(rows, cfg))
    if cfg.figures:
        write_figures(out, rows, cfg)
    return csv_path


def _mean(rows: Sequence[dict], key: str) -> float:
    return float(np.mean([float(r[key]) for r in rows]))


_TABLES = (
    (
        "kernel",
        "Kernel estimation",
        "| family | scale | method | images | D_v | D_s | D_v up to flip | s / image |",
        (("dv", ".5f"), ("ds", ".3f"), ("dv_flip", ".5f"), ("seconds", ".3f")),
    ),
    (
        "sr",
        "Super-resolution",
        "| family | scale | method | images | PSNR-Y | SSIM-Y | s / image |",
        (("psnr_y", ".2f"), ("ssim_y", ".4f"), ("seconds", ".2f")),
    ),
)


def markdown_tables(rows: Sequence[dict], cfg: BenchConfig) -> str:
    """Mean tables (kernel errors, SR quality, time) per family, scale and method, as Markdown."""
    groups: dict[tuple[str, int, str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["family"], int(r["scale"]), r["kind"], r["method"])].append(r)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3]))
    lines = [
        f"# s2k bench: {Path(cfg.hr).name}",
        "",
        f"Seed {cfg.seed}, noise σ {cfg.noise:g}, SR backend `{cfg.backend}`; means over the images.",
    ]
    for kind, title, header, columns in _TABLES:
        lines += ["", f"## {title}", "", header, "|" + " --- |" * header.count("|", 1)]
        for (f, s, k, m), rs in ordered:
            if k == kind:
                cells = [f, f"×{s}", m, str(len(rs))] + [f"{_mean(rs, c):{fmt}}" for c, fmt in columns]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_figures(out: Path, rows: Sequence[dict], cfg: BenchConfig, per_family: int = 4) -> None:
    """``kernels_<family>_x<s>.png``: ground truth vs each estimator for the first ``per_family`` images at
    every scale; ``sr_<family>_x<s>.png``: centre crops of the first image's SR results."""
    from s2k.io import read_image
    from s2k.viz import save_grid_figure, save_panel_figure

    paths = list_images(cfg.hr)[: cfg.n]
    first = paths[0]
    for family in cfg.families:
        for s in cfg.scales:
            data_dir, kern_dir = out / "data" / f"{family}_x{s}", out / "kernels" / f"{family}_x{s}"
            grid = []
            for p in paths[:per_family]:
                if not (data_dir / f"{p.stem}.npy").exists():
                    continue
                row = [(f"{p.stem}: true", np.load(data_dir / f"{p.stem}.npy"), "kernel")]
                for est in ESTIMATORS:
                    kp = kern_dir / f"{p.stem}_{est}.npy"
                    if kp.exists():
                        row.append((est, np.load(kp), "kernel"))
                grid.append(row)
            if grid:
                save_grid_figure(out / f"kernels_{family}_x{s}.png", grid, title=f"{family} kernels, ×{s}")
        for sc in cfg.scales:
            sr_dir = out / "sr" / f"{family}_x{sc}"
            if not sr_dir.is_dir():
                continue
            hr = read_image(first)
            h, w = hr.shape[0] // sc * sc, hr.shape[1] // sc * sc
            c = min(96, h, w)
            y0, x0 = (h - c) // 2, (w - c) // 2
            panels = []
            for method in ("bicubic", "unaware", "blind-s2k", "true-kernel"):
                p = sr_dir / f"{first.stem}_{method}.png"
                if p.exists():
                    panels.append((method, read_image(p)[y0 : y0 + c, x0 : x0 + c], "image"))
            panels.append(("HR", hr[y0 : y0 + c, x0 : x0 + c], "image"))
            save_panel_figure(
                out / f"sr_{family}_x{sc}.png", panels, title=f"{family} ×{sc}, {first.stem} (crop)"
            )
