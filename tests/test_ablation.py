"""The paper's Table-3 ablation: spatial input features, the Gaussian-parameter generator, their training,
export and place in `s2k bench`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import textured_image
from test_estimator import tiny_config

from s2k.bench import ablation_estimators, estimators_for
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.estimate import load_estimator
from s2k.features import feature_tiles_torch, spatial_tiles_torch, training_feature_torch
from s2k.kernels import gaussian_kernel, sample_kernels
from s2k.nets import build_generator
from s2k.nets.generator import GeneratorConfig, map_to_kernel
from s2k.nets.param_generator import SIGMA_RANGE, GaussianParamGenerator, render_gaussian
from s2k.train.estimator import EstimatorTrainConfig, export_estimator, train_estimator


@pytest.mark.parametrize("s1,s2,theta", [(1.0, 3.0, 0.0), (2.5, 1.2, 0.7), (1.7, 1.7, 2.0), (3.0, 1.0, 3.0)])
def test_render_gaussian_matches_the_kernel_convention(s1, s2, theta):
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    k = render_gaussian(t(s1), t(s2), t(np.cos(2 * theta)), t(np.sin(2 * theta)), 15)[0].numpy()
    np.testing.assert_allclose(k, gaussian_kernel(15, s1, s2, theta), atol=1e-12)


def test_spatial_tiles_are_standardised_and_padded():
    big = torch.from_numpy(textured_image(150, 200, 3, seed=1).transpose(2, 0, 1).copy())[None].float()
    tiles = spatial_tiles_torch(big, 64, max_tiles=8)
    assert tiles.shape == (1, 4 * 6, 64, 64)  # 150 → 4 half-overlapping tiles, 200 → 6
    np.testing.assert_allclose(tiles.mean(dim=(-2, -1)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(tiles.std(dim=(-2, -1)).numpy(), 1, atol=1e-4)
    # the first tile is the top-left corner, and training uses exactly that tile
    first = training_feature_torch(big, "spatial", 64)
    assert first.shape == (1, 1, 64, 64)
    torch.testing.assert_close(first[0, 0], tiles[0, 0])
    # a small image is standardised on its own pixels, then zero-padded at the bottom and right
    small = big[..., :40, :50]
    t = spatial_tiles_torch(small, 64)
    assert t.shape == (1, 1, 64, 64)
    assert float(t[0, 0, 40:].abs().max()) == 0 and float(t[0, 0, :, 50:].abs().max()) == 0
    assert abs(float(t[0, 0, :40, :50].mean())) < 1e-5
    # the spectrum is a single map per image
    assert feature_tiles_torch(big, "spectrum", 64).shape == (1, 1, 64, 64)
    with pytest.raises(S2KError):
        feature_tiles_torch(big, "wavelet", 64)


def test_parameter_generator_outputs_an_exact_gaussian_map():
    torch.manual_seed(0)
    cfg = GeneratorConfig(32, 4, 8, 32, True, 1, "gaussian")
    g = build_generator(cfg)
    assert isinstance(g, GaussianParamGenerator)
    feat, cond = torch.randn(3, 1, 32, 32), torch.full((3, 1), 3.0)
    with torch.no_grad():
        p = g.params(feat, cond)
        kmap = g(feat, cond)
    assert ((p[:, :2] > SIGMA_RANGE[0]) & (p[:, :2] < SIGMA_RANGE[1])).all()
    np.testing.assert_allclose(p[:, 2:].norm(dim=1).numpy(), 1, atol=1e-6)
    k = map_to_kernel(kmap, 15)  # the map is the rendered kernel's, recovered exactly
    ref = render_gaussian(p[:, 0].double(), p[:, 1].double(), p[:, 2].double(), p[:, 3].double(), 15)
    np.testing.assert_allclose(k.numpy(), ref.numpy(), atol=1e-5)
    with pytest.raises(ValueError):
        GeneratorConfig(32, 4, 8, 32, True, 1, "pca")
    with pytest.raises(S2KError):  # parameters of a Gaussian cannot describe the other families
        EstimatorTrainConfig(family="motion", output="gaussian")


@pytest.mark.parametrize("feature,output", [("spatial", "map"), ("spectrum", "gaussian")])
def test_ablation_variants_train_export_and_join_the_bench(tmp_path, image_folder, feature, output):
    torch.manual_seed(0)
    run = tmp_path / "run"
    cfg = tiny_config(image_folder, iterations=6, scales=(3,), feature=feature, output=output, val_every=3)
    assert train_estimator(cfg, run, progress=False)["iteration"] == 6
    folder = tmp_path / "weights"
    meta = export_estimator(run / "last.safetensors", folder / "w.safetensors")
    assert meta["feature"] == feature and meta["generator"]["output"] == output
    est = load_estimator(folder / "w.safetensors")
    assert est.feature == feature
    lr = degrade(textured_image(90, 120, 3, seed=3), sample_kernels("gaussian", 1, 0)[0], 3)
    k = est.estimate(lr, 3)
    assert k.shape == (15, 15) and k.min() >= 0 and abs(k.sum() - 1) < 1e-9

    ablation = ablation_estimators(folder)
    name = f"abl-{feature}-{'params' if output == 'gaussian' else 'map'}"
    assert list(ablation) == [name]
    assert name in estimators_for("gaussian", 3, ablation)
    assert name not in estimators_for("gaussian", 2, ablation)  # not a trained scale
    assert name not in estimators_for("disk", 3, ablation)
    assert ablation_estimators(tmp_path / "missing") == {}
