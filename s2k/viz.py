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
    save_grid_figure(path, [panels], title)


def save_grid_figure(
    path: str | Path, rows: Sequence[Sequence[tuple[str, np.ndarray, str]]], title: str | None = None
) -> None:
    """A grid of panels, one row per entry of ``rows`` (see :func:`save_panel_figure`); short rows leave
    blank cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3.2 * ncol, 3.4 * len(rows) + 0.2), squeeze=False)
    for r, panels in enumerate(rows):
        for c in range(ncol):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(panels):
                continue
            caption, data, kind = panels[c]
            data = np.asarray(data)
            if kind == "kernel":
                ax.imshow(data, cmap="inferno", interpolation="nearest")
            elif kind == "spectrum":
                ax.imshow(np.clip(data, -3, 3), cmap="gray")
            else:
                img = np.clip(data, 0, 255).astype(np.uint8)
                ax.imshow(img[:, :, 0] if img.ndim == 3 and img.shape[2] == 1 else img[..., :3], cmap="gray")
            ax.set_title(caption, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)
