"""The Spectrum-to-Kernel estimator: networks, kernel maps, checkpoints, tiny training, flip handling."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import textured_image

from s2k.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.estimate import load_estimator
from s2k.flip import resolve_flip
from s2k.kernels import flip180, sample_kernels
from s2k.nets.discriminator import PatchDiscriminator
from s2k.nets.generator import GeneratorConfig, KernelGenerator, kernel_to_map, map_to_kernel
from s2k.train.common import lr_at, schedule_progress
from s2k.train.estimator import EstimatorTrainConfig, export_estimator, train_estimator


@pytest.mark.parametrize("family", ["gaussian", "motion", "disk"])
def test_kernel_map_round_trip_is_exact(family):
    ks = sample_kernels(family, 8, seed=3)
    maps = kernel_to_map(torch.from_numpy(ks), 64)
    assert maps.shape == (8, 1, 64, 64)
    assert torch.allclose(maps.amax(dim=(-2, -1)), torch.ones(8, 1, dtype=maps.dtype))
    back = map_to_kernel(maps, ks.shape[-1]).numpy()
    np.testing.assert_allclose(back, ks, atol=1e-12)


def test_map_to_kernel_clips_and_normalises():
    maps = torch.randn(3, 1, 32, 32)
    k = map_to_kernel(maps, 15)
    assert k.shape == (3, 15, 15) and k.dtype == torch.float64
    assert torch.all(k >= 0)
    torch.testing.assert_close(k.sum(dim=(-2, -1)), torch.ones(3, dtype=torch.float64))
    zero = map_to_kernel(-torch.ones(1, 1, 32, 32), 15)  # all negative: the uniform kernel, not NaN
    torch.testing.assert_close(zero, torch.full((1, 15, 15), 1 / 225, dtype=torch.float64))


@pytest.mark.parametrize(
    "cfg", [GeneratorConfig(), GeneratorConfig(32, 4, 8, 32, skips=False), GeneratorConfig(128, 6, 8, 64)]
)
def test_generator_and_discriminator_shapes(cfg):
    g = KernelGenerator(cfg)
    x = torch.randn(2, 1, cfg.input_size, cfg.input_size)
    y = g(x, torch.tensor([[2.0], [4.0]]))
    assert y.shape == x.shape
    d = PatchDiscriminator(2, 8, 3)
    assert d(x, y).shape[:2] == (2, 1)
    with pytest.raises(ValueError):
        GeneratorConfig(input_size=48, depth=5)


def test_paper_generator_size():
    """U-Net-8-64 on a 256×256 spectrum: the paper's 54 M parameters."""
    g = KernelGenerator(GeneratorConfig(256, 7, 64, 512))
    n = sum(p.numel() for p in g.parameters())
    assert 50e6 < n < 58e6


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    torch.manual_seed(0)
    net = KernelGenerator(GeneratorConfig(32, 4, 8, 16))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    net(torch.randn(2, 1, 32, 32), torch.ones(2, 1)).mean().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", {"G": net}, {"G": opt}, {"iteration": 7})
    net2 = KernelGenerator(GeneratorConfig(32, 4, 8, 16))
    opt2 = torch.optim.Adam(net2.parameters(), lr=5.0)
    meta = load_checkpoint(tmp_path / "c.safetensors", {"G": net2}, {"G": opt2})
    assert meta == {"iteration": 7}
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert opt2.param_groups[0]["lr"] == 1e-3
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    torch.testing.assert_close(s1[0]["exp_avg_sq"], s2[0]["exp_avg_sq"])
    assert not (tmp_path / "c.safetensors").read_bytes().startswith(b"\x80")  # not a pickle


def test_weight_file_that_is_not_safetensors(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(S2KError):
        load_estimator(bad)


def tiny_config(folder: Path, **kw) -> EstimatorTrainConfig:
    base = dict(
        family="gaussian",
        scales=(2, 3),
        train_dirs=(str(folder),),
        val_dir=str(folder),
        val_count=2,
        val_every=10,
        iterations=40,
        batch_size=8,
        spectrum_size=32,
        depth=4,
        width=8,
        max_width=32,
        disc_width=8,
        lr_size_min=24,
        lr_size_max=40,
        workers=0,
        log_every=1,
        checkpoint_every=10,
    )
    base.update(kw)
    return EstimatorTrainConfig(**base)


def _l1_column(run: Path) -> list[float]:
    with (run / "log.csv").open() as fh:
        return [float(r["l1"]) for r in csv.DictReader(fh)]


def test_tiny_training_lowers_the_loss_resumes_and_exports(tmp_path, image_folder):
    torch.manual_seed(0)
    run = tmp_path / "run"
    cfg = tiny_config(image_folder, iterations=25)
    summary = train_estimator(cfg, run, progress=False)
    assert summary["iteration"] == 25
    with pytest.raises(S2KError):  # an existing run is not overwritten silently
        train_estimator(cfg, run, progress=False)
    summary = train_estimator(tiny_config(image_folder, iterations=40), run, resume=True, progress=False)
    assert summary["iteration"] == 40
    l1 = _l1_column(run)
    assert len(l1) == 40
    assert np.mean(l1[-8:]) < 0.7 * np.mean(l1[:3])
    assert (run / "val.csv").is_file() and (run / "best.safetensors").is_file()

    meta = export_estimator(run / "last.safetensors", tmp_path / "w.safetensors")
    assert meta["family"] == "gaussian" and meta["scales"] == [2, 3]
    est = load_estimator(tmp_path / "w.safetensors")
    lr = degrade(textured_image(60, 50, 3, seed=3), sample_kernels("gaussian", 1, 0)[0], 2)
    k = est.estimate(lr, 2)
    assert k.shape == (15, 15) and k.min() >= 0 and abs(k.sum() - 1) < 1e-9
    with pytest.raises(S2KError):
        est.estimate(lr, 4)  # not a trained scale


def test_flip_is_resolved_for_an_asymmetric_kernel():
    k = np.zeros((23, 23))
    k[11, 11:20] = np.linspace(1, 0.1, 9)  # a comet: bright head at the centre, fading tail to the right
    k[12:16, 19] = 0.1
    k /= k.sum()
    hr = textured_image(192, 192, 3, seed=5)
    lr = degrade(hr, k, 2)
    np.testing.assert_array_equal(resolve_flip(lr, flip180(k), 2), k)
    np.testing.assert_array_equal(resolve_flip(lr, k, 2), k)
    sym = sample_kernels("gaussian", 1, 0)[0]
    np.testing.assert_array_equal(resolve_flip(lr, sym, 2), sym)  # centrosymmetric: unchanged


def test_flip_invariant_l1():
    from s2k.train.estimator import map_l1

    k = torch.from_numpy(sample_kernels("motion", 2, seed=1))
    target = kernel_to_map(k, 32)
    flipped = target.flip(-2, -1)
    assert map_l1(flipped, target, True) == 0
    assert map_l1(flipped, target, False) > 0
    sym = kernel_to_map(torch.from_numpy(sample_kernels("gaussian", 2, seed=1)), 32)
    noisy = sym + 0.01 * torch.randn_like(sym)
    torch.testing.assert_close(map_l1(noisy, sym, True), map_l1(noisy, sym, False))


def test_fine_tuning_from_weights_and_time_limit(tmp_path, image_folder):
    torch.manual_seed(0)
    first = tmp_path / "first"
    train_estimator(tiny_config(image_folder, iterations=5, val_dir=""), first, progress=False)
    export_estimator(first / "last.safetensors", tmp_path / "w.safetensors")
    run = tmp_path / "tuned"
    cfg = tiny_config(
        image_folder,
        iterations=1000,
        val_dir="",
        init=str(tmp_path / "w.safetensors"),
        time_limit_min=0.02,
        checkpoint_every=10000,
    )
    summary = train_estimator(cfg, run, progress=False)
    assert 0 < summary["iteration"] < 1000  # stopped by the 1.2 s limit, and saved there
    meta = read_metadata(run / "last.safetensors")
    assert meta["iteration"] == summary["iteration"]
    with pytest.raises(S2KError, match="differs"):  # weights of another network are refused
        train_estimator(
            tiny_config(image_folder, width=16, val_dir="", init=str(tmp_path / "w.safetensors")),
            tmp_path / "bad",
            progress=False,
        )


def test_schedule_progress_and_cosine():
    assert schedule_progress(50, 100) == 0.5
    assert schedule_progress(10, 100, elapsed_s=45, time_limit_min=1.0) == 0.75
    assert schedule_progress(10, 100, elapsed_s=600, time_limit_min=1.0) == 1.0
    assert lr_at(1e-3, "cosine", 0.0) == pytest.approx(1e-3)
    assert lr_at(1e-3, "cosine", 1.0) == pytest.approx(1e-5)
    assert lr_at(1e-3, "constant", 0.7) == 1e-3
