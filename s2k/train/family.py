"""Fitting the family classifier of ``family="auto"`` (:mod:`s2k.family`).

For every scale and family, the first ``n`` images of an HR folder are degraded with the foundation's
samplers (:func:`s2k.data.iter_synthetic_set`, seed ``seed``: random kernels of the paper's ranges, the
degradation formula, 8-bit rounding), the three shipped estimators are run on each LR image and the six
fit residuals (:func:`s2k.family.family_features`) are collected; a linear discriminant per scale is
fitted to them (:func:`s2k.family.fit_lda`). Closed form, no iterations: minutes on a CPU, dominated by
the estimates. The training folder must not hold the benchmark's images (the shipped classifier is fitted
on BSDS500 train, the estimators' own training pool; BSD100 and Urban100 stay held out).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from s2k.data import iter_synthetic_set, list_images
from s2k.errors import S2KError
from s2k.estimate import get_estimator
from s2k.family import FamilyClassifier, family_features, family_fits, fit_lda
from s2k.kernels import FAMILIES


@dataclass(frozen=True)
class FamilyFitConfig:
    """Data of the family classifier's fit."""

    hr_dir: str = "../shared/data/train/BSDS500_train"
    n: int = 100  # first N images of hr_dir, each degraded once per family and scale
    seed: int = 1  # kernel / noise seed of the synthetic LR images (the benchmarks use 0)
    scales: tuple[int, ...] = (2, 3, 4)

    def __post_init__(self) -> None:
        if self.n < 2:
            raise S2KError(f"n must be >= 2, got {self.n}")
        if not self.scales or min(self.scales) < 1:
            raise S2KError(f"scales must be positive integers, got {self.scales}")


def collect_features(
    config: FamilyFitConfig, progress: bool = True
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Features (``N × 6``) and labels (index in :data:`FAMILIES`) per scale."""
    if not list_images(config.hr_dir):
        raise S2KError(f"no images in {config.hr_dir}")
    ests = {fam: get_estimator(fam) for fam in FAMILIES}
    feats: dict[int, list[np.ndarray]] = {s: [] for s in config.scales}
    labels: dict[int, list[int]] = {s: [] for s in config.scales}
    total = len(config.scales) * len(FAMILIES) * len(list_images(config.hr_dir)[: config.n])
    with tqdm(total=total, desc="family features", disable=not progress) as bar:
        for s in config.scales:
            for label, fam in enumerate(FAMILIES):
                for item in iter_synthetic_set(config.hr_dir, fam, s, config.n, config.seed):
                    raw = {f: ests[f].estimate(item.lr, s) for f in FAMILIES}
                    feats[s].append(family_features(family_fits(raw)))
                    labels[s].append(label)
                    bar.update()
    return (
        {s: np.stack(v) for s, v in feats.items()},
        {s: np.array(v) for s, v in labels.items()},
    )


def fit_family_classifier(config: FamilyFitConfig, progress: bool = True) -> FamilyClassifier:
    """Collect the features and fit one discriminant per scale; the metadata records the config, the
    number of samples, the wall time and the accuracy on the fitting data itself."""
    t0 = time.perf_counter()
    feats, labels = collect_features(config, progress)
    means, precision, train_acc = {}, {}, {}
    for s in config.scales:
        means[s], precision[s] = fit_lda(feats[s], labels[s])
    clf = FamilyClassifier(means, precision, {})
    for s in config.scales:
        pred = [int(np.argmax(clf.probabilities(f, s))) for f in feats[s]]
        train_acc[str(s)] = float(np.mean(np.array(pred) == labels[s]))
    meta = {
        "config": {**asdict(config), "scales": list(config.scales)},
        "samples_per_scale": {str(s): len(labels[s]) for s in config.scales},
        "fit_accuracy": train_acc,
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    return FamilyClassifier(means, precision, meta)
