"""PCA codes of blur kernels: the kernel condition of the ``sftmd`` SR backend (as in SRMD / IKC).

Kernels of any odd size up to ``canvas`` are zero-padded, centred, to ``canvas × canvas``
(:func:`s2k.kernels.pad_kernel`), flattened, centred by the pool mean and projected on the leading
principal directions; each component is then divided by its standard deviation over the pool, so the code
entries are O(1) for the network. The basis is fitted on a reproducible pool of s2k's own kernel families
(:func:`fit_kernel_pca`) and travels inside the SR weight file.

Camera-shake (motion) kernels are thin paths and compress badly: :func:`reconstruction_error` reports the
share of a kernel's energy (about the pool mean) that the code keeps, per family, in the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s2k.errors import S2KError
from s2k.kernels import pad_kernel, sample_kernels, validate_kernel


@dataclass(frozen=True)
class KernelPCA:
    """``mean`` (canvas²), ``basis`` (dim × canvas², orthonormal rows), ``scale`` (dim) of a fitted PCA."""

    mean: np.ndarray
    basis: np.ndarray
    scale: np.ndarray
    canvas: int

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def to_canvas(self, kernels: np.ndarray) -> np.ndarray:
        """``(n, k, k)`` or ``(k, k)`` kernels (odd k <= canvas) → ``(n, canvas²)`` flattened, each summing
        to 1; raises S2KError for a kernel larger than the canvas."""
        ks = np.asarray(kernels, dtype=np.float64)
        if ks.ndim == 2:
            ks = ks[None]
        if ks.ndim != 3 or ks.shape[0] == 0:
            raise S2KError(f"expected kernels of shape (n, k, k) or (k, k), got {np.shape(kernels)}")
        if max(ks.shape[1:]) > self.canvas:
            raise S2KError(
                f"a {ks.shape[1]}×{ks.shape[2]} kernel does not fit this model's {self.canvas}×{self.canvas} "
                "kernel canvas"
            )
        out = np.stack([pad_kernel(validate_kernel(k), self.canvas) for k in ks])
        return out.reshape(len(out), -1)

    def encode(self, kernels: np.ndarray) -> np.ndarray:
        """Codes ``(n, dim)`` of ``(n, k, k)`` kernels (or ``(dim,)`` for one ``(k, k)`` kernel)."""
        flat = self.to_canvas(kernels)
        code = (flat - self.mean) @ self.basis.T / self.scale
        return code[0] if np.ndim(kernels) == 2 else code

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Kernels ``(n, canvas, canvas)`` back from codes (the PCA reconstruction; not renormalised)."""
        c = np.atleast_2d(codes)
        flat = (c * self.scale) @ self.basis + self.mean
        return flat.reshape(len(c), self.canvas, self.canvas)


def kernel_pool(families: Sequence[str], per_family: int, seed: int) -> list[np.ndarray]:
    """A reproducible pool: ``per_family`` kernels of each family (seed ``seed + i`` for the i-th)."""
    return [sample_kernels(f, per_family, seed + i) for i, f in enumerate(families)]


def fit_kernel_pca(kernels: Sequence[np.ndarray], dim: int, canvas: int) -> KernelPCA:
    """Fit a :class:`KernelPCA` of ``dim`` components on a pool of kernel stacks (one stack per family;
    each stack gets equal weight whatever its size)."""
    if dim < 1:
        raise S2KError(f"dim must be >= 1, got {dim}")
    probe = KernelPCA(np.zeros(canvas * canvas), np.zeros((0, canvas * canvas)), np.ones(0), canvas)
    stacks = [probe.to_canvas(k) for k in kernels]
    weights = np.concatenate([np.full(len(s), 1.0 / len(s)) for s in stacks])
    x = np.concatenate(stacks)
    weights /= weights.sum()
    mean = weights @ x
    xc = (x - mean) * np.sqrt(weights)[:, None]
    _, sv, vt = np.linalg.svd(xc, full_matrices=False)
    if dim > len(sv):
        raise S2KError(f"dim {dim} exceeds the pool's rank bound {len(sv)}")
    basis = vt[:dim]
    scale = np.maximum(sv[:dim], 1e-12)  # weighted std of each component over the pool
    return KernelPCA(mean, basis, scale, canvas)


def reconstruction_error(pca: KernelPCA, kernels: np.ndarray) -> float:
    """Mean share of the kernels' energy about the pool mean that the code loses (0 = exact)."""
    flat = pca.to_canvas(kernels)
    rec = pca.decode(pca.encode(kernels)).reshape(len(flat), -1)
    lost = np.sum((rec - flat) ** 2, axis=1)
    total = np.maximum(np.sum((flat - pca.mean) ** 2, axis=1), 1e-30)
    return float(np.mean(lost / total))
