"""Automatic choice of the kernel family (``family="auto"``), with a probability for each family.

s2k has one estimator per family (Gaussian, motion, disk). To choose among them without being told, each
estimator is run on the LR image and each of its three kernels is projected onto the two parametric
families (:func:`s2k.kernel_fit.fit_kernel`). The six relative residuals say how much each estimator's
answer looks like a Gaussian and like a disk: the Gaussian estimator answers a motion-blurred image with a
kernel far from any Gaussian, the motion estimator answers a Gaussian- or disk-blurred image with a
compact blob, the disk estimator's answer fits a disk best when the blur is a disk, and so on. Their logs
are the features (:func:`family_features`) of a linear discriminant (one per scale: class means and a
pooled covariance, equal priors), fitted on synthetic LR images of the training pool
(:func:`fit_family_classifier`) and shipped as ``s2k/weights/family.safetensors`` with a model card.
Noise moves every feature, so an image told a noise level σ_n ≥ :data:`s2k.estimate.NOISY_LEVEL` is read
by the estimators a noisy image gets and judged by a second discriminant per scale, fitted on noisy images.

:func:`choose_family` returns the family with the highest posterior probability, the probabilities (a
confidence that can be shown to users; they are the discriminant's, calibrated only as far as its
Gaussian class model holds) and each family's final kernel (flip resolved, family fitted, as
:func:`s2k.estimate_kernel` returns it), so choosing costs the three estimates and nothing more.
Accuracy: ``docs/ESTIMATOR.md`` ("Choosing the family").
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from s2k.checkpoint import WEIGHTS_DIR, read_weight_metadata
from s2k.degradation import check_scale
from s2k.errors import S2KError
from s2k.io import atomic_write
from s2k.kernel_fit import PARAMETRIC_FAMILIES, KernelFit, fit_kernel
from s2k.kernels import FAMILIES

KIND = "s2k-family-classifier"
#: Feature names: ``<fitted family>|<estimator family>`` (log of the fit's relative residual).
FEATURE_NAMES: tuple[str, ...] = tuple(f"{p}|{e}" for e in FAMILIES for p in PARAMETRIC_FAMILIES)
_EPS = 1e-4  # added to the residuals before the log (a perfect fit must not give −inf)


def default_weights() -> Path:
    return WEIGHTS_DIR / "family.safetensors"


def estimator_fingerprints(weights_dir: str | Path | None = None) -> dict[str, str]:
    """SHA-256 of the weights (tensor names and values; not the metadata, so a rewritten model card does not
    count) of each estimator file the features can be read with (``estimator-<family>`` and, where one
    exists, ``estimator-<family>-noisy``), by file name. :func:`s2k.train.family.fit_family_classifier`
    stores them in the classifier's metadata (``estimators``), so a classifier can be checked against the
    estimators it is used with (:func:`stale_estimators`): refit it whenever one of them changes."""
    from s2k.estimate import default_weights as estimator_file  # the estimator files' names live there

    folder = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    out = {}
    for fam in FAMILIES:
        for noisy in (False, True):
            path = folder / estimator_file(fam, noisy).name
            if path.is_file():
                out[path.name] = _tensor_digest(path)
    return out


def _tensor_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with safe_open(str(path), framework="pt") as f:
        for key in sorted(f.keys()):
            digest.update(key.encode())
            digest.update(f.get_tensor(key).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def stale_estimators(classifier: FamilyClassifier, weights_dir: str | Path | None = None) -> list[str]:
    """The estimator files whose contents differ from those ``classifier`` was fitted with (or that it has
    no record of, or that are missing now): empty when the classifier matches the estimators."""
    fitted = classifier.meta.get("estimators") or {}
    now = estimator_fingerprints(weights_dir)
    return sorted(name for name in set(fitted) | set(now) if fitted.get(name) != now.get(name))


def family_fits(raw_kernels: dict[str, np.ndarray]) -> dict[str, KernelFit]:
    """The nearest Gaussian and disk to each estimator's raw kernel (before the family fit and the flip
    resolution; the flip does not change a fit's residual), keyed like :data:`FEATURE_NAMES`."""
    return {
        f"{fam}|{est}": fit_kernel(raw_kernels[est], fam) for est in FAMILIES for fam in PARAMETRIC_FAMILIES
    }


def family_features(fits: dict[str, KernelFit]) -> np.ndarray:
    """The six features (:data:`FEATURE_NAMES`): the logs of the fits' relative residuals."""
    return np.array([np.log(fits[name].residual + _EPS) for name in FEATURE_NAMES])


@dataclass(frozen=True)
class FamilyClassifier:
    """Linear discriminant per scale: ``means[s]`` (3 × 6, rows in the order of :data:`FAMILIES`) and
    ``precision[s]`` (6 × 6, the inverse of the pooled within-class covariance), fitted on noise-free
    images; ``noisy_means`` / ``noisy_precision`` the same fitted on noisy images (features from the
    estimators a noisy image gets, :func:`s2k.estimate.get_estimator` with its noise level), for the
    scales that have them."""

    means: dict[int, np.ndarray]
    precision: dict[int, np.ndarray]
    meta: dict
    noisy_means: dict[int, np.ndarray] = field(default_factory=dict)
    noisy_precision: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(sorted(self.means))

    def probabilities(self, features: np.ndarray, scale: int, noisy: bool = False) -> np.ndarray:
        """Posterior probability of each family (order of :data:`FAMILIES`), equal priors; ``noisy``: by
        the discriminant fitted on noisy images where the scale has one (else the noise-free one)."""
        if scale not in self.means:
            shown = ", ".join(f"×{s}" for s in self.scales)
            raise S2KError(f"the family classifier is fitted for {shown}, not ×{scale}")
        use_noisy = noisy and scale in self.noisy_means
        means = (self.noisy_means if use_noisy else self.means)[scale]
        precision = (self.noisy_precision if use_noisy else self.precision)[scale]
        d = features[None, :] - means
        score = -0.5 * np.einsum("ij,jk,ik->i", d, precision, d)
        p = np.exp(score - score.max())
        return p / p.sum()

    def save(self, path: str | Path) -> None:
        tensors = {}
        parts = {
            "means": self.means,
            "precision": self.precision,
            "noisy_means": self.noisy_means,
            "noisy_precision": self.noisy_precision,
        }
        for what, by_scale in parts.items():
            for s, arr in by_scale.items():
                # copies: safetensors refuses tensors that share memory (one array used for two scales)
                tensors[f"x{s}.{what}"] = torch.tensor(np.array(arr, dtype=np.float64, order="C"))
        meta = {**self.meta, "kind": KIND, "families": list(FAMILIES), "features": list(FEATURE_NAMES)}
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"s2k": json.dumps(meta)}))


def load_family_classifier(path: str | Path) -> FamilyClassifier:
    """Read a classifier written by :meth:`FamilyClassifier.save` (safetensors; nothing is unpickled)."""
    meta = read_weight_metadata(path, KIND)
    if list(meta.get("families", [])) != list(FAMILIES) or list(meta.get("features", [])) != list(
        FEATURE_NAMES
    ):
        raise S2KError(f"{path}: family classifier for other families or features")
    parts: dict[str, dict[int, np.ndarray]] = {
        "means": {},
        "precision": {},
        "noisy_means": {},
        "noisy_precision": {},
    }
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            scale, what = key.split(".")
            if what not in parts:
                raise S2KError(f"{path}: unknown tensor {key} in a family classifier")
            parts[what][int(scale[1:])] = f.get_tensor(key).double().numpy()
    if set(parts["noisy_means"]) != set(parts["noisy_precision"]):
        raise S2KError(f"{path}: noisy discriminants without their means or precision")
    return FamilyClassifier(
        parts["means"], parts["precision"], meta, parts["noisy_means"], parts["noisy_precision"]
    )


@functools.lru_cache(maxsize=1)
def _shipped() -> FamilyClassifier:
    path = default_weights()
    if not path.is_file():
        raise S2KError(f"no shipped family classifier ({path.name} is missing)")
    return load_family_classifier(path)


def fit_lda(features: np.ndarray, labels: np.ndarray, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Class means (3 × F) and the inverse pooled within-class covariance (F × F) of labelled features."""
    n_cls = len(FAMILIES)
    if any((labels == c).sum() < 2 for c in range(n_cls)):
        raise S2KError("each family needs at least two samples to fit the classifier")
    means = np.stack([features[labels == c].mean(axis=0) for c in range(n_cls)])
    resid = features - means[labels]
    cov = resid.T @ resid / (len(features) - n_cls) + ridge * np.eye(features.shape[1])
    return means, np.linalg.inv(cov)


@dataclass(frozen=True)
class FamilyChoice:
    """The chosen family, the probability of every family and every family's final kernel."""

    family: str
    probabilities: dict[str, float]
    kernels: dict[str, np.ndarray]

    @property
    def kernel(self) -> np.ndarray:
        return self.kernels[self.family]

    def describe(self) -> str:
        """e.g. ``motion (auto: gaussian 2 %, motion 97 %, disk 1 %)``."""
        parts = ", ".join(f"{f} {100 * p:.0f} %" for f, p in self.probabilities.items())
        return f"{self.family} (auto: {parts})"


def choose_family(
    image: np.ndarray,
    scale: int,
    classifier: FamilyClassifier | str | Path | None = None,
    *,
    noise: float = 0.0,
    resolve_flip: bool = True,
    fit_family: bool = True,
) -> FamilyChoice:
    """Estimate the kernel with every family's shipped estimator and choose the family (module
    docstring). ``classifier``: the shipped one (None), another one or its file. ``noise``: the image's
    noise level σ_n (0..255), as :func:`s2k.estimate_kernel` takes it: each family's estimate is the one a
    noisy image gets there (noise-trained models, disk radii), and from
    :data:`s2k.estimate.NOISY_LEVEL` on the family is chosen by the discriminant fitted on noisy images
    where the classifier has one. ``resolve_flip`` and ``fit_family`` apply to the returned kernels as in
    :func:`s2k.estimate_kernel`."""
    from s2k.estimate import NOISY_LEVEL, check_image_for_estimation, finalize_kernel, get_estimator
    from s2k.noise import check_noise_level

    scale = check_scale(scale)
    arr = check_image_for_estimation(image)
    noise = check_noise_level(noise)
    if classifier is None:
        clf = _shipped()
    elif isinstance(classifier, FamilyClassifier):
        clf = classifier
    else:
        clf = load_family_classifier(classifier)
    raw = {fam: get_estimator(fam, noise=noise).estimate(arr, scale) for fam in FAMILIES}
    fits = family_fits(raw)
    probs = clf.probabilities(family_features(fits), scale, noisy=noise >= NOISY_LEVEL)
    family = FAMILIES[int(np.argmax(probs))]
    kernels = {
        fam: finalize_kernel(
            arr, raw[fam], scale, fam, resolve_flip, fit_family, fits.get(f"{fam}|{fam}"), noise=noise
        )
        for fam in FAMILIES
    }
    return FamilyChoice(family, {f: float(p) for f, p in zip(FAMILIES, probs, strict=True)}, kernels)
