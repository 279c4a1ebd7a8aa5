"""Non-blind SR: FFT data step, bicubic reference, PnP with a classical prior, tiling, the denoiser."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from conftest import textured_image

import s2k.nets.denoiser as denoiser_mod
from s2k.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from s2k.data import load_hr_pool
from s2k.degradation import blur_downsample_torch, degrade
from s2k.errors import S2KError
from s2k.io import write_image
from s2k.kernels import gaussian_kernel, isotropic_gaussian_kernel, sample_kernel
from s2k.metrics import psnr_y
from s2k.nets.denoiser import (
    DenoiserConfig,
    DenoiserNet,
    RoundDenoisers,
    default_denoiser,
    grow_denoiser,
    load_denoiser,
    prior_for_scale,
    scale_weights_path,
)
from s2k.sr import PnPConfig, bicubic_upsample, pnp_super_resolve, pnp_torch, tiled_apply
from s2k.sr.fft_data import (
    DataStep,
    _times_tiled,
    block_mean,
    block_mean_half,
    block_tile,
    p2o,
    periodic_blur_downsample,
    upsample_zeros,
)
from s2k.sr.pnp import seam_pad
from s2k.sr.tiling import tile_starts
from s2k.train.denoiser import (
    DenoiserTrainConfig,
    export_denoiser,
    init_denoiser,
    make_denoiser_batch,
    make_sr_batch,
    scaled,
    sr_kernel_sampler,
    train_denoiser,
)


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-10, rtol: float = 1e-7) -> None:
    """assert_allclose on tensors (numpy's: torch.testing imports torch.distributed, seconds of start-up)."""
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=rtol)


# ------------------------------------------------------------------------------------------------------
# the FFT data step


def _dense_operator(k: np.ndarray, n1: int, n2: int, s: int) -> np.ndarray:
    """The explicit periodic blur + down-sampling matrix: y[i, j] = Σ_u x[(s·i − u) mod N] k[u]."""
    m1, m2 = n1 // s, n2 // s
    r1, r2 = k.shape[0] // 2, k.shape[1] // 2
    a = np.zeros((m1 * m2, n1 * n2))
    for i in range(m1):
        for j in range(m2):
            for du in range(-r1, r1 + 1):
                for dv in range(-r2, r2 + 1):
                    a[i * m2 + j, ((s * i - du) % n1) * n2 + (s * j - dv) % n2] += k[du + r1, dv + r2]
    return a


@pytest.mark.parametrize(("s", "n1", "n2"), [(2, 12, 12), (3, 12, 12), (3, 12, 15), (2, 10, 14)])
def test_data_step_solves_normal_equations(s, n1, n2):
    rng = np.random.default_rng(s * 100 + n2)
    k = rng.random((5, 5))
    k /= k.sum()
    a = _dense_operator(k, n1, n2, s)
    y = rng.random((2, n1 // s, n2 // s)) * 255
    z = rng.random((2, n1, n2)) * 255
    alpha = rng.uniform(0.01, 2.0)
    lhs = a.T @ a + alpha * np.eye(n1 * n2)
    dense = np.stack([np.linalg.solve(lhs, a.T @ y[b].ravel() + alpha * z[b].ravel()) for b in range(2)])
    fast = DataStep.create(torch.from_numpy(y), torch.from_numpy(k), s).solve(torch.from_numpy(z), alpha)
    assert fast.dtype == torch.float64
    assert np.abs(fast.numpy().reshape(2, -1) - dense).max() < 1e-8
    # and the periodic forward operator is that matrix
    x = rng.random((n1, n2))
    fwd = periodic_blur_downsample(torch.from_numpy(x), p2o(torch.from_numpy(k), (n1, n2)), s)
    assert np.abs(fwd.numpy().ravel() - a @ x.ravel()).max() < 1e-10
    # the solver's own forward (from x's half spectrum), new observations and a shared spectrum
    step = DataStep.create(torch.from_numpy(y), torch.from_numpy(k), s)
    xt = torch.from_numpy(x)
    assert np.abs(step.forward(xt).numpy().ravel() - a @ x.ravel()).max() < 1e-10
    assert np.abs(step.forward(xt, torch.fft.rfft2(xt)).numpy().ravel() - a @ x.ravel()).max() < 1e-10
    y2 = torch.from_numpy(rng.random((2, n1 // s, n2 // s)) * 255)
    zt = torch.from_numpy(z)
    fresh = DataStep.create(y2, torch.from_numpy(k), s).solve(zt, alpha)
    _close(step.with_y(y2).solve(zt, alpha), fresh)
    _close(step.with_y(y2).solve(zt, alpha, torch.fft.rfft2(zt)), fresh)


def test_block_operators_are_the_aliasing_of_downsampling():
    rng = np.random.default_rng(0)
    v = torch.from_numpy(rng.random((2, 12, 18)))
    for s in (2, 3):
        direct = torch.fft.fft2(v[..., ::s, ::s])
        _close(block_mean(torch.fft.fft2(v), s), direct)
        _close(block_mean_half(torch.fft.rfft2(v), s, 18), direct)
        u = torch.from_numpy(rng.random((2, 12 // s, 18 // s)))
        up = torch.fft.fft2(upsample_zeros(u, s))
        _close(up, torch.fft.fft2(u).repeat(1, s, s))
        # the data step's fused product with the tiled LR spectrum, on an rfft2 half
        half = torch.fft.rfft2(v)
        lr_spec = torch.fft.fft2(u)
        _close(_times_tiled(half, lr_spec, s), half * block_tile(lr_spec, s)[..., : 18 // 2 + 1])


@pytest.mark.parametrize("s", [2, 3, 4])
def test_periodic_forward_matches_degradation_in_the_interior(s):
    rng = np.random.default_rng(s)
    x = torch.from_numpy(rng.random((1, 2, 48, 60)) * 255)
    k = rng.random((7, 5))  # asymmetric and non-square: catches flips and transposes
    k /= k.sum()
    kt = torch.from_numpy(k)
    ref = blur_downsample_torch(x, kt, s)
    per = periodic_blur_downsample(x, p2o(kt, (48, 60)), s)
    assert per.shape == ref.shape
    i = np.arange(ref.shape[-2])
    j = np.arange(ref.shape[-1])
    rows = i[(s * i - 3 >= 0) & (s * i + 3 <= 47)]
    cols = j[(s * j - 2 >= 0) & (s * j + 2 <= 59)]
    diff = (per - ref).numpy()[0][:, rows][:, :, cols]
    assert np.abs(diff).max() < 1e-9
    assert (per - ref).abs().max().item() > 1e-3  # the borders do differ (periodic vs symmetric)


def test_seam_pad_keeps_the_image_and_reflects_next_to_it():
    x = torch.arange(30.0).reshape(1, 1, 5, 6)
    out = seam_pad(x, (3, 4), (2, 5), keep=2)
    assert out.shape == (1, 1, 12, 13)
    _close(out[..., 3:8, 2:8], x)
    _close(out[..., 3:8, 1], x[..., :, 0])  # half-sample reflection
    _close(out[..., 3:8, 8], x[..., :, 5])
    _close(out[..., 8, 2:8], x[..., 4, :])


# ------------------------------------------------------------------------------------------------------
# bicubic reference


@pytest.mark.parametrize("s", [2, 3, 4])
def test_bicubic_constant_ramp_and_interpolation(s):
    const = np.full((9, 11, 3), 77.0)
    np.testing.assert_allclose(bicubic_upsample(const, s), 77.0, atol=1e-12)
    # a linear ramp in LR pixels is reproduced exactly at HR positions n / s away from the borders
    yy, xx = np.mgrid[0:12, 0:14].astype(np.float64)
    ramp = 10 + 3 * yy + 5 * xx
    up = bicubic_upsample(ramp, s, clip=False)
    assert up.shape == (12 * s, 14 * s)
    ny, nx = np.mgrid[0 : 12 * s, 0 : 14 * s].astype(np.float64)
    expect = 10 + 3 * ny / s + 5 * nx / s
    inner = (slice(2 * s, 10 * s), slice(2 * s, 12 * s))
    np.testing.assert_allclose(up[inner], expect[inner], atol=1e-9)
    # interpolating: LR pixel i lands on HR pixel s·i exactly
    im = textured_image(10, 13, 3, seed=4)
    up = bicubic_upsample(im, s, clip=False)
    np.testing.assert_allclose(up[::s, ::s], im, atol=1e-9)


@pytest.mark.parametrize("s", [2, 4])
def test_image_resize_bicubic_is_the_pixel_centred_grid(s):
    from s2k.sr.bicubic import image_resize_bicubic

    np.testing.assert_allclose(image_resize_bicubic(np.full((9, 11, 3), 77.0), s), 77.0, atol=1e-4)
    yy, xx = np.mgrid[0:12, 0:14].astype(np.float64)
    up = image_resize_bicubic(10 + 3 * yy + 5 * xx, s)
    assert up.shape == (12 * s, 14 * s)
    ny, nx = np.mgrid[0 : 12 * s, 0 : 14 * s].astype(np.float64)
    # HR pixel n samples the LR coordinate (n + 0.5)/s - 0.5: (s - 1)/2 HR pixels off s2k's grid
    expect = 10 + 3 * ((ny + 0.5) / s - 0.5) + 5 * ((nx + 0.5) / s - 0.5)
    inner = (slice(2 * s, 10 * s), slice(2 * s, 12 * s))
    np.testing.assert_allclose(up[inner], expect[inner], atol=1e-3)


# ------------------------------------------------------------------------------------------------------
# PnP with the classical (TV) prior

TV20 = PnPConfig(iterations=20)  # the calibration baseline: TV prior, 20 iterations


@pytest.mark.parametrize("s", [2, 3])
def test_pnp_tv_beats_bicubic(s):
    hr = textured_image(72, 72, 3, seed=3)
    k = gaussian_kernel(15, 1.6, 2.4, 0.7)
    lr = degrade(hr, k, s)
    sr = pnp_super_resolve(lr, k, s, denoiser="tv", config=TV20)
    assert sr.shape == hr.shape and sr.dtype == np.float64
    assert sr.min() >= 0 and sr.max() <= 255
    gain = psnr_y(hr, sr, s) - psnr_y(hr, bicubic_upsample(lr, s), s)
    assert gain > 0.8, gain


def _smooth_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A cheap deterministic stand-in prior: 3×3 box blend, stronger for larger σ."""
    w = (sigma / 50.0).clamp(0, 1).reshape(-1, 1, 1, 1).to(x.dtype)
    c = x.shape[1]
    box = torch.full((c, 1, 3, 3), 1 / 9, dtype=x.dtype)
    blurred = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), box, groups=c
    )
    return (1 - w) * x + w * blurred


def test_pnp_batch_with_per_image_kernels_matches_single_calls():
    rng = np.random.default_rng(0)
    lrs = [degrade(textured_image(48, 40, 3, seed=i), sample_kernel("gaussian", rng), 2) for i in range(2)]
    ks = np.stack([isotropic_gaussian_kernel(15, 1.2), isotropic_gaussian_kernel(15, 2.5)])
    batch = torch.from_numpy(np.stack([im.transpose(2, 0, 1) for im in lrs]))
    cfg = PnPConfig(iterations=4, dtype="float64")
    out = pnp_torch(batch, torch.from_numpy(ks), 2, torch.tensor([0.0, 5.0]), _smooth_denoiser, cfg)
    for b in range(2):
        single = pnp_torch(batch[b : b + 1], torch.from_numpy(ks[b]), 2, [0.0, 5.0][b], _smooth_denoiser, cfg)
        _close(out[b : b + 1], single)


def test_pnp_keeps_alpha_and_grey():
    rgba = np.concatenate([textured_image(20, 24, 3, seed=5), np.full((20, 24, 1), 200.0)], axis=2)
    k = isotropic_gaussian_kernel(7, 1.0)
    cfg = PnPConfig(iterations=2)
    out = pnp_super_resolve(rgba, k, 3, denoiser=_smooth_denoiser, config=cfg)
    assert out.shape == (60, 72, 4)
    np.testing.assert_allclose(out[:, :, 3], 200.0, atol=1e-9)
    grey = pnp_super_resolve(rgba[:, :, 0], k, 2, denoiser=_smooth_denoiser, config=cfg)
    assert grey.shape == (40, 48)


def test_pnp_takes_a_list_of_one_prior_per_round():
    lr = textured_image(20, 24, 3, seed=7)
    k = isotropic_gaussian_kernel(7, 1.0)
    cfg = PnPConfig(iterations=3, dtype="float64")
    calls: list[int] = []

    def counting(i: int):
        def prior(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            calls.append(i)
            return _smooth_denoiser(x, sigma)

        return prior

    shared = pnp_super_resolve(lr, k, 2, denoiser=_smooth_denoiser, config=cfg)
    per_round = pnp_super_resolve(lr, k, 2, denoiser=[counting(i) for i in range(3)], config=cfg)
    assert calls == [0, 1, 2]  # round i ran the i-th prior
    np.testing.assert_allclose(per_round, shared, atol=1e-9)
    with pytest.raises(S2KError, match="2 per-round priors for 3 HQS rounds"):
        pnp_super_resolve(lr, k, 2, denoiser=[_smooth_denoiser] * 2, config=cfg)
    with pytest.raises(S2KError, match="list of one callable per round"):
        pnp_super_resolve(lr, k, 2, denoiser=[1, 2, 3], config=cfg)


def test_tiling_identity_and_accuracy():
    hr = textured_image(96, 96, 3, seed=6)
    k = isotropic_gaussian_kernel(15, 1.8)
    s = 2
    lr = degrade(hr, k, s)
    cfg = PnPConfig(iterations=8, tv_strength=0.5, tile=0)
    whole = pnp_super_resolve(lr, k, s, denoiser="tv", config=cfg)
    # a tile larger than the image: identical
    big = PnPConfig(iterations=8, tv_strength=0.5, tile=64, tile_overlap=8)
    np.testing.assert_array_equal(pnp_super_resolve(lr, k, s, denoiser="tv", config=big), whole)
    # 48×48 LR in tiles of 32 with 12 shared pixels: close to untiled
    tiled = pnp_super_resolve(
        lr, k, s, denoiser="tv", config=PnPConfig(iterations=8, tv_strength=0.5, tile=32, tile_overlap=12)
    )
    assert abs(psnr_y(hr, tiled, s) - psnr_y(hr, whole, s)) < 0.05
    assert psnr_y(whole, tiled, s) > 40


def test_tiled_apply_blends_to_the_function_for_pointwise_maps():
    im = textured_image(50, 37, 2, seed=7)

    def nearest(t: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(t, 3, axis=0), 3, axis=1) * 2.0

    out = tiled_apply(nearest, im, 3, tile=16, overlap=4)
    assert out.dtype == np.float32  # tiled outputs accumulate in float32 (bounded memory)
    np.testing.assert_allclose(out, nearest(im), atol=1e-4)  # weights are normalised
    with pytest.raises(S2KError):
        tiled_apply(nearest, im, 3, tile=8, overlap=4)


def test_tiles_progress_bar_on_request_only(capsys):
    im = textured_image(50, 37, 3, seed=8)

    def nearest(t: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(t, 2, axis=0), 2, axis=1)

    quiet = tiled_apply(nearest, im, 2, tile=16, overlap=4)
    assert capsys.readouterr().err == ""
    shown = tiled_apply(nearest, im, 2, tile=16, overlap=4, progress=True)
    err = capsys.readouterr().err
    n = len(tile_starts(50, 16, 4)) * len(tile_starts(37, 16, 4))
    assert f"0/{n} " in err and "tile/s" in err  # a bar over the n tiles (cleared when done)
    np.testing.assert_array_equal(shown, quiet)


# ------------------------------------------------------------------------------------------------------
# the denoiser network

TINY = DenoiserConfig(channels=3, unshuffle=2, widths=(8, 16), blocks=(0, 1))


def _save_tiny_prior(path, seed: int) -> DenoiserNet:
    """A TINY shared denoiser that is not the identity (its tail drawn at random), saved as a weight file."""
    torch.manual_seed(seed)
    net = DenoiserNet(TINY).eval()
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.05)
    save_checkpoint(path, {"net": net}, None, {"kind": "s2k-denoiser", "denoiser": TINY.to_dict()})
    return net


def test_denoiser_shapes_and_residual_form():
    net = DenoiserNet(TINY).eval()
    x = torch.rand(2, 3, 37, 45)
    with torch.no_grad():
        _close(net(x, 0.1), x)  # the last layer starts at zero: an untrained network is the identity
        torch.manual_seed(0)
        torch.nn.init.normal_(net.tail.weight, std=0.1)
        sig = torch.tensor([0.1, 0.2])
        out = net(x, sig)
        assert out.shape == x.shape and not torch.allclose(out, x)
        xs = x[..., :32, :40]  # sides multiples of the size factor (4): no internal padding
        _close(net(xs, sig), xs - net.noise(xs, sig), atol=1e-6)  # residual form
    grey = net.denoise(torch.rand(1, 1, 20, 21) * 255, torch.tensor([10.0]))
    assert grey.shape == (1, 1, 20, 21)
    sr = pnp_super_resolve(
        textured_image(16, 20, 3),
        isotropic_gaussian_kernel(7, 1.0),
        2,
        denoiser=net,
        config=PnPConfig(iterations=2),
    )
    assert sr.shape == (32, 40, 3)


def test_grow_denoiser_keeps_the_function_and_every_weight_trains():
    torch.manual_seed(0)
    net = DenoiserNet(TINY)
    torch.nn.init.normal_(net.tail.weight, std=0.1)
    x, sig = torch.rand(2, 3, 32, 48), torch.tensor([0.05, 0.2])  # sides multiples of every factor below
    for widths, blocks in [((8, 16), (1, 2)), ((8, 16, 32), (0, 1, 1)), ((8, 16, 32, 32), (2, 1, 2, 1))]:
        grown = grow_denoiser(net, DenoiserConfig(channels=3, unshuffle=2, widths=widths, blocks=blocks))
        with torch.no_grad():
            _close(grown(x, sig), net(x, sig), atol=1e-6)
        opt = torch.optim.SGD(grown.parameters(), lr=0.1)
        for _ in range(2):  # zero-started weights get gradients at once, the parts they gate next
            opt.zero_grad()
            (grown(x, sig) - x * 0.5).square().mean().backward()
            opt.step()
        still = [n for n, p in grown.named_parameters() if p.grad is None or not p.grad.abs().sum()]
        assert not still, (widths, blocks, still)
    with pytest.raises(ValueError):
        grow_denoiser(net, DenoiserConfig(widths=(16, 16), blocks=(0, 1)))  # widths differ
    with pytest.raises(ValueError):
        grow_denoiser(net, DenoiserConfig(widths=(8, 16, 32), blocks=(0, 0, 1)))  # fewer blocks
    with pytest.raises(ValueError):
        grow_denoiser(net, DenoiserConfig(unshuffle=1, widths=(8, 16), blocks=(0, 1)))


def test_training_can_start_from_a_smaller_network_grown(tmp_path):
    from s2k.nets.denoiser import RoundDenoisers

    torch.manual_seed(1)
    small = DenoiserNet(TINY)
    torch.nn.init.normal_(small.tail.weight, std=0.1)
    save_checkpoint(
        tmp_path / "small.safetensors",
        {"net": small},
        None,
        {"kind": "s2k-denoiser", "denoiser": TINY.to_dict()},
    )
    big_cfg = DenoiserConfig(channels=3, unshuffle=2, widths=(8, 16, 32), blocks=(0, 2, 1))
    big = DenoiserNet(big_cfg)
    init_denoiser(big, tmp_path / "small.safetensors", grow=True)
    x, sig = torch.rand(1, 3, 32, 40), torch.tensor([0.1])
    with torch.no_grad():
        _close(big(x, sig), small(x, sig), atol=1e-6)
    with pytest.raises(S2KError):  # without grow the shapes differ
        init_denoiser(DenoiserNet(big_cfg), tmp_path / "small.safetensors")
    other = DenoiserConfig(channels=3, unshuffle=2, widths=(16, 32), blocks=(0, 1))
    with pytest.raises(S2KError):  # widths that do not extend the file's: nothing to grow into
        init_denoiser(DenoiserNet(other), tmp_path / "small.safetensors", grow=True)
    rounds = RoundDenoisers(big_cfg, 2)  # a shared file grows into every round
    init_denoiser(rounds, tmp_path / "small.safetensors", grow=True)
    with torch.no_grad():
        _close(rounds(x, sig, 1), small(x, sig), atol=1e-6)
    small_rounds = RoundDenoisers(TINY, 2)  # a file per round grows round by round
    for i, own in enumerate(small_rounds.nets):
        own.load_state_dict(small.state_dict())
        torch.nn.init.normal_(own.tail.weight, std=0.1 * (i + 1))
    save_checkpoint(
        tmp_path / "rounds.safetensors",
        {"net": small_rounds},
        None,
        {"kind": "s2k-denoiser", "denoiser": TINY.to_dict(), "rounds": 2},
    )
    init_denoiser(rounds, tmp_path / "rounds.safetensors", grow=True)
    with torch.no_grad():
        for i in range(2):
            _close(rounds(x, sig, i), small_rounds(x, sig, i), atol=1e-6)
        assert (rounds(x, sig, 0) - rounds(x, sig, 1)).abs().max() > 1e-3
    with pytest.raises(S2KError):  # two networks cannot grow into three rounds
        init_denoiser(RoundDenoisers(big_cfg, 3), tmp_path / "rounds.safetensors", grow=True)
    with pytest.raises(S2KError):
        DenoiserTrainConfig(grow=True)  # grow needs init


def _tiny_run_config(tmp_path, train_shape, val_shape, seed, **fields) -> DenoiserTrainConfig:
    """A TINY-network run config on three generated training images and one validation image."""
    for i in range(3):
        write_image(
            tmp_path / "train" / f"im{i}.png", textured_image(*train_shape, 3, seed=seed + i).astype(np.uint8)
        )
    write_image(tmp_path / "val" / "v0.png", textured_image(*val_shape, 3, seed=seed + 10).astype(np.uint8))
    return DenoiserTrainConfig(
        train_dirs=(str(tmp_path / "train"),),
        val_dir=str(tmp_path / "val"),
        val_count=1,
        batch_size=4,
        unshuffle=TINY.unshuffle,
        widths=TINY.widths,
        blocks=TINY.blocks,
        lr_schedule="constant",
        **fields,
    )


def test_denoiser_training_export_and_load(tmp_path):
    cfg = _tiny_run_config(
        tmp_path,
        (80, 96),
        (40, 48),
        seed=10,
        val_crop=32,
        val_every=30,
        iterations=60,
        patch_size=32,
        log_every=1,
        checkpoint_every=30,
        lr=5e-3,
        sigma_min=25.0,
        sigma_max=35.0,
    )
    run = tmp_path / "run"
    summary = train_denoiser(cfg, run, progress=False)
    assert summary["iteration"] == 60
    with (run / "log.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 60
    # the loss on a fixed batch (batch losses vary with their random σ): untrained = identity
    pool = load_hr_pool(cfg.train_dirs, progress=False)
    clean, noisy, sigma = make_denoiser_batch(pool, cfg, np.random.default_rng(123))
    trained = DenoiserNet(TINY)
    load_checkpoint(run / "last.safetensors", {"net": trained})
    with torch.no_grad():
        before = torch.nn.functional.l1_loss(DenoiserNet(TINY)(noisy, sigma), clean).item()
        after = torch.nn.functional.l1_loss(trained(noisy, sigma), clean).item()
    assert after < 0.85 * before, (before, after)
    with (run / "val.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == [30, 60] and "psnr_s15" in rows[0]
    assert (run / "best.safetensors").is_file() and (run / "config.json").is_file()
    with pytest.raises(S2KError):
        train_denoiser(cfg, run, progress=False)  # refuses to overwrite a run
    train_denoiser(
        DenoiserTrainConfig(**{**cfg.__dict__, "iterations": 65}), run, resume=True, progress=False
    )
    with (run / "log.csv").open() as fh:
        assert int(list(csv.DictReader(fh))[-1]["iteration"]) == 65

    meta = export_denoiser(run / "last.safetensors", tmp_path / "denoiser.safetensors")
    assert meta["kind"] == "s2k-denoiser" and meta["training"]["iteration"] == 65
    net = load_denoiser(tmp_path / "denoiser.safetensors")
    ref = DenoiserNet(TINY)
    load_checkpoint(run / "last.safetensors", {"net": ref})
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        _close(net(x, 0.1), ref(x, 0.1), atol=2e-3, rtol=0)
    with pytest.raises(S2KError):
        load_denoiser(run / "nothing.safetensors")
    with pytest.raises(S2KError):
        export_denoiser(tmp_path / "denoiser.safetensors", tmp_path / "again.safetensors")


def test_default_denoiser_missing_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(denoiser_mod, "WEIGHTS_PATH", tmp_path / "absent.safetensors")
    default_denoiser.cache_clear()
    try:
        with pytest.raises(S2KError, match="denoiser"):
            default_denoiser()
        with pytest.raises(S2KError):
            pnp_super_resolve(textured_image(8, 8, 3), isotropic_gaussian_kernel(5, 1.0), 2)
    finally:
        default_denoiser.cache_clear()


def test_default_prior_is_the_scales_own_where_one_is_shipped(tmp_path, monkeypatch):
    _save_tiny_prior(tmp_path / "denoiser.safetensors", seed=5)
    meta = {"kind": "s2k-denoiser", "denoiser": TINY.to_dict()}
    own = RoundDenoisers(TINY, 4).eval()
    init_denoiser(own, tmp_path / "denoiser.safetensors")
    with torch.no_grad():
        own.nets[1].tail.weight.mul_(-1.0)  # this round now differs from the shared network
    save_checkpoint(tmp_path / "denoiser-x3.safetensors", {"net": own}, None, {**meta, "rounds": 4})
    monkeypatch.setattr(denoiser_mod, "WEIGHTS_PATH", tmp_path / "denoiser.safetensors")
    default_denoiser.cache_clear()
    try:
        assert scale_weights_path(3) == tmp_path / "denoiser-x3.safetensors"
        assert isinstance(prior_for_scale(3, 4), RoundDenoisers)
        assert isinstance(prior_for_scale(3, 8), DenoiserNet)  # another number of rounds: the shared one
        assert isinstance(prior_for_scale(2, 4), DenoiserNet)  # no ×2 file: the shared one
        lr = textured_image(16, 20, 3, seed=9)
        k = isotropic_gaussian_kernel(15, 1.2)
        cfg4 = PnPConfig(iterations=4)
        own_file, shared_file = tmp_path / "denoiser-x3.safetensors", tmp_path / "denoiser.safetensors"
        by_default = pnp_super_resolve(lr, k, 3, config=cfg4)
        np.testing.assert_array_equal(by_default, pnp_super_resolve(lr, k, 3, denoiser=own_file, config=cfg4))
        with_shared = pnp_super_resolve(lr, k, 3, denoiser=shared_file, config=cfg4)
        assert np.abs(by_default - with_shared).max() > 1e-3
        at_x2 = pnp_super_resolve(lr, k, 2, config=cfg4)
        np.testing.assert_array_equal(at_x2, pnp_super_resolve(lr, k, 2, denoiser=shared_file, config=cfg4))
    finally:
        default_denoiser.cache_clear()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shipped_scale_priors_are_round_networks_with_cards(scale):
    path = scale_weights_path(scale)
    meta = read_metadata(path)
    assert meta["kind"] == "s2k-denoiser" and meta["rounds"] == 8
    assert meta["training"]["config"]["sr_scales"] == [scale]
    stages = [st["stage"] for st in meta["history"]]
    assert stages == list(range(1, len(stages) + 1)) and len(stages) >= 4  # stage 4: the per-scale fine-tune
    card = path.with_suffix(".md").read_text()
    assert all(f"stage {n} training" in card for n in stages) and "H200" in card
    assert isinstance(prior_for_scale(scale, 8), RoundDenoisers)


# ------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kernel", "scale", "noise"),
    [
        (np.ones(5) / 5, 2, 0.0),  # 1-D kernel
        (np.ones((4, 4)) / 16, 2, 0.0),  # even side
        (np.ones((3, 3, 3)) / 27, 2, 0.0),  # 3-D
        (np.full((5, 5), np.nan), 2, 0.0),  # NaN
        (np.ones((5, 5)) / 25, 2.5, 0.0),  # non-integer scale
        (np.ones((5, 5)) / 25, 0, 0.0),
        (np.ones((5, 5)) / 25, 2, -1.0),  # negative noise
    ],
)
def test_bad_input(kernel, scale, noise):
    with pytest.raises(S2KError):
        pnp_super_resolve(textured_image(8, 8, 3), kernel, scale, noise=noise, denoiser="tv")


def test_bad_image_and_config():
    k = isotropic_gaussian_kernel(5, 1.0)
    with pytest.raises(S2KError):
        pnp_super_resolve(np.full((8, 8), np.nan), k, 2, denoiser="tv")
    with pytest.raises(S2KError):
        pnp_super_resolve(np.zeros((8, 8, 5)), k, 2, denoiser="tv")
    with pytest.raises(S2KError):
        PnPConfig(iterations=0)
    with pytest.raises(S2KError):
        bicubic_upsample(np.zeros((4, 4)), 1.5)


def test_random_crops_larger_than_every_image_is_an_error():
    from s2k.data import random_crops

    pool = [np.zeros((40, 60, 3), np.uint8)]
    assert random_crops(pool, 2, 60, 40, np.random.default_rng(0)).shape == (2, 60, 40, 3)  # rotated
    with pytest.raises(S2KError, match="crop"):
        random_crops(pool, 2, 64, 64, np.random.default_rng(0))


def test_boundary_update_removes_border_artefacts_of_motion_kernels():
    from pathlib import Path

    import s2k
    from s2k.io import read_image
    from s2k.kernels import sample_kernels
    from s2k.sr.pnp import PnPConfig, pnp_super_resolve

    hr = read_image(Path(s2k.__file__).parent / "assets" / "sample.png")[40:136, 120:216]
    k = sample_kernels("motion", 1, 0)[0]  # a long diagonal camera-shake path
    lr = degrade(hr, k, 2)
    plain = pnp_super_resolve(lr, k, 2, denoiser="tv", config=PnPConfig(boundary_update=False))
    updated = pnp_super_resolve(lr, k, 2, denoiser="tv")
    assert psnr_y(hr, updated, shave=2) > psnr_y(hr, plain, shave=2) + 1.0
    assert psnr_y(hr, updated, shave=2) > psnr_y(hr, bicubic_upsample(lr, 2), shave=2)


def test_boundary_update_continues_the_residual_across_the_edge():
    from s2k.sr.pnp import boundary_update

    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 3, 12, 14, generator=g, dtype=torch.float64)
    pred = torch.rand(1, 3, 12, 14, generator=g, dtype=torch.float64)
    r = y - pred
    plain = boundary_update(y, 3, (6, 7), 2)(pred, 1)
    _close(plain[..., 3:9, 3:10], y[..., 3:9, 3:10])  # the real pixels stay
    _close(plain[..., :3, :], pred[..., :3, :])  # the padding is the prediction
    _close(plain[..., 3:9, 10:], pred[..., 3:9, 10:])
    update = boundary_update(y, 3, (6, 7), 2, gain=0.5, taper=2.0, first=torch.tensor([0.25]))
    out = update(pred, 1)
    _close(out[..., 3:9, 3:10], y[..., 3:9, 3:10])
    # left of the image: the mirrored residual, full gain next to it, half one pixel further, none beyond
    _close(out[..., 3:9, 2], pred[..., 3:9, 2] + 0.5 * r[..., 3:9, 3])
    _close(out[..., 3:9, 1], pred[..., 3:9, 1] + 0.25 * r[..., 3:9, 4])
    _close(out[..., 3:9, 0], pred[..., 3:9, 0])
    _close(out[..., 9, 3:10], pred[..., 9, 3:10] + 0.5 * r[..., 8, 3:10])  # below it likewise
    # the first round keeps (1 - first) of y's own padding (first: the kernel's asymmetry)
    _close(update(pred, 0), 0.75 * y + 0.25 * out)
    _close(boundary_update(y, 3, (6, 7), 2, gain=0.5)(pred, 0), y)
    with pytest.raises(S2KError):
        PnPConfig(residual_extension=-1.0)


def test_kernel_asymmetry():
    from s2k.kernels import sample_kernels
    from s2k.sr.pnp import kernel_asymmetry

    g = torch.from_numpy(gaussian_kernel(15, 2.0, 1.0, 0.7))
    assert float(kernel_asymmetry(g)) < 1e-12  # centrosymmetric
    shift = torch.zeros(5, 5, dtype=torch.float64)
    shift[2, 3] = 1.0  # all the mass off centre: its rotation shares none of it
    assert float(kernel_asymmetry(shift)) == pytest.approx(1.0)
    m = torch.from_numpy(np.stack([sample_kernels("motion", 1, 0)[0], gaussian_kernel(23, 1.5, 1.5, 0.0)]))
    a = kernel_asymmetry(m[:, None] * 3.0)  # batched, any scale
    assert a.shape == (2,) and a[0] > 0.05 and float(a[1]) < 1e-12


def test_reflect_border_keeps_the_image_and_mirrors_it_outside():
    from s2k.sr.pnp import reflect_border

    x = torch.rand(1, 3, 40, 44, dtype=torch.float64)
    y = reflect_border(6, (28, 30), 4)(x)
    assert y.shape == x.shape
    _close(y[..., 6:34, 6:36], x[..., 6:34, 6:36])  # the image region is left as it is
    _close(y[..., 2:6, 6:36], x[..., 6:10, 6:36].flip(-2))  # half-sample reflection next to it
    _close(y[..., 6:34, 36:40], x[..., 6:34, 32:36].flip(-1))


def test_reflect_border_recovers_the_border_of_s2k_degradation():
    """An image made with s2k's convention (half-sample reflection beyond its edges): assuming that
    convention restores it better than leaving the outside free, by a margin on a small crop (where the
    border is a large part of the image)."""
    from pathlib import Path

    import s2k
    from s2k.io import read_image

    hr = read_image(Path(s2k.__file__).parent / "assets" / "sample.png")[40:136, 120:216]
    k = gaussian_kernel(15, 2.0, 1.6, 0.5)
    lr = degrade(hr, k, 2)
    free = pnp_super_resolve(lr, k, 2)
    reflect = pnp_super_resolve(lr, k, 2, config=PnPConfig(border="reflect"))
    assert psnr_y(hr, reflect, shave=2) > psnr_y(hr, free, shave=2) + 0.05
    # and the default boundary update, which continues the residual outside, beats one that does not
    plain = pnp_super_resolve(lr, k, 2, config=PnPConfig(residual_extension=0.0))
    assert psnr_y(hr, free, shave=2) > psnr_y(hr, plain, shave=2) + 0.2
    with pytest.raises(S2KError, match="border"):
        PnPConfig(border="zero")


# ------------------------------------------------------------------------------------------------------
# the prior trained through the unrolled PnP loop (objective "sr")


def _sr_config(tmp_path, **kw) -> DenoiserTrainConfig:
    base = dict(
        objective="sr",
        val_crop=48,
        val_every=20,
        iterations=40,
        patch_size=48,
        log_every=10,
        checkpoint_every=20,
        lr=3e-3,
        sr_scales=(2, 4),
        sr_iterations=4,
        sr_val_cases=("gaussian:2", "motion:2"),
    )
    return _tiny_run_config(tmp_path, (72, 96), (60, 64), seed=30, **{**base, **kw})


def test_sr_batch_is_the_periodic_degradation(tmp_path):
    from scipy.ndimage import convolve

    cfg = _sr_config(tmp_path, sr_noisy_fraction=0.5)
    pool = load_hr_pool(cfg.train_dirs, progress=False)
    batch = make_sr_batch(pool, cfg, np.random.default_rng(5), sr_kernel_sampler(cfg))
    s = batch.scale
    assert s in cfg.sr_scales and batch.hr.shape == (4, 3, 48, 48)
    assert batch.lr.shape == (4, 3, 48 // s, 48 // s)
    np.testing.assert_allclose(batch.kernels.sum(dim=(-2, -1)).numpy(), 1.0, atol=1e-5)
    for b in range(4):
        k = batch.kernels[b, 0].double().numpy()
        expect = np.stack([convolve(batch.hr[b, c].double().numpy(), k, mode="wrap") for c in range(3)])
        lr = batch.lr[b].double().numpy()
        if batch.noise[b] == 0:  # quantisation only: exactly the rounded periodic blur, every s-th pixel
            np.testing.assert_array_equal(lr, np.clip(np.round(expect[:, ::s, ::s]), 0, 255))
        else:
            assert 0 < batch.noise[b] <= cfg.sr_noise_max
            assert 0.3 * batch.noise[b] < np.std(lr - expect[:, ::s, ::s]) < 3 * batch.noise[b] + 1


def test_padded_sr_batch_has_real_borders(tmp_path):
    cfg0 = _sr_config(
        tmp_path,
        sr_borders="padded",
        sr_photo_fraction=0.0,
        sr_scales=(2,),
        patch_size=24,
        sr_families=("gaussian",),
        sr_noisy_fraction=0.0,
    )
    pool = load_hr_pool(cfg0.train_dirs, progress=False)
    # s2k's convention: exactly what s2k.degrade makes of the HR crop (symmetric borders)
    batch = make_sr_batch(pool, cfg0, np.random.default_rng(5), sr_kernel_sampler(cfg0))
    assert batch.hr.shape == (4, 3, 24, 24) and batch.lr.shape == (4, 3, 12, 12)
    for b in range(4):
        hr, k = batch.hr[b].double().numpy().transpose(1, 2, 0), batch.kernels[b, 0].double().numpy()
        expect = degrade(hr, k, 2)
        diff = np.abs(batch.lr[b].double().numpy().transpose(1, 2, 0) - expect)
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.99  # float32 vs float64 rounding ties only
    # photo-like: the LR border saw content beyond the crop, so it differs there, and agrees inside
    cfg1 = _sr_config(
        tmp_path,
        sr_borders="padded",
        sr_photo_fraction=1.0,
        sr_scales=(2,),
        patch_size=24,
        sr_families=("gaussian",),
        sr_noisy_fraction=0.0,
    )
    batch = make_sr_batch(pool, cfg1, np.random.default_rng(5), sr_kernel_sampler(cfg1))
    assert batch.hr.shape == (4, 3, 24, 24) and batch.lr.shape == (4, 3, 12, 12)
    border_diff = []
    for b in range(4):
        k = batch.kernels[b, 0].double().numpy()
        expect = degrade(batch.hr[b].double().numpy().transpose(1, 2, 0), k, 2).transpose(2, 0, 1)
        lr = batch.lr[b].double().numpy()
        r = -(-(k.shape[0] // 2) // 2)  # LR pixels the kernel reaches beyond the crop
        assert np.abs(lr[:, r:-r, r:-r] - expect[:, r:-r, r:-r]).max() <= 1
        border_diff.append(np.abs(lr[:, 0] - expect[:, 0]).mean())
    assert max(border_diff) > 1.0
    with pytest.raises(S2KError, match="sr_borders"):
        _sr_config(tmp_path, sr_borders="wrap")


def test_pnp_torch_keeps_gradients_when_asked():
    torch.manual_seed(0)
    net = DenoiserNet(TINY)
    lr = torch.from_numpy(degrade(textured_image(48, 40, 3, seed=2), isotropic_gaussian_kernel(15, 1.5), 2))
    lr = lr.permute(2, 0, 1)[None].float()
    k = torch.from_numpy(isotropic_gaussian_kernel(15, 1.5)).float()
    cfg = PnPConfig(iterations=3)
    out = pnp_torch(lr, k, 2, 0.0, scaled(net), cfg, grad=True)
    assert out.shape == (1, 3, 48, 40)
    out.mean().backward()
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in net.parameters())
    assert any(w.grad.abs().sum() > 0 for w in net.parameters())
    plain = pnp_torch(lr, k, 2, 0.0, scaled(net), cfg)
    assert not plain.requires_grad
    _close(out.detach(), plain)


def test_views_cycle_through_the_eight_flips_and_rotations():
    from s2k.sr.pnp import view

    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).reshape(2, 3, 4, 6)
    views = [view(x, i) for i in range(8)]
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    assert all(torch.equal(view(v, i, inverse=True), x) for i, v in enumerate(views))
    # a prior that commutes with every flip/rotation gives the same result cycled or not; one that does not
    # (a shift along one axis) differs
    lr = torch.from_numpy(degrade(textured_image(32, 40, 3, seed=4), isotropic_gaussian_kernel(15, 1.5), 2))
    lr = lr.permute(2, 0, 1)[None]
    k = torch.from_numpy(isotropic_gaussian_kernel(15, 1.5))

    def shift(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x + torch.roll(x, 1, dims=-1))

    assert PnPConfig().cycle_views
    for prior, same in ((_smooth_denoiser, True), (shift, False)):
        outs = [
            pnp_torch(lr, k, 2, 0.0, prior, PnPConfig(iterations=4, dtype="float64", cycle_views=c))
            for c in (False, True)
        ]
        assert torch.allclose(*outs, atol=1e-9) == same


def test_prior_trained_through_the_unrolled_loop(tmp_path):
    from s2k.sr.pnp import unrolled_pnp

    start = _save_tiny_prior(tmp_path / "init.safetensors", seed=3)  # not the identity: init must load it
    cfg = _sr_config(tmp_path, init=str(tmp_path / "init.safetensors"))
    run = tmp_path / "run"
    summary = train_denoiser(cfg, run, progress=False)
    assert summary["iteration"] == 40
    with (run / "val.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == [20, 40]
    assert {"psnr_gaussian2", "psnr_motion2", "psnr_mean"} <= set(rows[0])
    # the loss of the unrolled loop on fixed batches went down from the init weights
    pool = load_hr_pool(cfg.train_dirs, progress=False)
    draw = sr_kernel_sampler(cfg)
    rng = np.random.default_rng(123)
    batches = [make_sr_batch(pool, cfg, rng, draw) for _ in range(4)]
    trained = DenoiserNet(TINY)
    load_checkpoint(run / "last.safetensors", {"net": trained})

    def loss(net: DenoiserNet) -> float:
        values = []
        with torch.no_grad():
            for b in batches:
                sr = unrolled_pnp(b.lr, b.kernels, b.scale, b.noise, scaled(net), PnPConfig(iterations=4))
                values.append(torch.nn.functional.l1_loss(sr, b.hr).item())
        return float(np.mean(values))

    assert loss(trained) < 0.9 * loss(start), (loss(start), loss(trained))
    # init checks the network
    other = DenoiserConfig(channels=3, unshuffle=2, widths=(8, 8), blocks=(0, 1))
    save_checkpoint(
        tmp_path / "other.safetensors",
        {"net": DenoiserNet(other)},
        None,
        {"kind": "s2k-denoiser", "denoiser": other.to_dict()},
    )
    with pytest.raises(S2KError, match="differs"):
        cfg = _sr_config(tmp_path, init=str(tmp_path / "other.safetensors"))
        train_denoiser(cfg, tmp_path / "r2", progress=False)


def test_untied_rounds_start_from_a_shared_prior_and_train_apart(tmp_path):
    init = tmp_path / "shared.safetensors"
    shared = _save_tiny_prior(init, seed=4)
    # a shared network copied into every round gives exactly the shared prior's SR
    stack = RoundDenoisers(TINY, 4).eval()
    init_denoiser(stack, init)
    lr = textured_image(20, 24, 3, seed=8)
    k = isotropic_gaussian_kernel(15, 1.2)
    cfg4 = PnPConfig(iterations=4)
    np.testing.assert_array_equal(
        pnp_super_resolve(lr, k, 2, denoiser=stack, config=cfg4),
        pnp_super_resolve(lr, k, 2, denoiser=shared, config=cfg4),
    )
    with pytest.raises(S2KError, match="per HQS round"):
        pnp_super_resolve(lr, k, 2, denoiser=stack)  # 8 iterations for a 4-round prior
    # training unties them; the export loads back as one network per round
    cfg = _sr_config(tmp_path, init=str(init), rounds=4, iterations=20)
    train_denoiser(cfg, tmp_path / "run", progress=False)
    export_denoiser(tmp_path / "run" / "last.safetensors", tmp_path / "untied.safetensors", half=False)
    net = load_denoiser(tmp_path / "untied.safetensors")
    assert isinstance(net, RoundDenoisers) and net.rounds == 4
    first = net.nets[0].tail.weight
    assert not any(torch.equal(first, other.tail.weight) for other in list(net.nets)[1:])
    assert pnp_super_resolve(lr, k, 2, denoiser=net, config=cfg4).shape == (40, 48, 3)
    # an untied file cannot start a run with another number of rounds, nor a shared network
    with pytest.raises(S2KError, match="differs"):
        init_denoiser(RoundDenoisers(TINY, 3), tmp_path / "untied.safetensors")
    with pytest.raises(S2KError, match="differs"):
        init_denoiser(DenoiserNet(TINY), tmp_path / "untied.safetensors")


@pytest.mark.parametrize(
    "kw",
    [
        {"rounds": 3},  # neither 1 nor sr_iterations (4)
        {"rounds": 4, "objective": "denoise"},
        {"objective": "deblur"},
        {"patch_size": 42},  # not a multiple of the network's factor 4
        {"sr_val_cases": ("gaussian",)},
        {"sr_val_cases": ("box:2",)},
        {"sr_families": ("box",)},
        {"sr_noisy_fraction": 1.5},
    ],
)
def test_sr_objective_bad_config(tmp_path, kw):
    with pytest.raises(S2KError):
        _sr_config(tmp_path, **kw)


def test_objective_picks_its_default_sizes():
    sr = DenoiserTrainConfig(objective="sr")
    assert (sr.patch_size, sr.val_crop) == (96, 192)  # multiples of 8, 2, 3 and 4
    deeper = DenoiserTrainConfig(objective="sr", widths=(16, 32, 64, 128), blocks=(0, 1, 1, 1))
    assert deeper.patch_size == 96  # factor 16: HR 96 = 16 × 6 holds whole LR pixels at ×2, ×3, ×4
    plain = DenoiserTrainConfig()
    assert (plain.patch_size, plain.val_crop) == (64, 128)
