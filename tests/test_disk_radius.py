"""The disk-radius regressor: network, training, export, and the refinement of disk estimates."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import textured_image

import s2k
import s2k.disk_radius as dr
from s2k.data import make_synthetic_set
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.kernel_fit import fit_disk
from s2k.kernels import disk_kernel, pad_kernel
from s2k.nets.radius import (
    INPUT_PLANES,
    CombinerConfig,
    RadiusCombiner,
    RadiusNet,
    RadiusNetConfig,
    radius_input,
)
from s2k.train.radius import (
    RadiusTrainConfig,
    dv_slope_weights,
    export_radius,
    make_radius_batch,
    train_radius,
)


def test_network_reads_any_size_and_gives_one_radius_per_image():
    torch.manual_seed(0)
    net = RadiusNet(RadiusNetConfig(width=8, depth=3))
    for h, w in [(8, 8), (31, 45), (64, 40)]:
        out = net(torch.rand(2, 1, h, w) * 255)
        assert out.shape == (2,) and torch.isfinite(out).all()
    planes = radius_input(torch.full((1, 1, 12, 12), 200.0))
    assert planes.shape == (1, INPUT_PLANES, 12, 12)
    assert torch.allclose(planes[:, 1], torch.zeros(1))  # flat: no local contrast
    assert torch.allclose(planes[:, 0], torch.tensor(72 / 64))
    with pytest.raises(ValueError):
        radius_input(torch.zeros(1, 3, 12, 12))
    with pytest.raises(S2KError):
        RadiusNetConfig(width=0)


def test_training_batches_follow_the_degradation(image_folder):
    from s2k.data import load_hr_pool

    pool = load_hr_pool([image_folder], progress=False)
    cfg = RadiusTrainConfig(scale=3, batch_size=4, patch_size=16, train_dirs=(str(image_folder),))
    grey, radii = make_radius_batch(pool, cfg, np.random.default_rng(0))
    assert grey.shape == (4, 1, 16, 16) and radii.shape == (4,)
    assert ((radii >= 1.0) & (radii <= 3.0)).all()
    # the same crops (same draws) blurred by a small and by a large disk: the large one is smoother
    rng = np.random.default_rng
    small, _ = make_radius_batch(pool, replace(cfg, radius_min=1.0, radius_max=1.01), rng(0))
    large, _ = make_radius_batch(pool, replace(cfg, radius_min=2.99, radius_max=3.0), rng(0))
    assert (large.diff(dim=-1).abs().mean() < 0.9 * small.diff(dim=-1).abs().mean()).item()
    with pytest.raises(S2KError):
        RadiusTrainConfig(radius_min=2.0, radius_max=1.0)
    with pytest.raises(S2KError):
        RadiusTrainConfig(radius_max=9.0)  # does not fit the 15×15 disk kernel
    wide, _ = make_radius_batch(pool, replace(cfg, patch_width=24), rng(0))  # rectangular crops
    assert wide.shape == (4, 1, 16, 24)
    with pytest.raises(S2KError):
        RadiusTrainConfig(patch_width=4)


def _l1(run):
    with (run / "log.csv").open() as fh:
        return [float(r["l1"]) for r in csv.DictReader(fh)]


def test_tiny_training_lowers_the_loss_resumes_and_exports(tmp_path, image_folder):
    run = tmp_path / "run"
    base = dict(
        scale=2,
        train_dirs=(str(image_folder),),
        val_dir=str(image_folder),
        val_start=1,
        val_count=2,
        val_every=20,
        batch_size=8,
        patch_size=24,
        width=8,
        depth=3,
        lr=3e-3,
        ema=0.9,
        workers=0,
        log_every=1,
        checkpoint_every=20,
        threads=1,
        radius_min=2.5,
        radius_max=3.0,
    )
    # radii far from the untrained output (about 2): a few steps must move it there
    train_radius(RadiusTrainConfig(iterations=40, **base), run, progress=False)
    with pytest.raises(S2KError):  # an existing run is not overwritten silently
        train_radius(RadiusTrainConfig(iterations=40, **base), run, progress=False)
    summary = train_radius(RadiusTrainConfig(iterations=60, **base), run, resume=True, progress=False)
    assert summary["iteration"] == 60
    l1 = _l1(run)
    assert len(l1) == 60 and np.mean(l1[-10:]) < 0.5 * np.mean(l1[:5])
    assert (run / "val.csv").is_file() and (run / "best.safetensors").is_file()

    meta = export_radius(run / "last.safetensors", tmp_path / "r.safetensors", extra={"blend": 0.25})
    assert meta["scale"] == 2 and meta["kind"] == "s2k-disk-radius"
    reg = dr.load_radius_regressor(tmp_path / "r.safetensors")
    assert reg.scale == 2 and reg.blend == 0.25
    lr = degrade(textured_image(64, 48, 3, seed=2), disk_kernel(2.0), 2)
    r = reg.radius(lr)
    assert np.isfinite(r) and r == reg.radius(lr)  # deterministic
    assert reg.radius(lr[:, :, 0]) != r  # grey is read as luminance: a different image here
    with pytest.raises(S2KError):
        reg.radius(lr[:4])
    with pytest.raises(S2KError):
        dr.load_radius_regressor(run / "config.json")

    # fine-tuning starts from the file: with the learning rate at 0 the run ends where it began
    tuned = tmp_path / "tuned"
    still = {**base, "lr": 0.0, "val_dir": ""}
    train_radius(
        RadiusTrainConfig(iterations=2, init=str(tmp_path / "r.safetensors"), **still), tuned, progress=False
    )
    export_radius(tuned / "last.safetensors", tmp_path / "t.safetensors")
    assert dr.load_radius_regressor(tmp_path / "t.safetensors").radius(lr) == pytest.approx(r, abs=1e-6)
    with pytest.raises(S2KError, match="differs"):  # another network is refused before any training
        wrong = RadiusTrainConfig(iterations=2, init=str(run / "last.safetensors"), **{**still, "width": 16})
        train_radius(wrong, tmp_path / "wrong", progress=False)


def _only(reg, scale):
    """A stand-in for ``shipped_radius_regressor``: ``reg`` as the noise-free regressor of ``scale`` alone."""
    return lambda s, noisy=False: reg if (s, noisy) == (scale, False) else None


class _Fixed:
    """A stand-in regressor that always reads ``value``."""

    combiner = None
    combine = dr.RadiusRegressor.combine

    def __init__(self, value: float, blend: float) -> None:
        self.value, self.blend = value, blend

    def radius(self, image: np.ndarray) -> float:
        return self.value


def test_disk_estimates_are_refined_by_the_blend_and_only_where_asked(monkeypatch):
    lr = degrade(textured_image(96, 96, 3, seed=1), pad_kernel(disk_kernel(2.0), 15), 3)
    monkeypatch.setattr(dr, "shipped_radius_regressor", lambda scale, noisy=False: None)
    plain = s2k.estimate_kernel(lr, 3, "disk")
    r0 = fit_disk(plain).params["radius"]
    fixed = _Fixed(r0 + 0.5, 0.4)
    monkeypatch.setattr(dr, "shipped_radius_regressor", _only(fixed, 3))
    k = s2k.estimate_kernel(lr, 3, "disk")
    assert k.shape == (15, 15) and abs(k.sum() - 1) < 1e-9
    assert fit_disk(k).params["radius"] == pytest.approx(r0 + 0.2, abs=0.011)
    noisy = s2k.estimate_kernel(lr, 3, "disk", noise=dr.MAX_NOISE)
    np.testing.assert_array_equal(noisy, plain)  # told the image is noisy: not refined
    raw = s2k.estimate_kernel(lr, 3, "disk", fit_family=False)
    assert fit_disk(raw).residual > 0  # the network's kernel, not a refined disk
    lr2 = degrade(textured_image(96, 96, 3, seed=1), pad_kernel(disk_kernel(2.0), 15), 2)
    np.testing.assert_array_equal(
        s2k.estimate_kernel(lr2, 2, "disk"),
        pad_kernel(fit_disk(s2k.estimate_kernel(lr2, 2, "disk", fit_family=False)).kernel, 15),
    )  # no regressor for ×2: the fit
    assert dr.refine_disk_radius(lr, 50.0, 3) <= 7.0  # clipped to the disk fit's range


def test_held_out_sets_start_after_the_benchmark_images(image_folder):
    whole = make_synthetic_set(image_folder, "disk", 2, seed=0)
    tail = make_synthetic_set(image_folder, "disk", 2, 2, seed=0, start=1)
    assert [it.name for it in tail] == [it.name for it in whole[1:3]]
    np.testing.assert_array_equal(tail[0].kernel, whole[0].kernel)  # kernels drawn from the seed afresh
    with pytest.raises(S2KError):
        make_synthetic_set(image_folder, "disk", 2, seed=0, start=-1)


def test_cli_trains_and_exports_with_a_blend(tmp_path, image_folder, capsys):
    from s2k.checkpoint import read_metadata
    from s2k.cli import main

    run = tmp_path / "run"
    args = [
        "train",
        "radius",
        "--out",
        str(run),
        "--scale",
        "2",
        "--train-dirs",
        str(image_folder),
        "--val-dir",
        "",
        "--iterations",
        "3",
        "--batch-size",
        "2",
        "--patch-size",
        "16",
        "--width",
        "4",
        "--depth",
        "2",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    # resumed without --iterations, a run keeps its own target (not the flag's default of 8000); where it
    # runs may change, what it learns may not
    resume = ["train", "radius", "--out", str(run), "--resume", "--quiet", "--threads", "2", "--lr", "9"]
    assert main(resume) == 0
    said = capsys.readouterr()
    assert "iteration 3," in said.out and "--lr ignored" in said.err
    saved = json.loads((run / "config.json").read_text())
    assert saved["threads"] == 2 and saved["lr"] == 1e-3 and saved["iterations"] == 3
    out = tmp_path / "r.safetensors"
    assert main(["train", "export", str(run / "last.safetensors"), "-o", str(out), "--blend", "0.3"]) == 0
    meta = read_metadata(out)
    assert meta["blend"] == 0.3 and meta["scale"] == 2
    assert meta["training"]["iteration"] == 3
    capsys.readouterr()
    bad = tmp_path / "bad.safetensors"
    assert main(["train", "export", str(run / "last.safetensors"), "-o", str(bad), "--blend", "2"]) == 2
    assert not bad.exists() and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_large_images_are_read_in_a_bounded_number_of_tiles(monkeypatch):
    torch.manual_seed(0)
    net = RadiusNet(RadiusNetConfig(width=4, depth=2)).eval()
    reg = dr.RadiusRegressor(net, 2, {})
    small = textured_image(40, 50, 3, seed=1).astype(np.float64)
    with torch.no_grad():
        whole = float(net(dr.image_luminance(small))[0])
    assert reg.radius(small) == pytest.approx(whole, abs=1e-6)  # fits one tile: the whole image
    seen = []
    maps = net.maps
    monkeypatch.setattr(net, "maps", lambda g: seen.append(tuple(g.shape)) or maps(g))
    reg.radius(textured_image(600, 500, 1, seed=2)[:, :, 0])
    assert seen == [(dr.MAX_TILES**2, 1, dr.TILE, dr.TILE)]


def test_cli_estimate_returns_the_refined_disk_like_the_api(tmp_path, monkeypatch, capsys):
    from s2k.cli import main
    from s2k.io import write_image

    lr = degrade(textured_image(96, 96, 3, seed=1), pad_kernel(disk_kernel(2.0), 15), 3)
    write_image(tmp_path / "lr.png", np.round(lr).astype(np.uint8))
    fixed = _Fixed(2.6, 0.5)
    monkeypatch.setattr(dr, "shipped_radius_regressor", _only(fixed, 3))
    argv = ["estimate", str(tmp_path / "lr.png"), "-s", "3", "--family", "disk", "--noise", "0"]
    assert main([*argv, "-o", str(tmp_path / "k.npy")]) == 0
    assert "radius refined from the pixels" in capsys.readouterr().out
    api = s2k.estimate_kernel(np.round(lr), 3, "disk")
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), api, atol=1e-12)
    assert main([*argv, "-o", str(tmp_path / "k2.npy"), "--no-fit"]) == 0
    assert "radius refined" not in capsys.readouterr().out


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("scale", [3, 4])
def test_shipped_regressors_are_safetensors_with_cards(scale, noisy):
    path = dr.default_radius_weights(scale, noisy)
    assert path.is_file() and path.stat().st_size < 50e6
    assert not path.read_bytes()[:2].startswith(b"\x80")  # a pickle starts with 0x80
    assert path.with_suffix(".md").is_file()  # model card
    reg = dr.load_radius_regressor(path)
    assert reg.scale == scale and 0.0 < reg.blend <= 1.0
    assert reg.meta["training"]["config"]["noise_max"] == (5.0 if noisy else 0.0)
    # the radius-dependent combiners that beat the linear blend on held-out images ship (docs/ESTIMATOR.md)
    assert (reg.combiner is not None) == ((scale, noisy) != (4, True))
    if reg.combiner is not None:
        errors = reg.meta["combiner"]["errors"]
        assert errors["combined_abs_err"] < errors["linear_abs_err"]
    assert dr.shipped_radius_regressor(2) is None  # ×2: the S2K fit alone
    lr = degrade(textured_image(120, 120, 3, seed=3), pad_kernel(disk_kernel(2.0), 15), scale)
    assert 0.5 < reg.radius(lr) < 5.0


def test_noisy_images_get_the_noise_trained_regressor_up_to_the_limit():
    for s in (3, 4):
        clean, noisy = dr.shipped_radius_regressor(s), dr.shipped_radius_regressor(s, noisy=True)
        assert clean is not noisy
        assert dr.regressor_for(s, 0.0) is clean and dr.regressor_for(s, dr.MAX_NOISE - 0.01) is clean
        assert dr.regressor_for(s, dr.MAX_NOISE) is noisy and dr.regressor_for(s, dr.NOISY_LIMIT) is noisy
        assert dr.regressor_for(s, dr.NOISY_LIMIT + 0.01) is None  # beyond what was measured: the fit alone
    assert dr.regressor_for(2, 0.0) is None and dr.regressor_for(2, 3.0) is None


def test_combiner_starts_as_the_linear_blend_and_learns_a_radius_dependent_weight():
    comb = RadiusCombiner(CombinerConfig(blend=0.6, hidden=8))
    rs, rc = torch.tensor([1.0, 2.0, 2.9]), torch.tensor([1.4, 1.8, 2.5])
    torch.testing.assert_close(comb(rs, rc), 0.4 * rs + 0.6 * rc)  # untrained: the linear blend
    with pytest.raises(S2KError):
        CombinerConfig(blend=1.5)
    # two readings, each good on its own half of the range: no single weight serves both halves
    from s2k.train.radius_combiner import CombinerFitConfig, fit_combiner, radius_errors

    rng = np.random.default_rng(0)
    r = rng.uniform(1.0, 3.0, 4000)
    small = r < 2.0
    r_s2k = r + rng.normal(0.0, 1.0, r.size) * np.where(small, 0.4, 0.02)
    r_cnn = r + rng.normal(0.0, 1.0, r.size) * np.where(small, 0.02, 0.4)
    problems = np.column_stack([r, r_s2k, r_cnn])
    fitted = fit_combiner(problems, 0.5, CombinerFitConfig(hidden=8, steps=600, seed=0))
    err = radius_errors(fitted, problems)
    assert err["linear_abs_err"] > 0.15 and err["combined_abs_err"] < 0.6 * err["linear_abs_err"]
    again = fit_combiner(problems, 0.5, CombinerFitConfig(hidden=8, steps=600, seed=0))
    assert radius_errors(again, problems) == err  # seeded: the same fit


def test_cli_fits_a_combiner_that_the_regressor_then_uses(tmp_path, image_folder, capsys):
    from s2k.checkpoint import read_metadata, save_checkpoint
    from s2k.cli import main

    torch.manual_seed(0)
    cfg = RadiusNetConfig(width=4, depth=2)
    net = RadiusNet(cfg)
    plain = tmp_path / "r.safetensors"
    meta = {"kind": dr.KIND, "scale": 3, "net": cfg.to_dict(), "blend": 0.5}
    save_checkpoint(plain, {"R": net}, None, meta)
    out = tmp_path / "c.safetensors"
    args = [
        "train",
        "radius-combiner",
        str(plain),
        "--out",
        str(out),
        "--train-dirs",
        str(image_folder),
        "--draws",
        "2",
        "--hidden",
        "4",
        "--steps",
        "50",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    assert "8 problems" in capsys.readouterr().out  # 4 images × 2 kernel draws
    meta = read_metadata(out)
    assert meta["combiner"]["fit"]["problems"] == 8 and meta["blend"] == 0.5 and meta["scale"] == 3
    before, after = dr.load_radius_regressor(plain), dr.load_radius_regressor(out)
    assert before.combiner is None and after.combiner is not None
    lr = degrade(textured_image(96, 96, 3, seed=1), pad_kernel(disk_kernel(2.0), 15), 3)
    assert after.radius(lr) == pytest.approx(before.radius(lr), abs=1e-6)  # the network itself unchanged
    assert before.combine(1.5, 2.5) == pytest.approx(2.0)
    with torch.no_grad():
        expected = float(after.combiner(torch.tensor([1.5]), torch.tensor([2.5]))[0])
    assert after.combine(1.5, 2.5) == pytest.approx(expected)
    assert after.combine(np.float64(1.5), np.float64(2.5)) == pytest.approx(expected)  # numpy radii too
    assert after.combine(1.5, 2.5) != pytest.approx(2.0, abs=1e-6)  # fitted: no longer the plain blend
    again = tmp_path / "c2.safetensors"
    assert main([*args[:2], str(out), "--out", str(again), *args[5:]]) == 0  # a file that has one: replaced
    assert dr.load_radius_regressor(again).combine(1.5, 2.5) == pytest.approx(after.combine(1.5, 2.5))
    edited = tmp_path / "edited.safetensors"  # a blend changed by hand after the fit: refused on load
    save_checkpoint(edited, {"R": after.net, "C": after.combiner}, None, {**meta, "blend": 0.7})
    with pytest.raises(S2KError, match="refit"):
        dr.load_radius_regressor(edited)
    capsys.readouterr()
    missing = tmp_path / "none.safetensors"
    assert main(["train", "radius-combiner", str(missing), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert not (tmp_path / "x.safetensors").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_dv_loss_weights_radius_errors_by_how_much_they_cost(tmp_path, image_folder):
    from s2k.metrics import kernel_dv

    w = dv_slope_weights(np.array([1.0, 1.6, 2.4]))
    # the known answer at r = 1.6 from the definition: D_v to the disks of r ± 0.05, per pixel of radius
    ref = (
        np.mean(
            [
                kernel_dv(pad_kernel(disk_kernel(1.6 + e), 15), pad_kernel(disk_kernel(1.6), 15))
                for e in (-0.05, 0.05)
            ]
        )
        / 0.05
    )
    assert w[1] == pytest.approx(ref) and (w > 0).all()
    assert w.max() > 1.5 * w.min()  # an error costs about twice as much at some radii as at others
    with pytest.raises(S2KError, match="loss"):
        RadiusTrainConfig(loss="l2")
    cfg = RadiusTrainConfig(
        scale=2,
        train_dirs=(str(image_folder),),
        val_dir="",
        iterations=30,
        batch_size=8,
        patch_size=24,
        width=8,
        depth=3,
        lr=3e-3,
        ema=0.9,
        log_every=1,
        threads=1,
        radius_min=2.5,
        radius_max=3.0,
        loss="dv",
    )
    train_radius(cfg, tmp_path / "run", progress=False)
    l1 = _l1(tmp_path / "run")
    assert np.isfinite(l1).all() and np.mean(l1[-5:]) < 0.5 * np.mean(l1[:5])


def test_combiner_problems_read_the_s2k_radius_with_the_model_a_noisy_image_gets(monkeypatch, image_folder):
    """The combiner is fitted on r_S2K as estimate_kernel reads it: by the S2K disk model for the draw's noise
    level (a noise-trained one where one ships), not always the noise-free one."""
    import s2k.train.radius_combiner as rc

    asked = []
    real = rc.get_estimator

    def spy(family, weights=None, noise=0.0):
        asked.append((family, noise))
        return real(family, weights, noise)

    monkeypatch.setattr(rc, "get_estimator", spy)
    torch.manual_seed(0)
    cfg = RadiusNetConfig(width=4, depth=2)
    reg = dr.RadiusRegressor(RadiusNet(cfg), 3, {"blend": 0.5})
    fit = rc.CombinerFitConfig(train_dirs=(str(image_folder),), n=1, draws=2, noise_min=1.0, noise_max=5.0)
    problems = rc.radius_problems(reg, fit, progress=False)
    assert problems.shape == (2, 3)
    assert asked == [("disk", 2.0), ("disk", 4.0)]  # each draw's level (spread over [1, 5])
