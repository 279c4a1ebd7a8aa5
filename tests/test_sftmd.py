"""The sftmd backend: kernel PCA, network, tiny training run, shipped weights, pipeline and CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from conftest import textured_image

from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.io import read_image, write_image
from s2k.kernel_pca import fit_kernel_pca, kernel_pool, reconstruction_error
from s2k.kernels import bicubic_like_kernel, gaussian_kernel, sample_kernels
from s2k.metrics import psnr_y
from s2k.nets.sftmd import SFTMD, SFTMDConfig, load_sftmd
from s2k.pipeline import super_resolve
from s2k.sr.bicubic import bicubic_upsample
from s2k.sr.sftmd import sftmd_super_resolve
from s2k.train.sr import SRTrainConfig, export_sftmd, train_sr


def test_kernel_pca_round_trip_and_errors():
    pool = kernel_pool(("gaussian", "disk"), 60, 0)
    full = fit_kernel_pca(pool, 119, 15)  # rank of 120 centred samples: 119
    ks = pool[0][:5]
    np.testing.assert_allclose(full.decode(full.encode(ks)), ks, atol=1e-10)
    small = fit_kernel_pca(pool, 8, 15)
    assert small.encode(ks).shape == (5, 8) and small.encode(ks[0]).shape == (8,)
    # codes are O(1): unit weighted spread over the pool
    codes = small.encode(np.concatenate(pool))
    assert 0.3 < codes.std(axis=0).mean() < 3
    assert reconstruction_error(small, sample_kernels("gaussian", 20, 5)) < 0.05
    assert reconstruction_error(full, ks) < 1e-12
    with pytest.raises(S2KError, match="canvas"):
        small.encode(np.ones((17, 17)))
    with pytest.raises(S2KError):
        fit_kernel_pca(pool, 0, 15)


def tiny_net() -> SFTMD:
    torch.manual_seed(0)
    net = SFTMD(SFTMDConfig(width=8, blocks=1, code_dim=4, sft_hidden=8, canvas=15))
    net.set_pca(fit_kernel_pca(kernel_pool(("gaussian",), 30, 0), 4, 15))
    return net.eval()


@pytest.mark.parametrize("s", [2, 3, 4])
def test_network_shapes_and_scale_check(s):
    net = tiny_net()
    out = net(torch.rand(2, 3, 10, 12), torch.zeros(2, 4), s)
    assert out.shape == (2, 3, 10 * s, 12 * s)
    with pytest.raises(S2KError, match="scales"):
        net(torch.rand(1, 3, 8, 8), torch.zeros(1, 4), 5)
    with pytest.raises(S2KError, match="does not fit"):
        net.set_pca(fit_kernel_pca(kernel_pool(("gaussian",), 30, 0), 3, 15))


def test_backend_grey_alpha_tiling_and_bad_input():
    net = tiny_net()
    k = gaussian_kernel(15, 1.5, 1.0, 0.3)
    grey = textured_image(20, 18, 1, seed=1)[:, :, 0]
    assert sftmd_super_resolve(grey, k, 2, net=net).shape == (40, 36)
    rgba = np.concatenate([textured_image(20, 18, 3, seed=2), np.full((20, 18, 1), 200.0)], axis=2)
    out = sftmd_super_resolve(rgba, k, 3, net=net)
    assert out.shape == (60, 54, 4) and np.allclose(out[:, :, 3], 200.0)
    big = textured_image(40, 44, 3, seed=3)
    whole = sftmd_super_resolve(big, k, 2, net=net, tile=0)
    tiled = sftmd_super_resolve(big, k, 2, net=net, tile=24, overlap=8)
    assert psnr_y(whole, tiled) > 40
    with pytest.raises(S2KError, match="noise"):
        sftmd_super_resolve(big, k, 2, net=net, noise=5)
    with pytest.raises(S2KError, match="canvas"):
        sftmd_super_resolve(big, np.ones((17, 17)), 2, net=net)
    with pytest.raises(S2KError):
        sftmd_super_resolve(big, k, 5, net=net)


def test_tiny_training_resume_export_and_fine_tune(tmp_path):
    folder = tmp_path / "imgs"
    for i in range(3):
        write_image(folder / f"im{i}.png", textured_image(100, 120, 3, seed=20 + i))
    base = dict(
        families=("gaussian",),
        scales=(2,),
        train_dirs=(str(folder),),
        val_dir=str(folder),
        val_count=1,
        val_every=20,
        batch_size=4,
        lr_patch=16,
        width=8,
        blocks=1,
        code_dim=4,
        sft_hidden=8,
        canvas=15,
        pca_per_family=40,
        workers=0,
        threads=1,
        log_every=1,
        checkpoint_every=20,
        lr=2e-3,
    )
    run = tmp_path / "run"
    torch.manual_seed(0)
    assert train_sr(SRTrainConfig(**{**base, "iterations": 20}), run, progress=False)["iteration"] == 20
    summary = train_sr(SRTrainConfig(**{**base, "iterations": 40}), run, resume=True, progress=False)
    assert summary["iteration"] == 40
    with (run / "log.csv").open() as fh:
        loss = [float(r["loss"]) for r in csv.DictReader(fh)]
    assert len(loss) == 40 and np.mean(loss[-8:]) < np.mean(loss[:4])
    meta = export_sftmd(run / "last.safetensors", tmp_path / "w.safetensors")
    assert meta["kind"] == "s2k-sftmd"
    net = load_sftmd(tmp_path / "w.safetensors")
    assert net.pca_basis.dtype == torch.float64  # the PCA keeps full precision in the fp16 file
    lr = degrade(textured_image(40, 40, 3, seed=4), gaussian_kernel(15, 1.2, 1.2, 0.0), 2)
    assert sftmd_super_resolve(lr, gaussian_kernel(15, 1.2, 1.2, 0.0), 2, net=net).shape == (40, 40, 3)
    tuned = train_sr(
        SRTrainConfig(**{**base, "iterations": 3, "val_dir": "", "init": str(tmp_path / "w.safetensors")}),
        tmp_path / "tuned",
        progress=False,
    )
    assert tuned["iteration"] == 3
    with pytest.raises(S2KError, match="differs"):
        train_sr(
            SRTrainConfig(**{**base, "width": 16, "init": str(tmp_path / "w.safetensors")}),
            tmp_path / "bad",
            progress=False,
        )


def test_shipped_sftmd_beats_bicubic_blind_and_non_blind():
    hr = textured_image(96, 96, 3, seed=31)
    k = gaussian_kernel(15, 1.8, 1.2, 0.7)
    lr = degrade(hr, k, 2)
    base = psnr_y(hr, bicubic_upsample(lr, 2), shave=2)
    res = super_resolve(lr, 2, k, backend="sftmd")
    assert not res.kernel_estimated and psnr_y(hr, res.image, shave=2) > base + 1.0
    blind = super_resolve(lr, 2, backend="sftmd")
    assert blind.kernel_estimated and psnr_y(hr, blind.image, shave=2) > base + 0.5
    unaware = super_resolve(lr, 2, "bicubic", backend="sftmd")
    np.testing.assert_allclose(unaware.kernel, bicubic_like_kernel(2))


def test_shipped_denoiser_pnp_beats_bicubic():
    hr = textured_image(96, 96, 3, seed=32)
    k = gaussian_kernel(15, 1.8, 1.2, 0.7)
    lr = degrade(hr, k, 2)
    sr = super_resolve(lr, 2, k).image  # default: pnp with the shipped learned prior
    assert psnr_y(hr, sr, shave=2) > psnr_y(hr, bicubic_upsample(lr, 2), shave=2) + 0.5


def test_bicubic_like_kernel():
    assert bicubic_like_kernel(1).shape == (1, 1)
    for s in (2, 3, 4):
        k = bicubic_like_kernel(s)
        assert k.shape == (2 * s - 1, 2 * s - 1) and abs(k.sum() - 1) < 1e-12 and k.min() > 0
        np.testing.assert_allclose(k, k.T)
        np.testing.assert_allclose(k, k[::-1, ::-1])
    with pytest.raises(S2KError):
        bicubic_like_kernel(0)
    with pytest.raises(S2KError, match="bicubic"):
        super_resolve(np.zeros((8, 8)), 2, "box")


def test_cli_sftmd_and_unaware(tmp_path, capsys):
    lr = degrade(textured_image(64, 64, 3, seed=33), gaussian_kernel(15, 1.5, 1.5, 0.0), 2)
    write_image(tmp_path / "lr.png", lr)
    assert (
        main(
            [
                "sr",
                str(tmp_path / "lr.png"),
                "-s",
                "2",
                "--backend",
                "sftmd",
                "-o",
                str(tmp_path / "sr.png"),
                "--save-kernel",
                str(tmp_path / "k.npy"),
            ]
        )
        == 0
    )
    assert read_image(tmp_path / "sr.png").shape == (64, 64, 3)
    assert np.load(tmp_path / "k.npy").shape == (15, 15)
    assert (
        main(
            ["sr", str(tmp_path / "lr.png"), "-s", "2", "--kernel", "bicubic", "-o", str(tmp_path / "u.png")]
        )
        == 0
    )
    assert "bicubic kernel" in capsys.readouterr().out
    # sftmd refuses noise and unserved scales: one line, exit 2, no output
    assert (
        main(
            [
                "sr",
                str(tmp_path / "lr.png"),
                "-s",
                "2",
                "--backend",
                "sftmd",
                "--noise",
                "5",
                "-o",
                str(tmp_path / "n.png"),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "sr",
                str(tmp_path / "lr.png"),
                "-s",
                "5",
                "--backend",
                "sftmd",
                "--kernel",
                "bicubic",
                "-o",
                str(tmp_path / "x5.png"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "n.png").exists() and not (tmp_path / "x5.png").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "noise" in err
