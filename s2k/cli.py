"""The ``s2k`` command line, a thin layer over the public API.

Every command has ``--help``. Bad input (a missing or unreadable file, a bad scale, a bad kernel) gives a
one-line message on stderr and exit status 2, and writes no output file: inputs and output paths are
checked before any work, and every output is written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from s2k.errors import S2KError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _scale(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"scale must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"scale must be an integer >= 1, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _noise_or_auto(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return _nonneg_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or auto, got {text!r}") from None


def _out_path(path: str | None, exts: Sequence[str], what: str) -> Path | None:
    """Check an output path before any work: known extension, existing (or creatable) parent folder."""
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() not in exts:
        raise S2KError(f"{what} {path!r} must end in one of {', '.join(exts)}")
    if p.is_dir():
        raise S2KError(f"{what} {path!r} is a directory")
    return p


def _load_user_kernel(path: str) -> np.ndarray:
    from s2k.io import load_kernel
    from s2k.kernels import validate_kernel

    return validate_kernel(load_kernel(path), name=f"kernel file {path!r}")


# --------------------------------------------------------------------------------------------- commands
def cmd_kernel(args: argparse.Namespace) -> None:
    from s2k.io import save_kernel
    from s2k.kernels import sample_kernel
    from s2k.viz import save_kernel_png

    out = _out_path(args.output, (".npy",), "output")
    png = _out_path(args.png, (".png",), "--png")
    k = sample_kernel(args.family, np.random.default_rng(args.seed))
    save_kernel(out, k)
    if png:
        save_kernel_png(png, k)
    print(f"{args.family} kernel {k.shape[0]}×{k.shape[1]} (seed {args.seed}) -> {out}")


def cmd_degrade(args: argparse.Namespace) -> None:
    from s2k.degradation import degrade
    from s2k.io import read_image, save_kernel, write_image
    from s2k.kernels import sample_kernel

    out = _out_path(args.output, IMAGE_EXTS, "output")
    kout = _out_path(args.kernel_out, (".npy",), "--kernel-out")
    rng = np.random.default_rng(args.seed)
    k = _load_user_kernel(args.kernel) if args.kernel else sample_kernel(args.family, rng)
    hr = read_image(args.hr)
    lr = degrade(hr, k, args.scale, noise=args.noise, rng=rng)
    write_image(out, lr)
    if kout:
        save_kernel(kout, k)
    print(f"{args.hr}: {hr.shape[1]}×{hr.shape[0]} -> {lr.shape[1]}×{lr.shape[0]} (×{args.scale}) -> {out}")


def cmd_spectrum(args: argparse.Namespace) -> None:
    from s2k.io import read_image
    from s2k.spectrum import spectrum_feature
    from s2k.viz import save_spectrum_png

    out = _out_path(args.output, (".png",), "output")
    npy = _out_path(args.npy, (".npy",), "--npy")
    spec = spectrum_feature(read_image(args.image), size=args.size)
    save_spectrum_png(out, spec)
    if npy:
        from s2k.io import atomic_write

        atomic_write(npy, lambda tmp: np.save(tmp, spec))
    print(f"{args.image}: {args.size}×{args.size} spectrum -> {out}")


def cmd_demo(args: argparse.Namespace) -> None:
    from s2k.degradation import degrade
    from s2k.estimate import estimate_kernel
    from s2k.io import read_image, save_kernel, write_image
    from s2k.kernel_fit import PARAMETRIC_FAMILIES, fit_kernel
    from s2k.kernels import sample_kernel, sample_kernels
    from s2k.metrics import kernel_errors, psnr_y
    from s2k.pipeline import refines_by_default, super_resolve
    from s2k.spectrum import spectrum_feature
    from s2k.sr.bicubic import bicubic_upsample
    from s2k.viz import save_kernel_png, save_panel_figure, save_spectrum_png

    outdir = Path(args.out)
    if outdir.exists() and not outdir.is_dir():
        raise S2KError(f"--out {args.out!r} exists and is not a directory")
    hr_path = Path(args.image) if args.image else Path(__file__).parent / "assets" / "sample.png"
    t0 = time.perf_counter()
    hr = read_image(hr_path)[:, :, :3]
    s = args.scale
    hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
    k = sample_kernel(args.family, np.random.default_rng(args.seed))
    lr = degrade(hr, k, s, noise=args.noise, rng=np.random.default_rng(args.seed + 1))
    spec = spectrum_feature(lr)
    t1 = time.perf_counter()
    k_est = estimate_kernel(lr, s, args.family)
    t_est = time.perf_counter() - t1
    t1 = time.perf_counter()
    refine = refines_by_default(args.family, args.backend, s)  # as `s2k sr` does with a blind estimate
    res = super_resolve(lr, s, k_est, backend=args.backend, noise=args.noise, refine=refine)
    blind = res.image
    t_sr = time.perf_counter() - t1
    oracle = super_resolve(lr, s, k, backend=args.backend, noise=args.noise).image
    bic = bicubic_upsample(lr, s)
    err = kernel_errors(k_est, k)
    floor = kernel_errors(sample_kernels(args.family, 500, 1).mean(axis=0), k).dv  # no-skill answer
    p_bic, p_blind, p_true = (psnr_y(hr, x, shave=s) for x in (bic, blind, oracle))
    outdir.mkdir(parents=True, exist_ok=True)
    written = [
        "lr.png",
        "sr.png",
        "kernel_true.npy",
        "kernel_estimated.npy",
        "kernel_true.png",
        "kernel_estimated.png",
        "spectrum.png",
        "demo.png",
    ]
    write_image(outdir / "lr.png", lr)
    write_image(outdir / "sr.png", blind)
    save_kernel(outdir / "kernel_true.npy", k)
    save_kernel(outdir / "kernel_estimated.npy", k_est)
    save_kernel_png(outdir / "kernel_true.png", k)
    save_kernel_png(outdir / "kernel_estimated.png", k_est)
    save_spectrum_png(outdir / "spectrum.png", spec)
    panels = [
        (f"LR (×{s})", lr, "image"),
        ("LR spectrum", spec, "spectrum"),
        ("true kernel", k, "kernel"),
        (f"estimated (D_v {err.dv:.5f})", k_est, "kernel"),
    ]
    if res.refined:  # show and save the kernel the SR used as well
        err_ref = kernel_errors(res.kernel, k)
        panels.append((f"refined (D_v {err_ref.dv:.5f})", res.kernel, "kernel"))
        save_kernel(outdir / "kernel_refined.npy", res.kernel)
        save_kernel_png(outdir / "kernel_refined.png", res.kernel)
        written[4:4] = ["kernel_refined.npy", "kernel_refined.png"]
    save_panel_figure(
        outdir / "demo.png",
        [
            *panels,
            (f"bicubic {p_bic:.2f} dB", bic, "image"),
            (f"blind {args.backend} {p_blind:.2f} dB", blind, "image"),
            ("HR", hr, "image"),
        ],
        title=f"{hr_path.name}: {args.family} kernel (seed {args.seed}), ×{s}, blind SR; PSNR-Y vs HR",
    )
    dt = time.perf_counter() - t0
    print(
        f"HR {hr_path.name} {hr.shape[1]}×{hr.shape[0]} -> LR {lr.shape[1]}×{lr.shape[0]} with a "
        f"{args.family} {k.shape[0]}×{k.shape[1]} kernel (seed {args.seed}, noise σ {args.noise:g})"
    )
    print(
        f"kernel estimated in {1000 * t_est:.0f} ms: D_v {err.dv:.5f}, D_s {err.ds:.3f} (answering the "
        f"family's mean kernel would score D_v {floor:.5f})"
    )
    if args.family in PARAMETRIC_FAMILIES:
        print(f"  estimated: {fit_kernel(k_est, args.family).describe(residual=False)}")
        print(f"  true:      {fit_kernel(k, args.family).describe(residual=False)}")
    if res.refined:
        print(
            f"  the SR refined the estimate against the LR image first (s2k.kernel_refine): D_v "
            f"{err_ref.dv:.5f}, D_s {err_ref.ds:.3f} (fitted to the LR image, not to the kernel's pixels: "
            "it can score a higher D_v and still restore better, docs/SR.md)"
        )
    print(
        f"PSNR-Y vs HR: bicubic {p_bic:.2f} dB, blind {args.backend} {p_blind:.2f} dB "
        f"({p_blind - p_bic:+.2f}; "
        f"{t_sr:.1f} s), {args.backend} with the true kernel {p_true:.2f} dB"
    )
    print(f"done in {dt:.1f} s")
    for name in written:
        print(f"  wrote {outdir / name}")


def cmd_estimate(args: argparse.Namespace) -> None:
    from s2k.estimate import NOISY_LEVEL, estimate_kernel, finalize_kernel, noisy_model
    from s2k.io import read_image, save_kernel
    from s2k.kernel_fit import PARAMETRIC_FAMILIES, fit_kernel
    from s2k.viz import save_kernel_png

    out = _out_path(args.output, (".npy",), "output")
    png = _out_path(args.png, (".png",), "--png")
    image = read_image(args.image)
    t0 = time.perf_counter()
    family, said, noise = args.family, args.family, args.noise
    if noise == "auto":
        from s2k.noise import auto_noise

        noise = auto_noise(image, _jpeg_floor(Path(args.image)))[0]
    if args.family == "auto":
        if args.weights:
            raise S2KError("--weights names one family's model; it cannot be used with --family auto")
        from s2k.family import choose_family

        choice = choose_family(
            image, args.scale, noise=noise, resolve_flip=not args.no_flip, fit_family=False
        )
        family, said, k = choice.family, choice.describe(), choice.kernel
        if noise >= NOISY_LEVEL:
            said += f" (noise σ {noise:.1f}: estimates and choice for noisy images)"
    else:
        k = estimate_kernel(
            image,
            args.scale,
            family,
            weights=args.weights,
            resolve_flip=not args.no_flip,
            fit_family=False,
            noise=noise,
        )
        if args.weights is None and noisy_model(family, noise):
            said += f" (noise σ {noise:.1f}: the model trained on noisy images)"
    fit = fit_kernel(k, family) if family in PARAMETRIC_FAMILIES else None
    refined = None
    if fit is not None and not args.no_fit:  # what estimate_kernel returns by default
        k = finalize_kernel(image, k, args.scale, family, resolve_flip=False, fitted=fit, noise=noise)
        if not np.array_equal(k, fit.kernel):  # a disk whose radius the pixels refined
            refined = fit_kernel(k, family)
    dt = time.perf_counter() - t0
    save_kernel(out, k)
    if png:
        save_kernel_png(png, k)
    print(
        f"{args.image}: {said} kernel {k.shape[0]}×{k.shape[1]} at ×{args.scale} "
        f"({1000 * dt:.0f} ms) -> {out}"
    )
    if fit is not None:  # the residual says how far the network's kernel is from the family
        print(f"nearest {fit.describe()}" + (" (not applied: --no-fit)" if args.no_fit else ""))
    if refined is not None:
        print(f"radius refined from the pixels (s2k.disk_radius): {refined.describe(residual=False)}")


def cmd_sr(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from s2k.io import list_images, read_image, save_kernel, write_image
    from s2k.pipeline import super_resolve

    src = Path(args.image)
    kernel: object = None
    if args.kernel == "bicubic":
        kernel = "bicubic"
    elif args.kernel:
        kernel = _load_user_kernel(args.kernel)
    if src.is_dir():
        jobs = [(p, Path(args.output) / f"{p.stem}.png") for p in list_images(src)]
        if Path(args.output).exists() and not Path(args.output).is_dir():
            raise S2KError(f"output {args.output!r} must be a folder when the input is a folder")
        if args.save_kernel:
            raise S2KError("--save-kernel takes one image; with a folder, kernels go next to the SR images")
    else:
        jobs = [(src, _out_path(args.output, IMAGE_EXTS, "output"))]
    kout = _out_path(args.save_kernel, (".npy",), "--save-kernel")
    noise = 0.0 if args.backend == "sftmd" and args.noise == "auto" else args.noise  # sftmd: noise-free
    for path, out in tqdm(jobs, desc="super-resolving", disable=len(jobs) < 2, unit="image"):
        lr = read_image(path)
        if noise == 0:
            _warn_if_noisy(path, lr, args.backend)
        floor = _jpeg_floor(path) if noise == "auto" else 0.0
        t0 = time.perf_counter()
        res = super_resolve(
            lr,
            args.scale,
            kernel,
            family=args.family,
            backend=args.backend,
            prior=args.prior,
            noise=noise,
            tile=args.tile,
            refine=args.refine,
            border=args.border,
            progress=True,
            noise_floor=floor,
        )
        dt = time.perf_counter() - t0
        write_image(out, res.image)
        if kout:
            save_kernel(kout, res.kernel)
        elif len(jobs) > 1 and res.kernel_estimated:
            save_kernel(out.with_suffix(".kernel.npy"), res.kernel)
        fam = res.family
        if res.family_probabilities:
            fam = f"{res.family} (auto, {100 * res.family_probabilities[res.family]:.0f} %)"
        how = f"estimated {fam} kernel" if res.kernel_estimated else f"{args.kernel} kernel"
        if kernel is not None and not isinstance(kernel, str):
            how = "given kernel"
        if res.refined:
            how += ", refined"
        if res.noise_estimated:
            jpeg = f"; JPEG: at least {floor:.1f}" if floor else ""
            how += f", noise σ {res.noise:.1f} (estimated{jpeg})"
        elif noise == "auto":
            how += ", noise-free (too small to estimate the noise)"
        msg = f"{path.name}: ×{args.scale} with the {how}, {dt:.1f} s -> {out}"
        tqdm.write(msg)


def _jpeg_floor(path: Path) -> float:
    """The least noise level to assume for an image read from ``path`` (:func:`s2k.noise.jpeg_noise_floor`
    for a JPEG file, else 0)."""
    from s2k.io import jpeg_luma_quantization
    from s2k.noise import jpeg_noise_floor

    steps = jpeg_luma_quantization(path)
    return 0.0 if steps is None else jpeg_noise_floor(steps)


def _warn_if_noisy(path: Path, lr: np.ndarray, backend: str) -> None:
    """A line on stderr when an image restored as noise-free reads as noisy, or is a JPEG whose noise floor
    says so (:mod:`s2k.noise`)."""
    from tqdm import tqdm

    from s2k.noise import NOISY, auto_noise

    sigma, known = auto_noise(lr, _jpeg_floor(path))
    if known and sigma >= NOISY:
        fix = "--noise auto" if backend == "pnp" else "--backend pnp (sftmd is noise-free)"
        tqdm.write(
            f"warning: {path.name} looks noisy (σ ≈ {sigma:.1f}); restored as noise-free it may come "
            f"out grainy: try {fix}",
            file=sys.stderr,
        )


def cmd_bench(args: argparse.Namespace) -> None:
    from s2k.bench import BenchConfig, run_bench

    families = tuple(f.strip() for f in args.family.split(",") if f.strip())
    try:
        scales = tuple(int(x) for x in args.scale.split(",") if x.strip())
    except ValueError:
        raise S2KError(f"--scale must be comma-separated integers, got {args.scale!r}") from None
    if not Path(args.hr).is_dir():
        raise S2KError(f"--hr {args.hr!r} is not a folder")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else ()
    cfg = BenchConfig(
        args.hr,
        args.out,
        families,
        scales,
        args.n,
        args.seed,
        args.noise,
        args.backend,
        not args.no_figures,
        methods,
    )
    t0 = time.perf_counter()
    path = run_bench(cfg, progress=not args.quiet)
    print(f"results: {path}, {Path(args.out) / 'results.md'} ({time.perf_counter() - t0:.0f} s)")


def _run_training(
    args: argparse.Namespace,
    config_cls: type,
    train: Callable[..., dict[str, Any]],
    done: Callable[[dict[str, Any]], str],
) -> None:
    """What every ``s2k train <network>`` does: the run's configuration from the flags, the training
    (resumable: a resumed run keeps its own configuration; ``--iterations``, ``--time-limit-min``,
    ``--threads``, ``--workers`` and ``--device`` may change it), and on rank 0 the line ``done(summary)``."""
    from s2k.train.common import RESUME_CHANGEABLE, saved_run_config
    from s2k.train.options import dataclass_from_args

    saved = (saved_run_config(args.out) if args.resume else None) or {}
    # resumed: what the flags do not change stays the run's own (not the flags' defaults)
    keep = {k: saved[k] for k in RESUME_CHANGEABLE if k in saved and getattr(args, k, None) is None}
    cfg = dataclass_from_args(config_cls, args, **keep)
    ignored = [k for k in saved if k not in RESUME_CHANGEABLE and getattr(args, k, None) is not None]
    if ignored:
        flags = ", ".join("--" + k.replace("_", "-") for k in ignored)
        print(f"note: {flags} ignored: a resumed run keeps its own configuration", file=sys.stderr)
    summary = train(cfg, args.out, resume=args.resume, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        print(done(summary))


def cmd_train_estimator(args: argparse.Namespace) -> None:
    from s2k.train.estimator import EstimatorTrainConfig, train_estimator

    _run_training(
        args,
        EstimatorTrainConfig,
        train_estimator,
        lambda r: (
            f"done: iteration {r['iteration']}, best mean val D_v {r['best_dv_mean']:.6f}, "
            f"{r['wall_s']:.0f} s"
        ),
    )


def cmd_train_denoiser(args: argparse.Namespace) -> None:
    from s2k.train.denoiser import DenoiserTrainConfig, train_denoiser

    _run_training(args, DenoiserTrainConfig, train_denoiser, lambda r: f"done: {r}")


def cmd_train_sr(args: argparse.Namespace) -> None:
    from s2k.train.sr import SRTrainConfig, train_sr

    _run_training(args, SRTrainConfig, train_sr, lambda r: f"done: {r}")


def cmd_train_radius(args: argparse.Namespace) -> None:
    from s2k.train.radius import RadiusTrainConfig, train_radius

    _run_training(
        args,
        RadiusTrainConfig,
        train_radius,
        lambda r: f"done: iteration {r['iteration']}, best val D_v {r['best_dv']:.6f}, {r['wall_s']:.0f} s",
    )


def cmd_train_family(args: argparse.Namespace) -> None:
    from s2k.train.family import FamilyFitConfig, fit_family_classifier
    from s2k.train.options import dataclass_from_args

    _out_path(args.out, (".safetensors",), "output")
    cfg = dataclass_from_args(FamilyFitConfig, args)
    clf = fit_family_classifier(cfg, progress=not args.quiet)
    clf.save(args.out)
    parts = [
        (what, clf.meta[key])
        for what, key in (("noise-free", "fit_accuracy"), ("noisy", "noisy_fit_accuracy"))
        if key in clf.meta
    ]
    acc = "; ".join(
        what + " " + ", ".join(f"×{s} {100 * a:.0f} %" for s, a in by.items()) for what, by in parts
    )
    print(
        f"family classifier -> {args.out} (accuracy on its own fitting data: {acc or 'kept from base'}; "
        f"{clf.meta['wall_time_s']:.0f} s)"
    )


def cmd_train_radius_combiner(args: argparse.Namespace) -> None:
    from s2k.train.options import dataclass_from_args
    from s2k.train.radius_combiner import CombinerFitConfig, attach_combiner

    _out_path(args.out, (".safetensors",), "output")
    if not Path(args.weights).is_file():
        raise S2KError(f"{args.weights}: no such weight file")
    info = attach_combiner(
        args.weights, args.out, dataclass_from_args(CombinerFitConfig, args), progress=not args.quiet
    )
    e = info["errors"]
    print(
        f"combiner -> {args.out} ({info['fit']['problems']} problems; mean radius error on them "
        f"{e['linear_abs_err']:.4f} px with the linear blend, {e['combined_abs_err']:.4f} px combined; "
        f"{info['wall_time_s']:.0f} s)"
    )


def cmd_train_export(args: argparse.Namespace) -> None:
    from s2k.checkpoint import read_metadata

    _out_path(args.output, (".safetensors",), "output")
    if not Path(args.checkpoint).is_file():
        raise S2KError(f"{args.checkpoint}: no such checkpoint")
    kind = read_metadata(args.checkpoint).get("kind")
    if args.blend is not None and kind != "s2k-disk-radius-run":
        raise S2KError("--blend only applies to a disk-radius run")
    if kind == "s2k-denoiser-run":
        from s2k.train.denoiser import export_denoiser

        export_denoiser(args.checkpoint, args.output, half=not args.float32)
        print(f"denoiser -> {args.output}")
        return
    if kind == "s2k-disk-radius-run":
        from s2k.train.radius import export_radius

        if args.blend is not None and not 0.0 <= args.blend <= 1.0:
            raise S2KError(f"--blend must be in [0, 1], got {args.blend}")
        extra = {} if args.blend is None else {"blend": args.blend}
        meta = export_radius(args.checkpoint, args.output, half=args.half, extra=extra)
        print(f"disk-radius ×{meta['scale']} (iteration {meta['training']['iteration']}) -> {args.output}")
        return
    if kind == "s2k-sftmd-run":
        from s2k.train.sr import export_sftmd

        export_sftmd(args.checkpoint, args.output, half=not args.float32)
        print(f"sftmd -> {args.output}")
        return
    from s2k.train.estimator import export_estimator

    meta = export_estimator(args.checkpoint, args.output, half=not args.float32)
    print(f"{meta['family']} estimator (iteration {meta['training']['iteration']}) -> {args.output}")


# ------------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The ``s2k`` argument parser (one sub-command per job)."""
    from s2k import __version__
    from s2k.kernels import FAMILIES
    from s2k.pipeline import BACKENDS
    from s2k.sr.pnp import BORDERS

    p = _Parser(prog="s2k", description="Blind image super-resolution with Spectrum-to-Kernel estimation.")
    p.add_argument("--version", action="version", version=f"s2k {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], None], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    sp = add("kernel", cmd_kernel, "Sample a blur kernel of a family and save it (.npy, optional .png).")
    sp.add_argument("--family", choices=FAMILIES, default="gaussian", help="kernel family (default gaussian)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("-o", "--output", required=True, help="output kernel file (.npy)")
    sp.add_argument("--png", help="also write a magnified picture of the kernel (.png)")

    sp = add(
        "degrade",
        cmd_degrade,
        "Blur, down-sample and optionally add noise to an HR image "
        "(LR = (HR ⊛ k)[0::s, 0::s] + n, rounded to 8 bits).",
    )
    sp.add_argument("hr", help="high-resolution input image")
    sp.add_argument("-s", "--scale", type=_scale, required=True, help="integer scale factor >= 1")
    src = sp.add_mutually_exclusive_group()
    src.add_argument(
        "--family",
        choices=FAMILIES,
        default="gaussian",
        help="sample the kernel from this family (default gaussian)",
    )
    src.add_argument("--kernel", help="use this kernel (.npy, 2-D, >= 0, odd sizes; renormalised)")
    sp.add_argument("--seed", type=int, default=0, help="seed of the kernel sample and the noise (default 0)")
    sp.add_argument("--noise", type=_nonneg_float, default=0.0, help="Gaussian noise σ in 0..255 units")
    sp.add_argument("-o", "--output", required=True, help="output LR image (.png recommended)")
    sp.add_argument("--kernel-out", help="save the kernel used (.npy)")

    sp = add("spectrum", cmd_spectrum, "Write the estimator's spectrum feature of an image as a picture.")
    sp.add_argument("image", help="input (LR) image")
    sp.add_argument("-o", "--output", required=True, help="output picture (.png)")
    sp.add_argument("--size", type=_positive_int, default=256, help="side of the spectrum map (default 256)")
    sp.add_argument("--npy", help="also save the raw feature (.npy)")

    sp = add("estimate", cmd_estimate, "Estimate the blur kernel of an LR image from its amplitude spectrum.")
    sp.add_argument("image", help="LR input image (any size, grey or colour)")
    sp.add_argument("-s", "--scale", type=_scale, required=True, help="SR scale factor the kernel is for")
    sp.add_argument(
        "--family",
        choices=(*FAMILIES, "auto"),
        default="gaussian",
        help="kernel family, or auto: run every family's estimator and keep the most likely "
        "(default gaussian)",
    )
    sp.add_argument("-o", "--output", required=True, help="output kernel (.npy, HR pixels, sum 1)")
    sp.add_argument("--png", help="also write a magnified picture of the kernel (.png)")
    sp.add_argument("--weights", help="estimator weights (.safetensors) instead of the shipped ones")
    sp.add_argument(
        "--noise",
        type=_noise_or_auto,
        default="auto",
        help="noise σ of the LR image, 0..255, or auto (default): estimated as s2k sr does; "
        "noisy images get the family's model trained on noise, where one is shipped",
    )
    sp.add_argument(
        "--no-flip",
        action="store_true",
        help="motion: keep the network's orientation instead of resolving the 180° ambiguity",
    )
    sp.add_argument(
        "--no-fit",
        action="store_true",
        help="gaussian/disk: write the network's kernel as is instead of the nearest member of the family",
    )

    sp = add("sr", cmd_sr, "Super-resolve an LR image (or a folder): blind, or with --kernel.")
    sp.add_argument("image", help="LR image, or a folder of LR images")
    sp.add_argument("-s", "--scale", type=_scale, required=True, help="integer scale factor")
    sp.add_argument("-o", "--output", required=True, help="SR image (or folder, for a folder input)")
    sp.add_argument(
        "--kernel",
        help="known kernel (.npy, HR pixels): non-blind SR; 'bicubic': the "
        "kernel-unaware reference (assumes the bicubic-like kernel)",
    )
    sp.add_argument(
        "--family",
        choices=(*FAMILIES, "auto"),
        default="gaussian",
        help="kernel family for the estimator when no --kernel is given, or auto: the most "
        "likely family (default gaussian)",
    )
    sp.add_argument(
        "--backend",
        choices=BACKENDS,
        default="pnp",
        help="SR backend: pnp (any kernel and scale, fast on CPU) or sftmd (the paper's network, "
        "×2-×4, noise-free; default pnp)",
    )
    sp.add_argument(
        "--prior",
        default="learned",
        help="pnp prior: learned (the shipped priors, one per scale at ×2-×4), tv (total "
        "variation) or a denoiser weight file of your own (.safetensors from s2k train denoiser; "
        "default learned)",
    )
    sp.add_argument("--save-kernel", help="save the kernel used (.npy)")
    sp.add_argument(
        "--noise",
        type=_noise_or_auto,
        default="auto",
        help="noise σ of the LR image, 0..255, or auto (default): estimate it from the image "
        "(pnp; sftmd is noise-free). Give 0 for noise-free images such as s2k degrade's",
    )
    sp.add_argument(
        "--tile",
        type=_positive_int,
        help="LR tile side for large images (default 512 for pnp, 256 for sftmd)",
    )
    sp.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refine the kernel against the LR image and restore again (2-4× the time; "
        "default: only estimated motion kernels with pnp at ×2 and ×3, where it was measured "
        "to help)",
    )
    sp.add_argument(
        "--border",
        choices=BORDERS,
        default="free",
        help="pnp: the image beyond its edges is unknown (free, default: photos) or the "
        "mirror image of its edge (reflect: s2k's degradation convention, for images made "
        "by s2k degrade)",
    )

    sp = add(
        "bench",
        cmd_bench,
        "Benchmark every kernel estimator and SR method on a folder of HR images "
        "(resumable; results.csv, results.md, figures).",
    )
    sp.add_argument("--hr", required=True, help="folder of HR images")
    sp.add_argument("--family", default=",".join(FAMILIES), help="comma-separated families (default all)")
    sp.add_argument("--scale", default="2,3,4", help="comma-separated scales (default 2,3,4)")
    sp.add_argument("--n", type=_positive_int, help="first N images (default all)")
    sp.add_argument("--seed", type=int, default=0, help="degradation seed (default 0)")
    sp.add_argument("--noise", type=_nonneg_float, default=0.0, help="noise σ added to the LR images")
    sp.add_argument("--backend", choices=BACKENDS, default="pnp", help="SR backend (default pnp)")
    sp.add_argument("--out", required=True, help="output folder (a rerun resumes it)")
    sp.add_argument(
        "--methods",
        help="comma-separated estimators / SR methods to run, e.g. "
        "blind-s2k,true-kernel (default all; names in docs/BENCHMARKS.md)",
    )
    sp.add_argument("--no-figures", action="store_true", help="skip the figures")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")

    sp = add(
        "train",
        lambda a: None,
        "Train networks (estimator, denoiser, sftmd, disk radius), fit the "
        "family classifier and export weights.",
    )
    tsub = sp.add_subparsers(dest="what", required=True, parser_class=_Parser, metavar="WHAT")
    from s2k.train.denoiser import DenoiserTrainConfig
    from s2k.train.estimator import EstimatorTrainConfig
    from s2k.train.options import add_dataclass_arguments
    from s2k.train.radius import RadiusTrainConfig
    from s2k.train.sr import SRTrainConfig

    def trainer(
        name: str, help_: str, description: str, func: Callable[[argparse.Namespace], None], config_cls: type
    ) -> None:
        """A ``s2k train <name>`` parser: run folder, resume, quiet, and one flag per config field."""
        tp = tsub.add_parser(name, help=help_, description=description)
        tp.set_defaults(func=func)
        tp.add_argument("--out", required=True, help="run folder (checkpoints, logs)")
        tp.add_argument("--resume", action="store_true", help="continue the run in --out")
        tp.add_argument("--quiet", action="store_true", help="no progress bar")
        add_dataclass_arguments(tp, config_cls)

    trainer(
        "estimator",
        "train a Spectrum-to-Kernel estimator (CGAN)",
        "Train a Spectrum-to-Kernel estimator (paper loss and optimiser). "
        "Resumable; run under torchrun for DistributedDataParallel.",
        cmd_train_estimator,
        EstimatorTrainConfig,
    )
    trainer(
        "denoiser",
        "train the pnp backend's Gaussian denoiser",
        "Train the plug-and-play prior: a noise-level-conditioned denoiser "
        "(--objective denoise), or fine-tune it through the unrolled pnp loop it serves "
        "(--objective sr --init W). "
        "Resumable; run under torchrun for DistributedDataParallel.",
        cmd_train_denoiser,
        DenoiserTrainConfig,
    )
    trainer(
        "sr",
        "train the sftmd SR backend (kernel-conditioned, all scales)",
        "Train the sftmd backend: one SFTMD network for scales 2-4 and every "
        "kernel family. Resumable; run under torchrun for DistributedDataParallel.",
        cmd_train_sr,
        SRTrainConfig,
    )
    trainer(
        "radius",
        "train the disk-radius regressor of one scale",
        "Train the disk-radius regressor (a small CNN reading a defocus "
        "disk's radius from the LR pixels; refines the S2K disk estimate). One scale "
        "per run. Resumable; run under torchrun for DistributedDataParallel.",
        cmd_train_radius,
        RadiusTrainConfig,
    )
    from s2k.train.family import FamilyFitConfig
    from s2k.train.radius_combiner import CombinerFitConfig

    def fitter(
        name: str,
        help_: str,
        description: str,
        func: Callable[[argparse.Namespace], None],
        config_cls: type,
        out_help: str,
    ) -> argparse.ArgumentParser:
        """A ``s2k train <name>`` parser for a fit that writes one file: --out, quiet, one flag per field."""
        fp = tsub.add_parser(name, help=help_, description=description)
        fp.set_defaults(func=func)
        fp.add_argument("--out", required=True, help=out_help)
        fp.add_argument("--quiet", action="store_true", help="no progress bar")
        add_dataclass_arguments(fp, config_cls)
        return fp

    fitter(
        "family",
        "fit the classifier behind --family auto",
        "Fit the family classifier of --family auto: the shipped estimators' fit residuals on synthetic "
        "LR images of an HR folder, one linear discriminant per scale (closed form; minutes on a CPU).",
        cmd_train_family,
        FamilyFitConfig,
        "classifier file to write (.safetensors)",
    )
    cp = fitter(
        "radius-combiner",
        "fit a disk-radius regressor's radius-dependent blend",
        "Fit the combiner of a disk-radius regressor: a small correction of its linear blend with "
        "the S2K disk fit, learned from both radii on synthetic LR images of the training folders "
        "(minutes on a CPU), and write the regressor with it.",
        cmd_train_radius_combiner,
        CombinerFitConfig,
        "weight file to write: the regressor with its combiner (.safetensors)",
    )
    cp.add_argument("weights", help="disk-radius regressor (.safetensors)")
    ep = tsub.add_parser(
        "export",
        help="export a run's network as shippable weights",
        description="Export a run checkpoint's network (estimator generator, denoiser, "
        "SFTMD or disk-radius regressor) as safetensors with metadata (fp16, except the "
        "small disk-radius regressor: float32 unless --half).",
    )
    ep.set_defaults(func=cmd_train_export)
    ep.add_argument("checkpoint", help="run checkpoint (best.safetensors or last.safetensors)")
    ep.add_argument("-o", "--output", required=True, help="weight file to write (.safetensors)")
    ep.add_argument("--float32", action="store_true", help="keep float32 weights (default fp16)")
    ep.add_argument("--half", action="store_true", help="fp16 weights for the disk-radius regressor")
    ep.add_argument(
        "--blend",
        type=float,
        help="disk-radius regressor: the weight of its radius against "
        "the S2K fit's, 0..1 (default 1; choose it with benchmarks/disk_blend.py)",
    )

    sp = add(
        "demo",
        cmd_demo,
        "Blind SR of the bundled sample (or --image) degraded with a random kernel: "
        "estimate the kernel, super-resolve, print the kernel error and PSNR gain, write a figure.",
    )
    sp.add_argument("--image", help="HR image (default: the bundled sample)")
    sp.add_argument("--family", choices=FAMILIES, default="gaussian", help="kernel family (default gaussian)")
    sp.add_argument("-s", "--scale", type=_scale, default=2, help="scale factor (default 2)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--noise", type=_nonneg_float, default=0.0, help="Gaussian noise σ in 0..255 units")
    sp.add_argument("--backend", choices=BACKENDS, default="pnp", help="SR backend (default pnp)")
    sp.add_argument("--out", default="s2k-demo", help="output folder (default ./s2k-demo)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``s2k`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except S2KError as exc:
        message = " ".join(str(exc).split())  # always one line
        what = f"{args.command} {args.what}" if getattr(args, "what", None) else args.command
        print(f"s2k {what}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"s2k {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
