from __future__ import annotations

import numpy as np
import pytest

from s2k.kernels import flip180, gaussian_kernel, pad_kernel
from s2k.metrics import kernel_ds, kernel_dv, kernel_errors, psnr_y, ssim_y


def test_psnr_hand_computed():
    a = np.full((20, 30), 100.0)
    b = a + 10.0
    # grey → Y = 16 + v·219/255, so the Y difference is 10·219/255
    expected = 10 * np.log10(255.0**2 / (10 * 219 / 255) ** 2)
    assert psnr_y(a, b) == pytest.approx(expected, abs=1e-9)
    # the same picture as RGB gives the same number
    assert psnr_y(np.dstack([a] * 3), np.dstack([b] * 3)) == pytest.approx(expected, abs=1e-9)


def test_psnr_rgb_y_weights():
    a = np.zeros((8, 8, 3))
    b = a.copy()
    b[:, :, 1] = 51.0  # only green differs: ΔY = 128.553 · 51 / 255
    expected = 10 * np.log10(255.0**2 / (128.553 * 51 / 255) ** 2)
    assert psnr_y(a, b) == pytest.approx(expected, abs=1e-9)


def test_shave_removes_border():
    a = np.full((16, 16), 50.0)
    b = a.copy()
    b[:2, :] = 0
    assert psnr_y(a, b, shave=2) == float("inf")
    assert psnr_y(a, b, shave=1) < 40


def test_ssim_hand_computed_constant_images():
    a, b = np.full((32, 32), 60.0), np.full((32, 32), 120.0)
    ya, yb = 16 + 60 * 219 / 255, 16 + 120 * 219 / 255
    c1 = (0.01 * 255) ** 2
    expected = (2 * ya * yb + c1) / (ya**2 + yb**2 + c1)  # σ = 0: only the luminance term remains
    assert ssim_y(a, b) == pytest.approx(expected, abs=1e-9)
    assert ssim_y(a, a) == pytest.approx(1.0)


def test_ssim_window_is_11x11_gaussian():
    """A single changed pixel affects SSIM only through the 11×11 windows that contain it."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (64, 64))
    b = a.copy()
    b[32, 32] += 40
    full = ssim_y(a, b)
    far = b.copy()
    far[32, 32] = a[32, 32]
    assert full < 1 and ssim_y(a, far) == 1.0


def test_kernel_errors_zero_for_identical_and_symmetric():
    k15 = gaussian_kernel(15, 2.0, 1.2, 0.4)
    k23 = gaussian_kernel(23, 1.5, 2.5, 1.0)
    assert kernel_dv(k15, k15) == 0 and kernel_ds(k15, k15) == pytest.approx(0, abs=1e-12)
    assert kernel_dv(k15, k23) == pytest.approx(kernel_dv(k23, k15))
    assert kernel_dv(k15, k23) == pytest.approx(kernel_dv(pad_kernel(k15, 23), k23))
    assert kernel_ds(k15, k23) == pytest.approx(kernel_ds(pad_kernel(k15, 23), k23))
    # a padded copy of the same kernel is the same kernel
    assert kernel_dv(k15, pad_kernel(k15, 23)) == pytest.approx(0, abs=1e-15)


def test_kernel_dv_hand_computed():
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[1, 1] = 1
    b[1, 0] = b[1, 2] = 0.5
    assert kernel_dv(a, b) == pytest.approx(2.0 / 9)


def test_kernel_errors_up_to_flip():
    k = np.zeros((5, 5))
    k[2, 2], k[2, 3], k[1, 4] = 0.5, 0.3, 0.2
    e = kernel_errors(flip180(k), k)
    assert e.dv > 0 and e.ds > 0
    assert e.dv_flip == 0 and e.ds_flip == pytest.approx(0, abs=1e-12)
