"""Fitting the family classifier of ``family="auto"`` (:mod:`s2k.family`).

For every scale and family, the first ``n`` images of an HR folder are degraded with the foundation's
samplers (:func:`s2k.data.iter_synthetic_set`, seed ``seed``: random kernels of the paper's ranges, the
degradation formula, 8-bit rounding), the three shipped estimators are run on each LR image and the six
fit residuals (:func:`s2k.family.family_features`) are collected; a linear discriminant per scale is
fitted to them (:func:`s2k.family.fit_lda`). Closed form, no iterations: minutes on a CPU, dominated by
the estimates. With ``noise_max`` > 0 a second discriminant per scale is fitted on noisy images, the
features read by the estimators a noisy image gets (:func:`s2k.estimate.get_estimator` with its σ_n): the
images are split into ``noise_groups`` groups, group g at σ_n = min + (max − min)·(g + 0.5) / groups
(kernel seed ``seed`` + g); ``base`` then names a classifier whose noise-free discriminants are kept
(otherwise they are fitted too). The training folder must not hold the benchmark's images (the shipped
classifier is fitted on BSDS500 train, the estimators' own training pool; BSD100 and Urban100 stay held
out).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from s2k.data import iter_synthetic_set, list_images
from s2k.errors import S2KError
from s2k.estimate import get_estimator
from s2k.family import (
    FamilyClassifier,
    estimator_fingerprints,
    family_features,
    family_fits,
    fit_lda,
    load_family_classifier,
    stale_estimators,
)
from s2k.kernels import FAMILIES
from s2k.train.common import spread_level


@dataclass(frozen=True)
class FamilyFitConfig:
    """Data of the family classifier's fit."""

    hr_dir: str = "../shared/data/train/BSDS500_train"
    n: int = 100  # first N images of hr_dir, each degraded once per family and scale
    seed: int = 1  # kernel / noise seed of the synthetic LR images (the benchmarks use 0)
    scales: tuple[int, ...] = (2, 3, 4)
    noise_min: float = 0.0  # > 0 noise_max: also fit discriminants for noisy images, σ_n spread over ...
    noise_max: float = 0.0  # ... [noise_min, noise_max] (0..255) by image groups (module docstring)
    noise_groups: int = 4
    base: str = ""  # with noise_max > 0: keep this classifier's noise-free discriminants instead of fitting

    def __post_init__(self) -> None:
        if self.n < 2:
            raise S2KError(f"n must be >= 2, got {self.n}")
        if not self.scales or min(self.scales) < 1:
            raise S2KError(f"scales must be positive integers, got {self.scales}")
        if not 0.0 <= self.noise_min <= self.noise_max:
            raise S2KError(f"need 0 <= noise_min <= noise_max, got {self.noise_min}, {self.noise_max}")
        if self.noise_max > 0 and not 1 <= self.noise_groups <= self.n // 2:
            raise S2KError(f"noise_groups must be in [1, n / 2], got {self.noise_groups}")
        if self.base and self.noise_max <= 0:
            raise S2KError(
                "base keeps a classifier's noise-free part while noisy images are fitted: "
                "it needs noise_max > 0"
            )

    def group_noise(self, group: int) -> float:
        """σ_n of the images of noise group ``group``."""
        return spread_level(self.noise_min, self.noise_max, group, self.noise_groups)


def collect_features(
    config: FamilyFitConfig, progress: bool = True, noisy: bool = False
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Features (``N × 6``) and labels (index in :data:`FAMILIES`) per scale, of noise-free images or
    (``noisy``) of the noise groups'."""
    images = list_images(config.hr_dir)[: config.n]
    if not images:
        raise S2KError(f"no images in {config.hr_dir}")
    if noisy:  # (first image, count, σ_n) per group: the images split as evenly as possible
        cuts = np.linspace(0, len(images), config.noise_groups + 1).round().astype(int)
        groups = [
            (int(a), int(b - a), config.group_noise(g), config.seed + g)
            for g, (a, b) in enumerate(itertools.pairwise(cuts))
        ]
    else:
        groups = [(0, len(images), 0.0, config.seed)]
    feats: dict[int, list[np.ndarray]] = {s: [] for s in config.scales}
    labels: dict[int, list[int]] = {s: [] for s in config.scales}
    total = len(config.scales) * len(FAMILIES) * len(images)
    desc = "family features" + (" (noisy)" if noisy else "")
    with tqdm(total=total, desc=desc, disable=not progress) as bar:
        for start, count, sigma, seed in groups:
            ests = {fam: get_estimator(fam, noise=sigma) for fam in FAMILIES}
            for s in config.scales:
                for label, fam in enumerate(FAMILIES):
                    for item in iter_synthetic_set(config.hr_dir, fam, s, count, seed, sigma, start):
                        raw = {f: ests[f].estimate(item.lr, s) for f in FAMILIES}
                        feats[s].append(family_features(family_fits(raw)))
                        labels[s].append(label)
                        bar.update()
    return (
        {s: np.stack(v) for s, v in feats.items()},
        {s: np.array(v) for s, v in labels.items()},
    )


def _discriminants(
    feats: dict[int, np.ndarray], labels: dict[int, np.ndarray]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[str, float]]:
    """One discriminant per scale (means, precisions) and its accuracy on the features it was fitted to."""
    means, precision, acc = {}, {}, {}
    for s in feats:
        means[s], precision[s] = fit_lda(feats[s], labels[s])
        fitted = FamilyClassifier(means, precision, {})
        pred = [int(np.argmax(fitted.probabilities(f, s))) for f in feats[s]]
        acc[str(s)] = float(np.mean(np.array(pred) == labels[s]))
    return means, precision, acc


def fit_family_classifier(config: FamilyFitConfig, progress: bool = True) -> FamilyClassifier:
    """Collect the features and fit one discriminant per scale (and one for noisy images, module
    docstring); the metadata records the config, the number of samples, the wall time and the accuracy on
    the fitting data itself (of the noisy part: ``noisy_fit_accuracy``; with ``base``, the base's metadata
    under ``base``)."""
    t0 = time.perf_counter()
    meta: dict = {"config": {**asdict(config), "scales": list(config.scales)}}
    if config.base:
        base = load_family_classifier(config.base)
        missing = [s for s in config.scales if s not in base.means]
        if missing:
            raise S2KError(f"{config.base}: no noise-free discriminant for ×{missing[0]}")
        means = {s: base.means[s] for s in config.scales}
        precision = {s: base.precision[s] for s in config.scales}
        stale = stale_estimators(base) if base.meta.get("estimators") else []
        if stale:
            changed = ", ".join(stale)
            raise S2KError(
                f"{config.base} was fitted with other estimators ({changed} changed since): "
                "refit its noise-free part first"
            )
        meta["base"] = {k: v for k, v in base.meta.items() if k not in ("kind", "families", "features")}
    else:
        feats, labels = collect_features(config, progress)
        means, precision, acc = _discriminants(feats, labels)
        meta.update(samples_per_scale={str(s): len(labels[s]) for s in config.scales}, fit_accuracy=acc)
    noisy_means, noisy_precision = {}, {}
    if config.noise_max > 0:
        feats, labels = collect_features(config, progress, noisy=True)
        noisy_means, noisy_precision, acc = _discriminants(feats, labels)
        meta.update(
            noisy_samples_per_scale={str(s): len(labels[s]) for s in config.scales}, noisy_fit_accuracy=acc
        )
    meta["wall_time_s"] = round(time.perf_counter() - t0, 1)
    meta["estimators"] = estimator_fingerprints()  # the files every part now reads its features with
    return FamilyClassifier(means, precision, meta, noisy_means, noisy_precision)
