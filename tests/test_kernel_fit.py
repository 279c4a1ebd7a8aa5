"""Fitting the Gaussian / disk family to a kernel (`s2k.fit_kernel`) and its use by `s2k.estimate_kernel`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import textured_image

import s2k
from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.estimate import get_estimator
from s2k.io import write_image
from s2k.kernels import disk_kernel, gaussian_kernel, pad_kernel, sample_kernel


@pytest.mark.parametrize(
    "sigma1, sigma2, theta", [(2.1, 1.3, 0.5), (3.0, 1.0, 2.8), (1.0, 2.5, 0.3), (0.6, 0.4, 1.2)]
)
def test_exact_gaussians_are_recovered(sigma1, sigma2, theta):
    fit = s2k.fit_kernel(gaussian_kernel(15, sigma1, sigma2, theta), "gaussian")
    # σ1 is reported as the larger axis, θ (its direction) in [0, π)
    big, small, angle = (sigma1, sigma2, theta) if sigma1 >= sigma2 else (sigma2, sigma1, theta + math.pi / 2)
    assert fit.params["sigma1"] == pytest.approx(big, abs=1e-4)
    assert fit.params["sigma2"] == pytest.approx(small, abs=1e-4)
    assert 0 <= fit.params["theta"] < math.pi
    assert math.remainder(fit.params["theta"] - angle, math.pi) == pytest.approx(0, abs=1e-3)
    assert fit.residual < 1e-6
    np.testing.assert_allclose(fit.kernel, gaussian_kernel(15, sigma1, sigma2, theta), atol=1e-9)


def test_isotropic_gaussian_any_angle():
    fit = s2k.fit_kernel(gaussian_kernel(15, 1.7, 1.7, 0.0), "gaussian")
    assert fit.params["sigma1"] == pytest.approx(1.7, abs=1e-4) == fit.params["sigma2"]
    assert fit.residual < 1e-6


@pytest.mark.parametrize("radius", [0.8, 1.37, 2.5, 6.2])
def test_exact_disks_are_recovered(radius):
    fit = s2k.fit_kernel(pad_kernel(disk_kernel(radius), 15), "disk")
    assert fit.params["radius"] == pytest.approx(radius, abs=0.005)
    assert fit.residual < 1e-12
    assert fit.describe() == f"disk r={radius:.2f} (residual 0.0 %)"


@pytest.mark.parametrize("family", ["gaussian", "disk"])
def test_fit_of_a_noisy_kernel_is_nearer_the_truth(family):
    rng = np.random.default_rng(5)
    for _ in range(5):
        truth = sample_kernel(family, rng)
        noisy = truth + rng.normal(0, 0.1 * truth.max(), truth.shape)  # zero-mean pixel noise
        noisy /= noisy.sum()
        fit = s2k.fit_kernel(noisy, family)
        assert np.sum((fit.kernel - truth) ** 2) < 0.5 * np.sum((noisy - truth) ** 2)
        assert fit.kernel.shape == truth.shape and fit.kernel.sum() == pytest.approx(1.0)


def test_extreme_kernels_stay_in_the_limits():
    delta = np.zeros((15, 15))
    delta[7, 7] = 1.0
    fit = s2k.fit_kernel(delta, "gaussian")  # narrower than any σ >= 0.2 can be: the limit, nearly exact
    assert fit.params["sigma1"] == pytest.approx(0.2, abs=1e-3) and fit.residual < 1e-3
    assert s2k.fit_kernel(delta, "disk").params["radius"] == 0.5
    flat = s2k.fit_kernel(np.ones((15, 15)), "gaussian")
    assert flat.params["sigma2"] <= 20.0 and flat.residual < 0.05


def test_fit_bad_input():
    k = gaussian_kernel(15, 2, 1, 0)
    with pytest.raises(S2KError, match="no parametric model"):
        s2k.fit_kernel(k, "motion")
    for bad in (k[:, :14], k[:14, :14], np.full((15, 15), np.nan), np.zeros((15, 15))):
        with pytest.raises(S2KError):
            s2k.fit_kernel(bad, "gaussian")


@pytest.mark.parametrize("family", ["gaussian", "disk"])
def test_estimate_kernel_returns_the_fitted_member(family):
    lr = degrade(textured_image(120, 160, 3, seed=6), sample_kernel(family, np.random.default_rng(2)), 2)
    raw = s2k.estimate_kernel(lr, 2, family, fit_family=False)
    np.testing.assert_array_equal(raw, get_estimator(family).estimate(lr, 2))  # the network as is
    k = s2k.estimate_kernel(lr, 2, family)
    np.testing.assert_array_equal(k, s2k.fit_kernel(raw, family).kernel)
    assert s2k.fit_kernel(k, family).residual < 1e-5  # a member of the family
    assert not np.array_equal(k, raw)


def test_cli_estimate_names_the_fitted_kernel(tmp_path, capsys):
    lr = degrade(textured_image(120, 160, 3, seed=2), gaussian_kernel(15, 2.0, 1.2, 0.4), 2)
    write_image(tmp_path / "lr.png", lr)
    capsys.readouterr()
    # --noise 0: the noise-free model, as the API's default (the CLI's default estimates the noise level)
    assert (
        main(["estimate", str(tmp_path / "lr.png"), "-s", "2", "-o", str(tmp_path / "k.npy"), "--noise", "0"])
        == 0
    )
    out = capsys.readouterr().out
    assert "nearest gaussian σ1=" in out and "rad (residual" in out
    raw = [
        "estimate",
        str(tmp_path / "lr.png"),
        "-s",
        "2",
        "-o",
        str(tmp_path / "raw.npy"),
        "--no-fit",
        "--noise",
        "0",
    ]
    assert main(raw) == 0
    img = s2k.read_image(tmp_path / "lr.png")
    np.testing.assert_allclose(np.load(tmp_path / "raw.npy"), s2k.estimate_kernel(img, 2, fit_family=False))
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), s2k.estimate_kernel(img, 2))


def test_super_resolve_is_public():
    """The README's ``s2k.super_resolve`` (non-blind here: the pnp backend with the true kernel)."""
    k = gaussian_kernel(15, 1.5, 1.5, 0.0)
    lr = degrade(textured_image(48, 48, 3, seed=9), k, 2)
    res = s2k.super_resolve(lr[:24, :24], 2, k)
    assert res.image.shape == (48, 48, 3)
