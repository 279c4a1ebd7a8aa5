"""Data: high-resolution image pools, on-the-fly training batches for the estimator, synthetic test sets.

Training data is made on the fly, never stored: random HR crops (random flips and 90° rotations) from
image folders, a random kernel of the family per crop (the samplers of :mod:`s2k.kernels`, paper ranges),
the degradation of :mod:`s2k.degradation` (the same code as everywhere else), and the spectrum feature of
:mod:`s2k.spectrum`. A batch shares one scale and one LR size, drawn per batch, so batches stay tensors.

Synthetic test sets (:func:`make_synthetic_set`) are the project's fixed validation / benchmark sets:
the HR images of a folder in sorted order, each cropped to a multiple of the scale (top-left corner
kept), each degraded with its own kernel drawn in order from ``numpy.random.default_rng(seed)`` by
:func:`s2k.kernels.sample_kernel`, no noise unless asked (noise from ``default_rng([seed, 1])``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info
from tqdm import tqdm

from s2k.degradation import check_scale, degrade, degrade_torch
from s2k.errors import S2KError
from s2k.features import check_feature, training_feature_torch
from s2k.io import list_images, read_image
from s2k.kernels import FAMILIES, sample_kernel, sample_kernels


def load_hr_pool(
    folders: Sequence[str | Path], limit: int | None = None, progress: bool = True
) -> list[np.ndarray]:
    """Read every image of ``folders`` (sorted, RGB, uint8 H×W×3) into memory; grey becomes RGB."""
    paths = [p for f in folders for p in list_images(f)]
    if limit is not None:
        paths = paths[:limit]
    pool = []
    for p in tqdm(paths, desc="loading HR images", disable=not progress, leave=False):
        im = read_image(p)[:, :, :3]
        if im.shape[2] == 1:
            im = np.repeat(im, 3, axis=2)
        pool.append(np.clip(np.round(im), 0, 255).astype(np.uint8))
    if not pool:
        raise S2KError(f"no images found in {', '.join(map(str, folders))}")
    return pool


def random_crops(pool: Sequence[np.ndarray], n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``h×w`` crops (n×h×w×3 uint8) with random 90° rotations and flips.

    An image is rotated by 90° first when the crop only fits it that way; images that fit the crop in
    neither orientation are skipped; raises S2KError when no image fits.
    """
    if not any(min(im.shape[:2]) >= min(h, w) and max(im.shape[:2]) >= max(h, w) for im in pool):
        raise S2KError(f"no image of the pool holds a {h}×{w} crop")
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    i = 0
    while i < n:
        im = pool[int(rng.integers(len(pool)))]
        fits = im.shape[0] >= h and im.shape[1] >= w
        fits_rot = im.shape[1] >= h and im.shape[0] >= w
        if not (fits or fits_rot):
            continue
        if (fits_rot and rng.random() < 0.5) or not fits:
            im = np.rot90(im)
        if rng.random() < 0.5:
            im = im[::-1]
        if rng.random() < 0.5:
            im = im[:, ::-1]
        y = int(rng.integers(im.shape[0] - h + 1))
        x = int(rng.integers(im.shape[1] - w + 1))
        out[i] = im[y : y + h, x : x + w]
        i += 1
    return out


@dataclass(frozen=True)
class BatchConfig:
    """What the on-the-fly estimator batches look like."""

    family: str = "gaussian"
    scales: tuple[int, ...] = (2, 3, 4)
    batch_size: int = 32
    lr_size_range: tuple[int, int] = (48, 160)  # LR height and width, drawn per batch (capped by the pool)
    spectrum_size: int = 64
    noise_range: tuple[float, float] = (0.0, 0.0)  # σ_n per image, uniform, 0..255 units
    feature: str = "spectrum"  # the generator input (s2k.features); "spatial" for the Table-3 ablation

    def __post_init__(self) -> None:
        check_feature(self.feature)
        if self.family not in FAMILIES:
            raise S2KError(f"unknown family {self.family!r}; choose from {', '.join(FAMILIES)}")
        for s in self.scales:
            check_scale(s)


@dataclass
class EstimatorBatch:
    """One training batch: input features (spectra unless configured otherwise), scales, true kernels
    (float32 tensors)."""

    spectrum: torch.Tensor  # B×1×S×S, the generator input (s2k.features.training_feature_torch)
    scale: torch.Tensor  # B×1
    kernel: torch.Tensor  # B×k×k
    lr_shape: tuple[int, int] = field(default=(0, 0))


def make_estimator_batch(
    pool: Sequence[np.ndarray], cfg: BatchConfig, rng: np.random.Generator
) -> EstimatorBatch:
    """Draw one batch: scale, LR size, crops, kernels, degradation, spectra (see the module docstring)."""
    s = int(rng.choice(cfg.scales))
    short = min(min(im.shape[:2]) for im in pool)
    long_ = min(max(im.shape[:2]) for im in pool)
    lo, hi = cfg.lr_size_range
    lr_h = int(rng.integers(min(lo, short // s), min(hi, short // s) + 1))
    lr_w = int(rng.integers(min(lo, long_ // s), min(hi, long_ // s) + 1))
    crops = random_crops(pool, cfg.batch_size, lr_h * s, lr_w * s, rng)
    kernels = sample_kernels(cfg.family, cfg.batch_size, int(rng.integers(2**62)))
    noise = rng.uniform(*cfg.noise_range, size=cfg.batch_size) if cfg.noise_range[1] > 0 else 0.0
    hr = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    k = torch.from_numpy(kernels).float()
    noise_t = torch.as_tensor(noise, dtype=torch.float32)
    lr = degrade_torch(hr, k, s, noise=noise_t, generator=gen)
    spec = training_feature_torch(lr, cfg.feature, cfg.spectrum_size)
    scale = torch.full((cfg.batch_size, 1), float(s))
    return EstimatorBatch(spec, scale, k, (lr_h, lr_w))


class BatchStream(IterableDataset):
    """An endless stream of batches ``make(pool, cfg, rng)``; each DataLoader worker (and DDP rank) draws
    its own.

    The stream is determined by ``(seed, rank, start, worker id)``; restart it with a new ``start`` (the
    iteration reached) when resuming so a resumed run does not replay the batches it has already seen.
    ``make`` must be a module-level function (workers may be spawned).
    """

    def __init__(
        self,
        make: Callable[[Sequence[np.ndarray], Any, np.random.Generator], Any],
        pool: Sequence[np.ndarray],
        cfg: Any,
        seed: int,
        rank: int = 0,
        start: int = 0,
    ) -> None:
        super().__init__()
        self.make, self.pool, self.cfg, self.seed, self.rank, self.start = make, pool, cfg, seed, rank, start

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        wid = info.id if info is not None else 0
        if info is not None:
            torch.set_num_threads(1)
        rng = np.random.default_rng([self.seed, self.rank, self.start, wid])
        while True:
            yield self.make(self.pool, self.cfg, rng)


def estimator_batches(
    pool: Sequence[np.ndarray], cfg: BatchConfig, seed: int, rank: int = 0, start: int = 0
) -> BatchStream:
    """The estimator's stream of :class:`EstimatorBatch` es (:func:`make_estimator_batch`)."""
    return BatchStream(make_estimator_batch, pool, cfg, seed, rank, start)


def synthetic_set_images(hr_dir: str | Path, n: int | None = None, start: int = 0) -> list[Path]:
    """The HR images of the fixed synthetic set (:func:`iter_synthetic_set`): images ``start`` to
    ``start + n`` of ``hr_dir``, sorted (all from ``start`` if ``n`` is None). Benchmarks that pick the
    same images (e.g. to replace their rows) use this, so the selection lives in one place."""
    if start < 0:
        raise S2KError(f"start must be >= 0, got {start}")
    paths = list_images(hr_dir)[start:]
    return paths if n is None else paths[:n]


@dataclass
class SyntheticItem:
    """One image of a synthetic test set."""

    name: str
    hr: np.ndarray  # H×W×C, 0..255, H and W multiples of the scale
    lr: np.ndarray  # 8-bit values as float64
    kernel: np.ndarray


def iter_synthetic_set(
    hr_dir: str | Path,
    family: str,
    scale: int,
    n: int | None = None,
    seed: int = 0,
    noise: float = 0.0,
    start: int = 0,
) -> Iterator[SyntheticItem]:
    """The fixed synthetic set of ``hr_dir`` (first ``n`` images) for a family and scale (module doc), one
    image at a time: only the current image is held in memory. ``start`` skips that many images first
    (a held-out set after the benchmark's images; its kernels are drawn from ``seed`` afresh)."""
    scale = check_scale(scale)
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])  # separate stream: the kernels do not depend on the noise
    for p in synthetic_set_images(hr_dir, n, start):
        hr = read_image(p)
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        hr = hr[:h, :w]
        k = sample_kernel(family, rng)
        lr = degrade(hr, k, scale, noise=noise, rng=noise_rng)
        yield SyntheticItem(p.stem, hr, lr, k)


def make_synthetic_set(
    hr_dir: str | Path,
    family: str,
    scale: int,
    n: int | None = None,
    seed: int = 0,
    noise: float = 0.0,
    progress: bool = False,
    start: int = 0,
) -> list[SyntheticItem]:
    """The fixed synthetic set of ``hr_dir`` (first ``n`` images) for a family and scale (module doc) as a
    list (:func:`iter_synthetic_set` makes the same items one at a time)."""
    total = len(synthetic_set_images(hr_dir, n, start))
    items = iter_synthetic_set(hr_dir, family, scale, n, seed, noise, start)
    desc = f"degrading {Path(hr_dir).name} ×{scale}"
    return list(tqdm(items, desc=desc, total=total, disable=not progress, leave=False))
