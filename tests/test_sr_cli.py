"""`s2k sr`: non-blind with the TV prior (no weights needed) or a prior of one's own, folders, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import textured_image

from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.io import read_image, write_image
from s2k.kernels import gaussian_kernel
from s2k.metrics import psnr_y
from s2k.sr.bicubic import bicubic_upsample


def test_sr_with_kernel_tv_prior_beats_bicubic(tmp_path, capsys):
    hr = textured_image(96, 96, 3, seed=12)
    k = gaussian_kernel(15, 1.6, 1.1, 0.5)
    lr = degrade(hr, k, 2)
    write_image(tmp_path / "lr.png", lr)
    np.save(tmp_path / "k.npy", k)
    code = main(
        [
            "sr",
            str(tmp_path / "lr.png"),
            "-s",
            "2",
            "--kernel",
            str(tmp_path / "k.npy"),
            "--prior",
            "tv",
            "-o",
            str(tmp_path / "sr.png"),
            "--save-kernel",
            str(tmp_path / "used.npy"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    sr = read_image(tmp_path / "sr.png")
    assert sr.shape == hr.shape
    assert psnr_y(sr, hr, shave=2) > psnr_y(bicubic_upsample(lr, 2), hr, shave=2) + 0.5
    np.testing.assert_allclose(np.load(tmp_path / "used.npy"), k)


def test_sr_folder_in_folder_out(tmp_path, capsys):
    src = tmp_path / "in"
    for i in range(2):
        write_image(src / f"a{i}.png", textured_image(24, 20, 3, seed=i))
    np.save(tmp_path / "k.npy", gaussian_kernel(15, 1.2, 1.2, 0.0))
    code = main(
        [
            "sr",
            str(src),
            "-s",
            "3",
            "--kernel",
            str(tmp_path / "k.npy"),
            "--prior",
            "tv",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert read_image(tmp_path / "out" / "a1.png").shape == (72, 60, 3)


def test_sr_bad_input(tmp_path, capsys):
    write_image(tmp_path / "lr.png", textured_image(24, 20, 3))
    np.save(tmp_path / "bad.npy", np.full((5, 5), np.nan))
    np.save(tmp_path / "flat.npy", np.ones(7))
    for argv in (
        ["--kernel", str(tmp_path / "bad.npy")],
        ["--kernel", str(tmp_path / "flat.npy")],
        ["--kernel", str(tmp_path / "none.npy")],
    ):
        code = main(["sr", str(tmp_path / "lr.png"), "-s", "2", "-o", str(tmp_path / "sr.png"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "sr.png").exists()


def _own_prior(path) -> None:
    """A small trained-looking denoiser weight file, as `s2k train denoiser` exports one."""
    import torch

    from s2k.checkpoint import save_checkpoint
    from s2k.nets.denoiser import DenoiserConfig, DenoiserNet

    cfg = DenoiserConfig(widths=(8, 16), blocks=(0, 1))
    torch.manual_seed(3)
    net = DenoiserNet(cfg)
    torch.nn.init.normal_(net.tail.weight, std=0.02)  # not the identity
    save_checkpoint(path, {"net": net}, None, {"kind": "s2k-denoiser", "denoiser": cfg.to_dict()})


def test_sr_with_a_prior_of_ones_own(tmp_path, capsys):
    from s2k.pipeline import super_resolve
    from s2k.sr.pnp import pnp_super_resolve

    lr = degrade(textured_image(48, 40, 3, seed=4), gaussian_kernel(15, 1.4, 1.0, 0.3), 2)
    k = gaussian_kernel(15, 1.4, 1.0, 0.3)
    write_image(tmp_path / "lr.png", lr)
    np.save(tmp_path / "k.npy", k)
    _own_prior(tmp_path / "mine.safetensors")
    argv = ["sr", str(tmp_path / "lr.png"), "-s", "2", "--kernel", str(tmp_path / "k.npy")]
    code = main([*argv, "--prior", str(tmp_path / "mine.safetensors"), "-o", str(tmp_path / "sr.png")])
    assert code == 0, capsys.readouterr().err
    lr8 = read_image(tmp_path / "lr.png")
    direct = pnp_super_resolve(lr8, k, 2, denoiser=str(tmp_path / "mine.safetensors"))
    api = super_resolve(lr8, 2, k, prior=tmp_path / "mine.safetensors").image
    np.testing.assert_allclose(api, direct, atol=1e-4)
    assert np.abs(read_image(tmp_path / "sr.png") - np.clip(np.round(api), 0, 255)).max() <= 1
    shipped = super_resolve(lr8, 2, k).image
    assert np.abs(shipped - api).max() > 1  # the file's network ran, not the shipped one
    # a missing file, a weight file of another kind, a prior for sftmd: one-line errors, no output
    other = Path(__file__).resolve().parents[1] / "s2k" / "weights" / "estimator-disk.safetensors"
    for extra in (
        ["--prior", str(tmp_path / "none.safetensors")],
        ["--prior", str(other)],
        ["--prior", "tv", "--backend", "sftmd"],
        ["--border", "reflect", "--backend", "sftmd"],
    ):
        code = main([*argv, *extra, "-o", str(tmp_path / "bad.png")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "bad.png").exists()


def test_sr_border_reflect_round_trip(tmp_path, capsys):
    from s2k.pipeline import super_resolve

    k = gaussian_kernel(15, 1.8, 1.2, 0.3)
    lr = degrade(textured_image(40, 36, 3, seed=5), k, 2)
    write_image(tmp_path / "lr.png", lr)
    np.save(tmp_path / "k.npy", k)
    argv = ["sr", str(tmp_path / "lr.png"), "-s", "2", "--kernel", str(tmp_path / "k.npy")]
    assert main([*argv, "--border", "reflect", "-o", str(tmp_path / "sr.png")]) == 0, capsys.readouterr().err
    lr8 = read_image(tmp_path / "lr.png")
    api = super_resolve(lr8, 2, k, border="reflect").image
    assert np.abs(read_image(tmp_path / "sr.png") - np.clip(np.round(api), 0, 255)).max() <= 1
    assert np.abs(api - super_resolve(lr8, 2, k).image).max() > 1  # the assumption changed the result
    with pytest.raises(S2KError, match="border"):
        super_resolve(lr8, 2, k, border="mirror")


def test_sr_noise_auto_estimates_the_level_and_restores_the_noisy_photo(tmp_path, capsys):
    """A noisy LR restored as noise-free comes out grainy: `s2k sr` estimates the noise by default (auto)
    and warns when told the image is noise-free."""
    from s2k.pipeline import super_resolve

    hr = textured_image(96, 96, 3, seed=14)
    k = gaussian_kernel(15, 1.6, 1.6, 0.0)
    lr = degrade(hr, k, 2, noise=8.0, rng=0)
    write_image(tmp_path / "lr.png", lr)
    np.save(tmp_path / "k.npy", k)
    base = ["sr", str(tmp_path / "lr.png"), "-s", "2", "--kernel", str(tmp_path / "k.npy")]
    assert main([*base, "--noise", "0", "-o", str(tmp_path / "zero.png")]) == 0
    assert "looks noisy" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "auto.png")]) == 0  # the default: --noise auto
    captured = capsys.readouterr()
    assert "(estimated)" in captured.out and "looks noisy" not in captured.err
    zero, auto = read_image(tmp_path / "zero.png"), read_image(tmp_path / "auto.png")
    assert psnr_y(auto, hr, shave=2) > psnr_y(zero, hr, shave=2) + 3.0
    res = super_resolve(lr, 2, k, noise="auto")
    assert res.noise_estimated and res.noise == pytest.approx(8.0, rel=0.25)
    np.testing.assert_array_equal(res.image.round(), auto)  # the CLI is the API
    with pytest.raises(SystemExit) as exc:
        main([*base, "--noise", "loud", "-o", str(tmp_path / "x.png")])
    assert exc.value.code == 2
    assert "number >= 0 or auto" in capsys.readouterr().err
    with pytest.raises(S2KError, match="pnp backend"):
        super_resolve(lr, 2, k, backend="sftmd", noise="auto")
    with pytest.raises(S2KError, match="noise must be a number or 'auto'"):
        super_resolve(lr, 2, k, noise="loud")
    assert not (tmp_path / "x.png").exists()
    # sftmd is noise-free: the default (auto) runs it with 0 and points to pnp
    assert main([*base, "--backend", "sftmd", "-o", str(tmp_path / "sftmd.png")]) == 0
    captured = capsys.readouterr()
    assert "looks noisy" in captured.err and "--backend pnp" in captured.err
    assert "(estimated)" not in captured.out and (tmp_path / "sftmd.png").is_file()
    write_image(tmp_path / "tiny.png", lr[:20, :20])  # 4 blocks of 8×8: too few to tell
    assert (
        main(
            [
                "sr",
                str(tmp_path / "tiny.png"),
                "-s",
                "2",
                "--kernel",
                str(tmp_path / "k.npy"),
                "-o",
                str(tmp_path / "tiny_sr.png"),
            ]
        )
        == 0
    )
    assert "noise-free (too small to estimate the noise)" in capsys.readouterr().out


def test_sr_jpeg_input_gets_the_jpeg_noise_floor(tmp_path, capsys):
    """JPEG flattens the blocks the noise estimate reads; `s2k sr` assumes at least the file's JPEG floor."""
    from PIL import Image

    from s2k.io import jpeg_luma_quantization
    from s2k.noise import jpeg_noise_floor
    from s2k.pipeline import super_resolve

    hr = textured_image(128, 128, 3, seed=15)
    k = gaussian_kernel(15, 1.6, 1.6, 0.0)
    Image.fromarray(degrade(hr, k, 2).astype(np.uint8)).save(tmp_path / "lr.jpg", quality=75)
    np.save(tmp_path / "k.npy", k)
    base = ["sr", str(tmp_path / "lr.jpg"), "-s", "2", "--kernel", str(tmp_path / "k.npy")]
    assert main([*base, "-o", str(tmp_path / "auto.png")]) == 0
    floor = jpeg_noise_floor(jpeg_luma_quantization(tmp_path / "lr.jpg"))
    assert f"JPEG: at least {floor:.1f})" in capsys.readouterr().out
    assert main([*base, "--noise", "0", "-o", str(tmp_path / "zero.png")]) == 0
    assert "looks noisy" in capsys.readouterr().err  # the JPEG floor says so, whatever the estimate reads
    auto, zero = read_image(tmp_path / "auto.png"), read_image(tmp_path / "zero.png")
    assert psnr_y(auto, hr, shave=2) > psnr_y(zero, hr, shave=2) + 1.0
    res = super_resolve(read_image(tmp_path / "lr.jpg"), 2, k, noise="auto", noise_floor=floor)
    assert res.noise_estimated and res.noise >= floor
    np.testing.assert_array_equal(res.image.round(), auto)
    with pytest.raises(S2KError, match="noise_floor applies with noise='auto' only"):
        super_resolve(read_image(tmp_path / "lr.jpg"), 2, k, noise=1.0, noise_floor=floor)
