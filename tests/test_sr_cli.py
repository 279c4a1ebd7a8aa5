"""`s2k sr`: non-blind with the TV prior (no weights needed), folders, bad input."""

from __future__ import annotations

import numpy as np
from conftest import textured_image

from s2k.cli import main
from s2k.degradation import degrade
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
