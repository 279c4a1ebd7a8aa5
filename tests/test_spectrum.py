from __future__ import annotations

import numpy as np
import pytest
import torch

from s2k.spectrum import spectrum_feature, spectrum_feature_torch, tile_starts


def gaussian_blurred_noise(h: int, w: int, sigma: float, seed: int = 0) -> np.ndarray:
    """White noise filtered (circularly) by a Gaussian of std ``sigma`` px: known power spectrum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (h, w))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    tf = np.exp(-2 * np.pi**2 * sigma**2 * (fx**2 + fy**2))
    y = np.real(np.fft.ifft2(np.fft.fft2(x) * tf))
    return 128 + 40 * y / y.std()


def test_shape_dtype_standardised_deterministic():
    img = gaussian_blurred_noise(300, 200, 1.0)
    a, b = spectrum_feature(img), spectrum_feature(img)
    assert a.shape == (256, 256) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert abs(float(a.mean())) < 1e-4 and abs(float(a.std()) - 1) < 1e-3


@pytest.mark.parametrize("shape", [(120, 80), (17, 33), (1024, 1024), (700, 90)])
def test_any_size(shape):
    out = spectrum_feature(
        np.full((*shape, 3), 100.0) + np.random.default_rng(0).normal(0, 5, (*shape, 3)), size=64
    )
    assert out.shape == (64, 64) and np.all(np.isfinite(out))


def test_known_answer_gaussian_transfer_function():
    """Blurred white noise: the feature is an affine map of log|K(f)|², on the same frequency grid for
    every image size (same slope), and cleaner for larger images (Welch averaging)."""
    sigma = 1.5
    u = (np.arange(128) - 64) / 128
    expected = -4 * np.pi**2 * sigma**2 * (u[:, None] ** 2 + u[None, :] ** 2)  # log |K(f)|²
    mask = expected > np.log(1e-4)  # above the 8-bit / numerical floor
    fits = {}
    for shape, min_corr in [((90, 120), 0.85), ((512, 400), 0.99)]:
        f = spectrum_feature(gaussian_blurred_noise(*shape, sigma, seed=1), size=128)
        assert np.corrcoef(f[mask], expected[mask])[0, 1] > min_corr
        fits[shape] = np.polyfit(expected[mask], f[mask], 1)[0]
    assert fits[(90, 120)] == pytest.approx(fits[(512, 400)], rel=0.1)


def test_wider_blur_gives_faster_decay():
    u = (np.arange(256) - 128) / 256
    r = np.sqrt(u[:, None] ** 2 + u[None, :] ** 2)
    inner, ring = (r > 0.01) & (r < 0.04), (r > 0.1) & (r < 0.13)

    def decay(sigma: float) -> float:
        f = spectrum_feature(gaussian_blurred_noise(256, 256, sigma, seed=2))
        return float(f[inner].mean() - f[ring].mean())

    assert decay(2.0) > decay(1.2) > decay(0.6) > 0


def test_grey_equals_replicated_rgb_and_batch_equals_single():
    img = gaussian_blurred_noise(100, 140, 1.0)
    np.testing.assert_allclose(
        spectrum_feature(img), spectrum_feature(np.repeat(img[:, :, None], 3, axis=2)), atol=5e-3
    )
    imgs = np.stack([img, img[::-1].copy()])
    batch = spectrum_feature_torch(torch.from_numpy(imgs[:, None]).float(), size=128)
    assert batch.shape == (2, 1, 128, 128)
    np.testing.assert_allclose(batch[1, 0].numpy(), spectrum_feature(imgs[1], size=128), atol=1e-5)


def test_tile_starts_cover_the_axis():
    assert tile_starts(80, 256) == [0]
    assert tile_starts(512, 256) == [0, 128, 256]
    s = tile_starts(4000, 256, max_tiles=8)
    assert len(s) == 8 and s[0] == 0 and s[-1] == 4000 - 256
    assert tile_starts(4000, 256, max_tiles=1) == [0]
