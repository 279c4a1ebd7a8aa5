"""`s2k.estimate_kernel` and `s2k estimate` with the shipped weights, on small generated images."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image

import s2k
import s2k.kernels
from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.estimate import default_weights
from s2k.io import write_image
from s2k.kernels import KERNEL_SIZES, sample_kernel
from s2k.noise import auto_noise


@pytest.mark.parametrize(
    ("family", "noisy"), [("gaussian", False), ("motion", False), ("disk", False), ("gaussian", True)]
)
def test_shipped_weights_exist_and_are_safetensors(family, noisy):
    path = default_weights(family, noisy)
    assert path.is_file() and path.stat().st_size < 50e6
    assert not path.read_bytes()[:2].startswith(b"\x80")  # a pickle starts with 0x80
    assert path.with_suffix(".md").is_file()  # model card


@pytest.mark.parametrize("family", ["gaussian", "motion", "disk"])
@pytest.mark.parametrize("shape", [(40, 30, 3), (100, 140), (70, 90, 4)])
def test_estimate_kernel_any_size_grey_or_colour(family, shape):
    rng = np.random.default_rng(0)
    hr = textured_image(shape[0] * 2, shape[1] * 2, shape[2] if len(shape) == 3 else 1, seed=4)
    lr = degrade(hr if len(shape) == 3 else hr[:, :, 0], sample_kernel(family, rng), 2)
    k = s2k.estimate_kernel(lr, 2, family)
    n = KERNEL_SIZES[family]
    assert k.shape == (n, n) and k.dtype == np.float64
    assert k.min() >= 0 and abs(k.sum() - 1) < 1e-9
    np.testing.assert_array_equal(k, s2k.estimate_kernel(lr, 2, family))  # deterministic


def test_estimate_on_a_natural_image_beats_the_mean_kernel():
    """On a natural photo a dependency ships (scikit-image's astronaut), a σ = 2 Gaussian is estimated better
    than the family's no-skill answer, and a wider blur gives a wider estimate."""
    from skimage.data import astronaut

    hr = astronaut().astype(np.float64)
    yy, xx = np.mgrid[-7:8, -7:8]
    mean_k = s2k.kernels.sample_kernels("gaussian", 500, 1).mean(axis=0)
    spread, dv = {}, {}
    for sigma in (2.0, 3.0):
        k_true = s2k.gaussian_kernel(15, sigma, sigma, 0.0)
        k = s2k.estimate_kernel(degrade(hr, k_true, 2), 2)
        spread[sigma] = float((k * (yy**2 + xx**2)).sum())
        dv[sigma] = (s2k.kernel_errors(k, k_true).dv, s2k.kernel_errors(mean_k, k_true).dv)
    assert dv[2.0][0] < 0.5 * dv[2.0][1]
    assert spread[3.0] > spread[2.0] + 2.0


def test_estimate_bad_input():
    img = textured_image(40, 40, 3)
    with pytest.raises(S2KError):
        s2k.estimate_kernel(img, 5)  # no model for ×5
    with pytest.raises(S2KError):
        s2k.estimate_kernel(img, 2, family="box")
    with pytest.raises(S2KError):
        s2k.estimate_kernel(img[:4, :4], 2)
    with pytest.raises(S2KError):
        s2k.estimate_kernel(img, 0)


def test_cli_estimate_round_trip(tmp_path, capsys):
    lr = degrade(textured_image(120, 160, 3, seed=2), sample_kernel("gaussian", np.random.default_rng(1)), 2)
    write_image(tmp_path / "lr.png", lr)
    code = main(
        [
            "estimate",
            str(tmp_path / "lr.png"),
            "-s",
            "2",
            "-o",
            str(tmp_path / "k.npy"),
            "--png",
            str(tmp_path / "k.png"),
        ]
    )
    assert code == 0
    k = np.load(tmp_path / "k.npy")
    image = s2k.read_image(tmp_path / "lr.png")
    sigma = auto_noise(image)[0]  # the CLI's default, --noise auto
    np.testing.assert_allclose(k, s2k.estimate_kernel(image, 2, noise=sigma), atol=1e-12)
    assert (tmp_path / "k.png").is_file()
    assert (
        main(
            ["estimate", str(tmp_path / "lr.png"), "-s", "2", "-o", str(tmp_path / "k0.npy"), "--noise", "0"]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "k0.npy"), s2k.estimate_kernel(image, 2), atol=1e-12)
    capsys.readouterr()
    code = main(["estimate", str(tmp_path / "lr.png"), "-s", "7", "-o", str(tmp_path / "k7.npy")])
    assert code == 2 and not (tmp_path / "k7.npy").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_noisy_images_get_the_noise_trained_model_where_one_is_shipped(tmp_path, monkeypatch):
    import shutil

    import s2k.estimate as est_mod

    for name in ("estimator-gaussian", "estimator-gaussian-noisy"):
        shutil.copy(default_weights("gaussian"), tmp_path / f"{name}.safetensors")
    monkeypatch.setattr(est_mod, "WEIGHTS_DIR", tmp_path)
    est_mod._shipped.cache_clear()
    try:
        clean = est_mod.get_estimator("gaussian", noise=0.0)
        assert est_mod.get_estimator("gaussian", noise=est_mod.NOISY_LEVEL - 0.01) is clean
        noisy = est_mod.get_estimator("gaussian", noise=est_mod.NOISY_LEVEL)
        assert noisy is not clean and noisy is est_mod._shipped("gaussian", True)
        assert est_mod.noisy_model("gaussian", 5.0) and not est_mod.noisy_model("motion", 5.0)
        (tmp_path / "estimator-gaussian-noisy.safetensors").unlink()
        assert est_mod.get_estimator("gaussian", noise=5.0) is clean  # none shipped: the usual model
    finally:
        est_mod._shipped.cache_clear()
