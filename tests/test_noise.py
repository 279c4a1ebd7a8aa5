"""Noise level from the image (s2k.noise.estimate_noise): known answers, blurred images, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image

from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.kernels import gaussian_kernel
from s2k.noise import diagonal_band, estimate_noise


def test_diagonal_band_cancels_planes_and_keeps_white_noise_variance():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    np.testing.assert_allclose(diagonal_band(3 * yy - 2 * xx + 7), 0.0, atol=1e-12)
    noise = np.random.default_rng(0).normal(0, 4.0, (512, 512))
    assert diagonal_band(noise).std() == pytest.approx(4.0, rel=0.02)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_pure_noise_reads_its_level(sigma):
    img = 128 + np.random.default_rng(1).normal(0, sigma, (128, 128, 3))
    assert estimate_noise(img) == pytest.approx(sigma, rel=0.1)


def test_blurred_photo_like_image_with_and_without_noise():
    hr = textured_image(256, 256, 3, seed=3)
    k = gaussian_kernel(15, 2.0, 2.0, 0.0)
    clean = degrade(hr, k, 2, rng=0)
    noisy = degrade(hr, k, 2, noise=8.0, rng=0)
    assert estimate_noise(clean) < 1.5
    assert estimate_noise(noisy) == pytest.approx(8.0, rel=0.2)


def test_constant_grey_alpha_and_bad_input():
    assert estimate_noise(np.full((64, 64), 100.0)) == 0.0
    img = 128 + np.random.default_rng(2).normal(0, 5.0, (96, 96, 3))
    rgba = np.concatenate([img, np.full((96, 96, 1), 255.0)], axis=2)
    assert estimate_noise(rgba) == estimate_noise(img)
    with pytest.raises(S2KError, match="too few unsaturated"):
        estimate_noise(np.full((64, 64, 3), 255.0))  # every block clipped
    with pytest.raises(S2KError, match="too few unsaturated"):
        estimate_noise(np.zeros((20, 20)) + 50)  # 4 blocks
    with pytest.raises(S2KError, match="finite"):
        estimate_noise(np.full((64, 64), np.nan))
    with pytest.raises(S2KError, match="patch"):
        estimate_noise(img, patch=5)


def test_jpeg_floor_from_the_files_table(tmp_path):
    from PIL import Image

    from s2k.io import jpeg_luma_quantization, write_image
    from s2k.noise import JPEG_FLOOR_GAIN, jpeg_noise_floor

    assert jpeg_noise_floor(np.ones(64)) == pytest.approx(JPEG_FLOOR_GAIN / np.sqrt(12))
    img = textured_image(64, 64, 3, seed=4).astype(np.uint8)
    floors = []
    for q in (50, 90):
        Image.fromarray(img).save(tmp_path / f"q{q}.jpg", quality=q)
        steps = jpeg_luma_quantization(tmp_path / f"q{q}.jpg")
        assert steps is not None and steps.shape == (64,)
        floors.append(jpeg_noise_floor(steps))
    assert floors[0] > floors[1] > 0  # coarser steps, higher floor
    write_image(tmp_path / "a.png", img)
    assert jpeg_luma_quantization(tmp_path / "a.png") is None
    with pytest.raises(S2KError):
        jpeg_noise_floor(np.zeros(64))
