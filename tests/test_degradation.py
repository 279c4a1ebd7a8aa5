from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from s2k.degradation import blur_downsample_torch, check_scale, degrade, degrade_torch, symmetric_pad_indices
from s2k.errors import S2KError
from s2k.kernels import gaussian_kernel, sample_kernel


def scipy_reference(hr: np.ndarray, k: np.ndarray, s: int) -> np.ndarray:
    """The convention as stated in the method page: scipy reflect convolution, then [0::s, 0::s]."""
    hr = hr.astype(np.float64)
    if hr.ndim == 2:
        out = ndi.convolve(hr, k, mode="reflect")
    else:
        out = np.stack([ndi.convolve(hr[:, :, c], k, mode="reflect") for c in range(hr.shape[2])], -1)
    return np.round(np.clip(out[::s, ::s], 0, 255))


def test_delta_kernel_is_pure_subsampling(rgb_image):
    delta = np.zeros((15, 15))
    delta[7, 7] = 1
    for s in (1, 2, 3, 4):
        np.testing.assert_array_equal(degrade(rgb_image, delta, s), rgb_image[::s, ::s])


@pytest.mark.parametrize("family", ["gaussian", "motion", "disk"])
@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_matches_scipy_reflect_convolution(rgb_image, family, s):
    k = sample_kernel(family, np.random.default_rng(s))
    lr = degrade(rgb_image, k, s)
    ref = scipy_reference(rgb_image, k, s)
    assert lr.shape == ref.shape == (-(-61 // s), -(-47 // s), 3)
    assert np.max(np.abs(lr - ref)) <= 1  # same numbers up to float ties at .5
    assert np.mean(lr != ref) < 1e-3


def test_true_convolution_not_correlation(grey_image):
    k = np.zeros((5, 5))
    k[2, 2], k[2, 4] = 0.5, 0.5  # asymmetric: mass to the right of the centre
    lr = degrade(grey_image, k, 1)
    # (x ⊛ k)(i, j) = 0.5 x(i, j) + 0.5 x(i, j - 2): a true convolution takes the pixel on the left
    expect = np.round(0.5 * grey_image[:, 2:] + 0.5 * grey_image[:, :-2])
    np.testing.assert_array_equal(lr[:, 2:], expect)
    np.testing.assert_array_equal(lr, scipy_reference(grey_image, k, 1))


def test_kernel_larger_than_image_reflects_repeatedly():
    hr = np.arange(7 * 5, dtype=np.float64).reshape(7, 5) * 7 % 256
    k = gaussian_kernel(15, 3.0, 1.5, 0.3)
    np.testing.assert_array_equal(degrade(hr, k, 2), scipy_reference(hr, k, 2))


def test_symmetric_pad_indices_is_half_sample_reflection():
    idx = symmetric_pad_indices(4, 3, 5).tolist()
    assert idx == [2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]


def test_torch_batch_matches_numpy(rgb_image):
    rng = np.random.default_rng(0)
    ks = np.stack([sample_kernel("gaussian", rng) for _ in range(2)])
    hrs = np.stack([rgb_image, rgb_image[::-1].copy()])
    batch = torch.from_numpy(hrs.transpose(0, 3, 1, 2).copy())
    out64 = degrade_torch(batch, torch.from_numpy(ks), 3).numpy().transpose(0, 2, 3, 1)
    out32 = degrade_torch(batch.float(), torch.from_numpy(ks), 3).numpy().transpose(0, 2, 3, 1)
    for i in range(2):
        ref = degrade(hrs[i], ks[i], 3)
        np.testing.assert_array_equal(out64[i], ref)
        assert np.max(np.abs(out32[i] - ref)) <= 1


def test_unquantized_torch_equals_scipy_float(grey_image):
    k = sample_kernel("motion", np.random.default_rng(3))
    x = torch.from_numpy(grey_image[None, None].astype(np.float64))
    out = blur_downsample_torch(x, torch.from_numpy(k), 2)[0, 0].numpy()
    ref = ndi.convolve(grey_image.astype(np.float64), k, mode="reflect")[::2, ::2]
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_noise_level_and_reproducibility():
    hr = np.full((200, 200), 128.0)
    k = gaussian_kernel(15, 2.0, 2.0, 0.0)
    a = degrade(hr, k, 2, noise=10.0, rng=5, quantize=False)
    b = degrade(hr, k, 2, noise=10.0, rng=5, quantize=False)
    np.testing.assert_array_equal(a, b)
    assert abs(np.std(a - 128.0) - 10.0) < 0.5
    q = degrade(hr, k, 2, noise=10.0, rng=5)
    assert q.min() >= 0 and q.max() <= 255 and np.all(q == np.round(q))


def test_grey_stays_2d(grey_image):
    k = gaussian_kernel(15, 1.0, 1.0, 0.0)
    assert degrade(grey_image, k, 2).shape == (20, 26)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True, None])
def test_bad_scale(bad, grey_image):
    with pytest.raises(S2KError):
        check_scale(bad)
    with pytest.raises(S2KError):
        degrade(grey_image, gaussian_kernel(15, 1.0, 1.0, 0.0), bad)


def test_bad_kernel_and_noise(grey_image):
    with pytest.raises(S2KError):
        degrade(grey_image, np.ones((4, 4)), 2)  # even size
    with pytest.raises(S2KError):
        degrade(grey_image, -np.ones((3, 3)), 2)
    with pytest.raises(S2KError):
        degrade(grey_image, np.ones((3, 3)), 2, noise=-1.0)


def test_as_batch_puts_channels_first_in_a_batch_of_one():
    import torch

    from s2k.color import as_batch

    im = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    t = as_batch(im)
    assert t.shape == (1, 4, 2, 3) and t.dtype == torch.float32
    assert t[0, 1, 1, 2] == im[1, 2, 1]
    assert as_batch(im[:, :, 0], np.float64).shape == (1, 1, 2, 3)
    assert as_batch(im[:, :, 0], np.float64).dtype == torch.float64
