"""Tests for s2k.kernels: known answers for the three kernel families, the samplers and the utilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2k import kernels as K
from s2k.errors import S2KError

# --------------------------------------------------------------------------------------------------------
# helpers


def _moments(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (x, y) offset from the middle pixel and 2×2 covariance (x, y order) of a kernel's mass."""
    h, w = k.shape
    y, x = np.mgrid[0:h, 0:w]
    x = x - w // 2
    y = y - h // 2
    m = k / k.sum()
    mean = np.array([(m * x).sum(), (m * y).sum()])
    dx, dy = x - mean[0], y - mean[1]
    cov = np.array([[(m * dx * dx).sum(), (m * dx * dy).sum()], [(m * dx * dy).sum(), (m * dy * dy).sum()]])
    return mean, cov


def _sigma(s1: float, s2: float, theta: float) -> np.ndarray:
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return rot @ np.diag([s1 * s1, s2 * s2]) @ rot.T


def _supersampled_disk(r: float, sub: int = 1000) -> np.ndarray:
    """Fraction of sub×sub midpoint samples of each pixel inside the circle, counted exactly per column."""
    half = math.ceil(r - 0.5)
    side = 2 * half + 1
    edges = np.arange(side * sub) / sub - half - 0.5
    pts = edges + 0.5 / sub  # midpoints of the sub-pixels along one axis (sorted)
    h = np.sqrt(np.maximum(r * r - pts * pts, 0.0))  # half-height of the circle at each sub-column
    inside = r * r - pts * pts >= 0
    lo_edges = np.arange(side) - half - 0.5
    hi_edges = lo_edges + 1.0
    lo = np.maximum(lo_edges[None, :], -h[:, None])  # (sub-columns, pixel rows)
    hi = np.minimum(hi_edges[None, :], h[:, None])
    # Count the row midpoints in [lo, hi) per pixel row: midpoints in a pixel row are inside it strictly.
    count = np.searchsorted(pts, hi, side="right") - np.searchsorted(pts, lo, side="left")
    count = np.where(inside[:, None] & (hi > lo), np.maximum(count, 0), 0)
    cover = count.reshape(side, sub, side).sum(axis=1).T.astype(np.float64)  # (rows, cols)
    return cover / cover.sum()


# --------------------------------------------------------------------------------------------------------
# families: shared properties


@pytest.mark.parametrize("family", K.FAMILIES)
def test_sampled_kernels_are_valid(family: str) -> None:
    stack = K.sample_kernels(family, 20, seed=123)
    size = K.KERNEL_SIZES[family]
    assert stack.shape == (20, size, size)
    assert stack.dtype == np.float64
    assert size % 2 == 1
    tol_com = 1e-6 if family == "motion" else 0.5
    for k in stack:
        assert np.all(k >= 0)
        assert abs(k.sum() - 1.0) < 1e-12
        dy, dx = K.center_of_mass(k)
        assert abs(dy) < tol_com and abs(dx) < tol_com
    # not all the same kernel
    assert np.ptp(stack, axis=0).max() > 1e-3


@pytest.mark.parametrize("family", K.FAMILIES)
def test_sample_kernels_reproducible_and_equals_sequential(family: str) -> None:
    a = K.sample_kernels(family, 4, seed=7)
    b = K.sample_kernels(family, 4, seed=7)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(7)
    seq = np.stack([K.sample_kernel(family, rng) for _ in range(4)])
    np.testing.assert_allclose(a, seq, rtol=0, atol=1e-12)
    assert not np.array_equal(a, K.sample_kernels(family, 4, seed=8))
    assert K.sample_kernels(family, 0, seed=1).shape == (0, K.KERNEL_SIZES[family], K.KERNEL_SIZES[family])


def test_sample_kernel_unknown_family() -> None:
    with pytest.raises(S2KError, match="gaussian, motion, disk"):
        K.sample_kernel("box", np.random.default_rng(0))
    with pytest.raises(S2KError):
        K.sample_kernels("box", 3, seed=0)


# --------------------------------------------------------------------------------------------------------
# Gaussian


@pytest.mark.parametrize(
    ("s1", "s2", "theta"),
    [
        (1.0, 1.0, 0.0),
        (2.0, 1.0, 0.3),
        (1.2, 2.4, 1.0),
        (2.4, 2.4, 0.0),
        (2.4, 1.5, 2.5),
        # σ = 2.5 along an axis loses 2.6 % of its variance to the 15×15 window; along a diagonal it fits.
        (2.5, 1.0, math.pi / 4),
    ],
)
def test_gaussian_second_moments(s1: float, s2: float, theta: float) -> None:
    k = K.gaussian_kernel(15, s1, s2, theta)
    mean, cov = _moments(k)
    sigma = _sigma(s1, s2, theta)
    assert np.abs(mean).max() < 1e-12
    assert np.linalg.norm(cov - sigma) / np.linalg.norm(sigma) < 0.02


def test_gaussian_truncation_is_the_only_error() -> None:
    # A narrow Gaussian is not truncated: the sampled second moments equal Σ almost exactly.
    k = K.gaussian_kernel(31, 1.5, 1.0, 0.7)
    _, cov = _moments(k)
    np.testing.assert_allclose(cov, _sigma(1.5, 1.0, 0.7), atol=1e-9)
    # Orientation: θ = 0 stretches along x (columns), θ = π/2 along y (rows).
    kx = K.gaussian_kernel(15, 2.0, 1.0, 0.0)
    ky = K.gaussian_kernel(15, 2.0, 1.0, math.pi / 2)
    np.testing.assert_allclose(ky, kx.T, atol=1e-15)
    assert kx[7, 10] > kx[10, 7]


def test_gaussian_known_values_and_isotropic() -> None:
    k = K.isotropic_gaussian_kernel(3, 1.0)
    g = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(k, np.outer(g, g) / np.outer(g, g).sum(), atol=1e-15)
    np.testing.assert_allclose(K.isotropic_gaussian_kernel(15, 2.0), K.gaussian_kernel(15, 2.0, 2.0, 1.234))


def test_sample_gaussian_respects_ranges() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        k = K.sample_gaussian(rng, size=31, sigma_range=(1.0, 2.0))
        eig = np.linalg.eigvalsh(_moments(k)[1])
        assert np.all(np.sqrt(eig) > 1.0 - 1e-6) and np.all(np.sqrt(eig) < 2.0 + 1e-6)


def test_gaussian_bad_arguments() -> None:
    with pytest.raises(S2KError):
        K.gaussian_kernel(14, 1.0, 1.0, 0.0)
    with pytest.raises(S2KError):
        K.gaussian_kernel(15, 0.0, 1.0, 0.0)
    with pytest.raises(S2KError):
        K.sample_gaussian(np.random.default_rng(0), sigma_range=(3.0, 1.0))


# --------------------------------------------------------------------------------------------------------
# disk


@pytest.mark.parametrize("r", [1.0, 1.3, 1.5, 2.2, 2.5, 3.0])
def test_disk_matches_supersampled_area(r: float) -> None:
    k = K.disk_kernel(r)
    side = 2 * math.ceil(r - 0.5) + 1
    assert k.shape == (side, side)
    assert abs(k.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(k, _supersampled_disk(r), rtol=0, atol=1e-4)
    # The whole disk fits and the outer ring is used: the border middle pixels have mass.
    assert k[0, side // 2] > 0 and k[side // 2, -1] > 0
    # Symmetric under the 8 symmetries of the square.
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1], atol=1e-15)
    np.testing.assert_allclose(k, k[:, ::-1], atol=1e-15)
    # The centre pixel is fully inside (r >= sqrt(1/2)): its weight is 1 / (π r²).
    assert k[side // 2, side // 2] == pytest.approx(1.0 / (math.pi * r * r), abs=1e-14)


def test_disk_known_answers() -> None:
    # r <= 0.5: one pixel.
    np.testing.assert_array_equal(K.disk_kernel(0.5), [[1.0]])
    np.testing.assert_array_equal(K.disk_kernel(0.2), [[1.0]])
    assert K.disk_kernel(0.51).shape == (3, 3)
    # r = 1 in closed form: the corner pixel's area is ∫_{1/2}^{√3/2} (sqrt(1 - x²) - 1/2) dx
    # = F(√3/2) - F(1/2) - (√3/2 - 1/2)/2 with F(x) = (x sqrt(1 - x²) + asin x)/2 (= π/12 - (√3 - 1)/4);
    # the centre pixel is fully inside (area 1) and the total is π, so an edge pixel has (π - 1 - 4 corner)/4.
    f = lambda x: 0.5 * (x * math.sqrt(1 - x * x) + math.asin(x))  # noqa: E731
    corner = f(math.sqrt(3) / 2) - f(0.5) - 0.5 * (math.sqrt(3) / 2 - 0.5)
    edge = (math.pi - 1.0 - 4.0 * corner) / 4.0
    expected = np.array([[corner, edge, corner], [edge, 1.0, edge], [corner, edge, corner]]) / math.pi
    np.testing.assert_allclose(K.disk_kernel(1.0), expected, atol=1e-14)
    # Matlab fspecial('disk', 1), 4 decimals.
    np.testing.assert_allclose(
        expected, [[0.0251, 0.1453, 0.0251], [0.1453, 0.3183, 0.1453], [0.0251, 0.1453, 0.0251]], atol=6e-5
    )
    with pytest.raises(S2KError):
        K.disk_kernel(0.0)


def test_sample_disk_is_padded_and_centred() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        k = K.sample_disk(rng)
        assert k.shape == (15, 15)
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        assert K.center_of_mass(k) == pytest.approx((0.0, 0.0), abs=1e-12)
        assert np.all(k[:4] == 0) and np.all(k[-4:] == 0)  # r <= 3 → support 7×7 at most
    with pytest.raises(S2KError):
        K.sample_disk(rng, size=5, radius_range=(1.0, 3.0))


# --------------------------------------------------------------------------------------------------------
# motion


def _spread(k: np.ndarray) -> float:
    return float(np.trace(_moments(k)[1]))


def test_motion_extent_grows_with_exposure() -> None:
    # One seed per column: every exposure sees a prefix of the same trajectory.
    exposures = (0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
    spreads = np.array(
        [[_spread(K.motion_kernel(exposure=e, rng=seed)) for e in exposures] for seed in range(8)]
    )
    mean = spreads.mean(axis=0)
    assert np.all(np.diff(mean) > 0), mean
    # A path of length L spreads at most like a straight one (variance L²/12), + ≤ 0.5 px² from the splat.
    assert mean[3] < (0.3 * K.MOTION_LENGTH_FRACTION * 23) ** 2 / 12 + 0.5


def test_motion_is_exactly_centred_and_fits() -> None:
    for seed in range(4):
        k = K.motion_kernel(exposure=1.0, rng=seed)
        assert abs(k.sum() - 1.0) < 1e-12 and np.all(k >= 0)
        assert max(map(abs, K.center_of_mass(k))) < 1e-9
    # A trajectory far too long for the grid is scaled down about its centroid to just fit.
    k = K.motion_kernel(size=23, exposure=1.0, length=200.0, rng=5)
    assert k.shape == (23, 23) and abs(k.sum() - 1.0) < 1e-12
    assert max(map(abs, K.center_of_mass(k))) < 1e-9
    border = np.concatenate([k[0], k[-1], k[:, 0], k[:, -1]])
    assert border.max() > 0  # it reaches the edge of the grid
    # A path of length L: the mass stays within L/2 + 1 px of the centre (bilinear splat adds < 1 px).
    k = K.motion_kernel(size=23, exposure=1.0, length=8.0, rng=2)
    ys, xs = np.nonzero(k)
    assert np.abs(ys - 11).max() <= 5 and np.abs(xs - 11).max() <= 5


def test_motion_reproducible() -> None:
    a = K.motion_kernel(rng=11)
    np.testing.assert_array_equal(a, K.motion_kernel(rng=11))
    np.testing.assert_array_equal(a, K.motion_kernel(rng=np.random.default_rng(11)))
    assert not np.allclose(a, K.motion_kernel(rng=12))
    assert a.shape == (23, 23)
    assert K.motion_kernel(size=15, rng=1).shape == (15, 15)


def test_motion_zero_anxiety_is_a_straight_line() -> None:
    k = K.motion_kernel(exposure=1.0, anxiety=0.0, length=12.0, rng=4)
    eig = np.linalg.eigvalsh(_moments(k)[1])
    # A uniform segment of length 12 has variance 12²/12 = 12 along it (+ a little from the splat).
    assert 11.9 < eig[1] < 12.5
    assert eig[0] < 0.3


def test_motion_bad_arguments() -> None:
    for kwargs in ({"exposure": 0.0}, {"exposure": 1.5}, {"anxiety": -1.0}, {"size": 22}, {"length": -1.0}):
        with pytest.raises(S2KError):
            K.motion_kernel(rng=0, **kwargs)


def test_motion_pool() -> None:
    pool = K.motion_kernel_pool(12, seed=3)
    assert pool.shape == (12, 23, 23)
    assert K.motion_kernel_pool(12, seed=3) is pool  # cached
    np.testing.assert_array_equal(pool, K.sample_kernels("motion", 12, seed=3))
    assert not pool.flags.writeable
    assert not np.array_equal(pool, K.motion_kernel_pool(12, seed=4))
    full = K.motion_kernel_pool()
    assert full.shape == (500, 23, 23)
    np.testing.assert_allclose(full.sum(axis=(1, 2)), 1.0, atol=1e-12)
    assert len({k.tobytes() for k in full}) == 500


# --------------------------------------------------------------------------------------------------------
# utilities


def test_pad_kernel_keeps_centre_and_sum() -> None:
    k = K.gaussian_kernel(5, 1.5, 0.7, 0.4)
    big = K.pad_kernel(k, 11)
    assert big.shape == (11, 11)
    np.testing.assert_allclose(big[3:8, 3:8], k, atol=1e-15)
    assert abs(big.sum() - 1.0) < 1e-12
    assert K.center_of_mass(big) == pytest.approx(K.center_of_mass(k), abs=1e-12)
    small = K.pad_kernel(big, 3)
    np.testing.assert_allclose(small, k[1:4, 1:4] / k[1:4, 1:4].sum(), atol=1e-15)
    rect = K.pad_kernel(k, (7, 3))
    assert rect.shape == (7, 3)
    np.testing.assert_allclose(rect[1:6], k[:, 1:4] / k[:, 1:4].sum(), atol=1e-15)
    with pytest.raises(S2KError):
        K.pad_kernel(k, 4)
    with pytest.raises(S2KError):
        K.pad_kernel(np.ones((4, 4)), 7)


def test_align_kernels() -> None:
    a = K.gaussian_kernel(7, 1.0, 2.0, 0.2)[:, 1:6]  # 7×5
    a = a / a.sum()
    b = K.disk_kernel(2.2)  # 5×5
    b = np.pad(b, ((0, 0), (1, 1)))  # 5×7
    a2, b2 = K.align_kernels(a, b)
    assert a2.shape == b2.shape == (7, 7)
    for orig, al in ((a, a2), (b, b2)):
        assert abs(al.sum() - 1.0) < 1e-12
        assert K.center_of_mass(al) == pytest.approx(K.center_of_mass(orig), abs=1e-12)
    b3, a3 = K.align_kernels(b, a)
    np.testing.assert_array_equal(a2, a3)
    np.testing.assert_array_equal(b2, b3)


def test_center_of_mass_and_flip() -> None:
    k = np.zeros((5, 7))
    k[1, 5] = 3.0  # offsets dy = 1 - 2 = -1, dx = 5 - 3 = 2
    k[2, 3] = 1.0
    assert K.center_of_mass(k) == pytest.approx((-0.75, 1.5))
    f = K.flip180(k)
    np.testing.assert_array_equal(f, k[::-1, ::-1])
    assert K.center_of_mass(f) == pytest.approx((0.75, -1.5))


def test_validate_kernel_accepts_and_normalises() -> None:
    k = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.int32)
    out = K.validate_kernel(k)
    assert out.dtype == np.float64 and abs(out.sum() - 1.0) < 1e-15
    np.testing.assert_allclose(out, k / 8.0)
    src = np.array([[1.0, -1e-14, 1.0]])
    out = K.validate_kernel(src)
    assert out.min() == 0.0 and out[0, 0] == 0.5
    assert src[0, 1] == -1e-14  # the input is not modified


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones(3), "2-D"),
        (np.ones((3, 3, 1)), "2-D"),
        (np.array([[1.0, np.nan, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf, 1.0]]), "NaN"),
        (np.array([[1.0, -0.1, 1.0]]), "negative"),
        (np.ones((4, 5)), "odd"),
        (np.ones((3, 2)), "odd"),
        (np.zeros((3, 3)), "positive sum"),
        (np.array([["a", "b", "c"]]), "numeric"),
        (np.ones((3, 3)) * (1 + 1j), "numeric"),
    ],
)
def test_validate_kernel_rejects(bad: np.ndarray, match: str) -> None:
    with pytest.raises(S2KError, match=match) as info:
        K.validate_kernel(bad, name="my kernel")
    assert "my kernel" in str(info.value) and "\n" not in str(info.value)


def test_padded_disk_is_the_disk_centred_in_the_family_size():
    k = K.padded_disk(1.3)
    assert k.shape == (K.KERNEL_SIZES["disk"],) * 2 and abs(k.sum() - 1) < 1e-12
    small = K.disk_kernel(1.3)
    h = (k.shape[0] - small.shape[0]) // 2
    np.testing.assert_array_equal(k[h : h + small.shape[0], h : h + small.shape[1]], small)
    assert K.padded_disk(2.0, 7).shape == (7, 7)
