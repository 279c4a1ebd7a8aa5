"""Shared test fixtures: small synthetic images (tests never read ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

# One thread: tiny tensors gain nothing from more, and OpenMP threads that spin against other busy
# processes (a training run beside the tests) can slow small ops down a hundredfold.
torch.set_num_threads(1)


def textured_image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A deterministic natural-looking test image in 0..255 (smooth shapes + edges + fine texture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.zeros((h, w))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.4) * min(h, w)
        base += rng.uniform(-60, 60) * ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2)
    base += 30 * np.sin(xx / rng.uniform(2, 6)) * np.cos(yy / rng.uniform(2, 6))
    base += rng.normal(0, 8, size=(h, w))
    out = np.stack([base + rng.uniform(-20, 20) for _ in range(channels)], axis=-1) + 128
    return np.clip(np.round(out), 0, 255)


@pytest.fixture
def rgb_image() -> np.ndarray:
    return textured_image(61, 47, 3, seed=1)


@pytest.fixture
def grey_image() -> np.ndarray:
    return textured_image(40, 52, 1, seed=2)[:, :, 0]


@pytest.fixture
def image_folder(tmp_path):
    """Four 96×128 textured RGB images in ``tmp_path / "hr"`` (a tiny training folder)."""
    from s2k.io import write_image

    folder = tmp_path / "hr"
    for i in range(4):
        write_image(folder / f"im{i}.png", textured_image(96, 128, 3, seed=10 + i))
    return folder
