"""Kernel refinement against the LR image (s2k.kernel_refine) and its use in the blind pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image

from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.io import write_image
from s2k.kernel_refine import RefineConfig, refine_kernel, support_offsets
from s2k.kernels import gaussian_kernel, motion_kernel_pool
from s2k.pipeline import refine_rounds, refines_by_default, super_resolve

EXACT = RefineConfig(ridge=1e-10, threshold=0.0, dilate=0)  # every tap free, (almost) no ridge


@pytest.fixture(scope="module")
def motion_k() -> np.ndarray:
    return motion_kernel_pool(4, 0)[1]  # 23×23, asymmetric


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("channels", [1, 3])
def test_known_answer_exact_with_the_true_sharp_image(motion_k, scale, channels):
    """With the true HR image as the SR image and no quantisation, the least squares recover the kernel."""
    hr = textured_image(90, 84, channels, seed=3)
    lr = degrade(hr, motion_k, scale, quantize=False)
    start = 0.5 * motion_k + 0.5 * np.roll(motion_k, 2, axis=1)  # a wrong estimate
    k = refine_kernel(lr, hr, start, scale, EXACT)
    assert k.shape == motion_k.shape
    np.testing.assert_allclose(k, motion_k, atol=1e-6)


def test_default_moves_a_wrong_estimate_towards_the_truth(motion_k):
    hr = textured_image(120, 120, 3, seed=4)
    lr = degrade(hr, motion_k, 2)  # 8-bit, as users have it
    start = np.roll(motion_k, 1, axis=0)
    k = refine_kernel(lr, hr, start, 2)
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
    assert np.abs(k - motion_k).sum() < 0.5 * np.abs(start - motion_k).sum()


def test_support_is_the_thresholded_estimate_grown_by_dilate():
    k = np.zeros((7, 7))
    k[3, 3] = 1.0
    assert support_offsets(k, 0.01, 0).tolist() == [[3, 3]]
    assert len(support_offsets(k, 0.01, 1)) == 5  # the cross of a 4-connected dilation
    assert len(support_offsets(k, 0.01, 3)) == 25  # a diamond of radius 3


def test_row_cap_and_flat_or_tiny_images_fall_back(motion_k):
    hr = textured_image(80, 80, 1, seed=5)
    lr = degrade(hr, motion_k, 2)
    k = refine_kernel(lr, hr, motion_k, 2, RefineConfig(max_rows=500))
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
    flat_lr, flat_sr = np.full((40, 40), 90.0), np.full((80, 80), 90.0)
    unit = motion_k / motion_k.sum()
    np.testing.assert_allclose(refine_kernel(flat_lr, flat_sr, motion_k, 2), unit)
    np.testing.assert_allclose(refine_kernel(lr[:10, :10], hr[:20, :20], motion_k, 2), unit)
    np.testing.assert_allclose(refine_kernel(lr, np.full_like(hr, 90.0), motion_k, 2), unit)  # flat SR


def test_bad_input():
    k = gaussian_kernel(15, 1.5, 1.5, 0.0)
    with pytest.raises(S2KError, match="channel"):
        refine_kernel(np.zeros((30, 30, 3)), np.zeros((60, 60)), k, 2)
    with pytest.raises(S2KError, match="too small"):
        refine_kernel(np.zeros((30, 30)), np.zeros((40, 40)), k, 2)
    with pytest.raises(S2KError):
        refine_kernel(np.zeros((30, 30)), np.zeros((60, 60)), np.full((5, 5), np.nan), 2)
    with pytest.raises(S2KError):
        RefineConfig(ridge=0.0)


def test_pipeline_refines_motion_estimates_by_default_only(motion_k):
    lr = degrade(textured_image(96, 96, 3, seed=6), motion_k, 2)
    res = super_resolve(lr, 2, family="motion")
    assert res.refined and res.kernel_unrefined is not None
    assert res.kernel.shape == res.kernel_unrefined.shape
    assert not np.allclose(res.kernel, res.kernel_unrefined)
    assert res.kernel.sum() == pytest.approx(1.0) and res.image.shape == (96, 96, 3)
    off = super_resolve(lr, 2, family="motion", refine=False)
    assert not off.refined and off.kernel_unrefined is None
    np.testing.assert_allclose(off.kernel, res.kernel_unrefined)  # the same estimate before refining
    gauss = super_resolve(lr, 2)  # Gaussian estimate: not refined unless asked
    assert not gauss.refined
    assert super_resolve(lr, 2, refine=True).refined
    given = super_resolve(lr, 2, motion_k)  # a given kernel is used as it is by default ...
    assert not given.refined
    np.testing.assert_allclose(given.kernel, motion_k / motion_k.sum())
    rough = np.roll(motion_k, 1, axis=1)  # ... and refined only when asked
    asked = super_resolve(lr, 2, rough, refine=True)
    assert asked.refined and not asked.kernel_estimated
    np.testing.assert_allclose(asked.kernel_unrefined, rough / rough.sum())


def test_default_rule_motion_pnp_up_to_x3(motion_k):
    assert refines_by_default("motion", "pnp", 2) and refines_by_default("motion", "pnp", 3)
    assert not refines_by_default("motion", "pnp", 4)  # measured: +0.01 to +0.04 dB, lower SSIM
    assert not refines_by_default("motion", "sftmd", 2) and not refines_by_default("gaussian", "pnp", 2)
    assert not refines_by_default(None, "pnp", 2)
    assert [refine_rounds(s) for s in (2, 3, 4)] == [2, 1, 1]  # measured: a second round pays at ×2 only
    lr = degrade(textured_image(96, 96, 3, seed=9), motion_k, 4)
    assert not super_resolve(lr, 4, family="motion").refined
    assert super_resolve(lr, 4, family="motion", refine=True).refined


def test_pipeline_refinement_keeps_alpha(motion_k):
    rgba = np.concatenate([textured_image(48, 40, 3, seed=7), np.full((48, 40, 1), 200.0)], axis=-1)
    lr = degrade(rgba, motion_k, 2)
    res = super_resolve(lr, 2, family="motion")
    assert res.refined and res.image.shape == (48, 40, 4)


def test_cli_refine_flag(tmp_path, capsys, motion_k):
    write_image(tmp_path / "lr.png", degrade(textured_image(64, 64, 3, seed=8), motion_k, 2))
    base = ["sr", str(tmp_path / "lr.png"), "-s", "2", "--family", "motion", "-o"]
    assert main([*base, str(tmp_path / "a.png"), "--save-kernel", str(tmp_path / "a.npy")]) == 0
    assert "motion kernel, refined" in capsys.readouterr().out
    off = [str(tmp_path / "b.png"), "--no-refine", "--save-kernel", str(tmp_path / "b.npy")]
    assert main([*base, *off]) == 0
    assert "refined" not in capsys.readouterr().out
    np.save(tmp_path / "k.npy", np.roll(motion_k, 1, axis=0))
    given = ["--kernel", str(tmp_path / "k.npy"), "--refine", "-o", str(tmp_path / "c.png")]
    assert main([*base[:-3], *given]) == 0
    assert "given kernel, refined" in capsys.readouterr().out
    assert not np.allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
