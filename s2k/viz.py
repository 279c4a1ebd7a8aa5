"""Pictures of kernels and spectra for people to look at (PNG), and the demo figure.

Kernels are shown magnified with nearest-neighbour pixels and scaled so the largest weight is white;
spectra are the standardised log-power map of :mod:`s2k.spectrum`, clipped to ±3 standard deviations.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from s2k.io import atomic_write, write_image


def kernel_image(k: np.ndarray, zoom: int = 16) -> np.ndarray:
    """A kernel as an 8-bit grey picture: ``k / max(k)`` to 0..255, each weight a ``zoom × zoom`` block."""
    k = np.asarray(k, dtype=np.float64)
    peak = k.max()
    img = k / peak * 255.0 if peak > 0 else np.zeros_like(k)
    return np.kron(img, np.ones((zoom, zoom)))


def spectrum_image(spec: np.ndarray) -> np.ndarray:
    """A standardised spectrum map as an 8-bit grey picture (−3σ → 0, +3σ → 255)."""
    return (np.clip(np.asarray(spec, dtype=np.float64), -3.0, 3.0) + 3.0) * (255.0 / 6.0)


def save_kernel_png(path: str | Path, k: np.ndarray, zoom: int = 16) -> None:
    """Write :func:`kernel_image` of ``k`` to ``path`` (atomically)."""
    write_image(path, kernel_image(k, zoom))


def save_spectrum_png(path: str | Path, spec: np.ndarray) -> None:
    """Write :func:`spectrum_image` of ``spec`` to ``path`` (atomically)."""
    write_image(path, spectrum_image(spec))


def save_panel_figure(
    path: str | Path, panels: Sequence[tuple[str, np.ndarray, str]], title: str | None = None
) -> None:
    """A one-row matplotlib figure of ``(caption, image, kind)`` panels, ``kind`` in image/kernel/spectrum.

    Images are 0..255 (grey or RGB), kernels are shown with their own colour scale, spectra as maps.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
    for ax, (caption, data, kind) in zip(axes[0], panels, strict=True):
        data = np.asarray(data)
        if kind == "kernel":
            ax.imshow(data, cmap="inferno", interpolation="nearest")
        elif kind == "spectrum":
            ax.imshow(np.clip(data, -3, 3), cmap="gray")
        else:
            img = np.clip(data, 0, 255).astype(np.uint8)
            ax.imshow(img[:, :, 0] if img.ndim == 3 and img.shape[2] == 1 else img[..., :3], cmap="gray")
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)
