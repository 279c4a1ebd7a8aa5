"""Noise level from the image (s2k.noise.estimate_noise): known answers, blurred images, bad input, the
parts of the weak-texture method (threshold, eigenvalue tail, patch grid)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image

from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.kernels import gaussian_kernel
from s2k.noise import (
    auto_noise,
    diagonal_band,
    eigen_tail_variance,
    estimate_noise,
    grid_patches,
    texture_threshold,
    weak_texture_noise,
)


def test_diagonal_band_cancels_planes_and_keeps_white_noise_variance():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    np.testing.assert_allclose(diagonal_band(3 * yy - 2 * xx + 7), 0.0, atol=1e-12)
    noise = np.random.default_rng(0).normal(0, 4.0, (512, 512))
    assert diagonal_band(noise).std() == pytest.approx(4.0, rel=0.02)


@pytest.mark.parametrize("method", ["pca", "haar"])
@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_pure_noise_reads_its_level(sigma, method):
    img = 128 + np.random.default_rng(1).normal(0, sigma, (128, 128, 3))
    assert estimate_noise(img, method) == pytest.approx(sigma, rel=0.05)


def test_eigen_tail_variance_known_answers():
    # two signal directions far above a flat noise floor: the floor is the answer
    assert eigen_tail_variance(np.array([400.0, 90.0, 4.0, 4.0, 4.0, 4.0, 4.0])) == pytest.approx(4.0)
    # the sample covariance of pure noise: its eigenvalues spread about σ², the tail's mean stays near σ²
    z = np.random.default_rng(0).normal(0, 3.0, (20000, 49))
    assert eigen_tail_variance(np.linalg.eigvalsh(np.cov(z, rowvar=False))) == pytest.approx(9.0, rel=0.02)
    assert eigen_tail_variance(np.zeros(5)) == 0.0


def test_texture_threshold_matches_white_noise():
    q, kept = texture_threshold(7, 0.99)
    z = np.random.default_rng(3).standard_normal((40000, 7, 7))
    t = (np.diff(z, axis=1) ** 2).sum((1, 2)) + (np.diff(z, axis=2) ** 2).sum((1, 2))
    assert np.mean(t < q) == pytest.approx(0.99, abs=0.003)  # the gamma match of the statistic's law
    assert np.mean(z[t < q] ** 2) == pytest.approx(kept, abs=0.004)  # the variance the kept patches keep
    assert 0.98 < kept < 1.0


def test_grid_patches_are_the_images_patches_and_skip_clipped_ones():
    img = textured_image(90, 70, 1, seed=5)[:, :, 0]
    img[:10, :10] = 255.0
    tex, patches = grid_patches(img, 7, 10**6)  # every position
    ok = [
        (y, x)
        for y in range(84)
        for x in range(64)
        if 0 < img[y : y + 7, x : x + 7].min() and img[y : y + 7, x : x + 7].max() < 255
    ]
    assert patches.shape == (len(ok), 49)
    y, x = ok[100]
    np.testing.assert_array_equal(patches[100], img[y : y + 7, x : x + 7].reshape(-1))
    p = img[y : y + 7, x : x + 7]
    assert tex[100] == pytest.approx((np.diff(p, axis=0) ** 2).sum() + (np.diff(p, axis=1) ** 2).sum())
    few, few_patches = grid_patches(img.astype(np.uint8), 7, 500)  # any dtype; a coarser grid
    assert 0 < len(few) <= 500 and few_patches.dtype == np.float32
    # grid step ceil(sqrt(84·64 / 500)) = 4: on row 0, the windows at x = 0, 4, 8 touch the clipped corner
    np.testing.assert_array_equal(few_patches[0], img[0:7, 12:19].reshape(-1))


def test_weak_texture_reading_leaves_texture_out():
    """Flat ground with noise of σ 3 and a strongly textured half: the weak-texture method reads the noise,
    the flattest-blocks one reads part of the texture too when the flat part is small."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:128, 0:128]
    img = 100 + 40 * np.sin(xx / 1.3) * np.cos(yy / 1.7) * (xx > 12) + rng.normal(0, 3.0, (128, 128))
    assert weak_texture_noise(img, start=estimate_noise(img, "haar")) == pytest.approx(3.0, rel=0.08)
    assert estimate_noise(img) == pytest.approx(3.0, rel=0.08)
    assert estimate_noise(img, "haar") > 3.6  # the flattest blocks' reading: texture taken for noise


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
    with pytest.raises(S2KError, match="method"):
        estimate_noise(img, "median")
    assert auto_noise(np.zeros((20, 20)) + 50, floor=2.0) == (2.0, True)  # too small: the floor, known
    assert auto_noise(np.zeros((20, 20)) + 50, method="haar") == (0.0, False)
    assert auto_noise(img, method="haar")[0] == estimate_noise(img, "haar")


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
