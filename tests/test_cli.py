"""CLI round trips and bad input: one-line error on stderr, exit status 2, no output file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from s2k.cli import main
from s2k.io import read_image, write_image


@pytest.fixture
def hr_png(tmp_path: Path, rgb_image: np.ndarray) -> Path:
    p = tmp_path / "hr.png"
    write_image(p, rgb_image)
    return p


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_kernel_round_trip(tmp_path, capsys):
    code, _, _ = run(
        [
            "kernel",
            "--family",
            "motion",
            "--seed",
            "4",
            "-o",
            str(tmp_path / "k.npy"),
            "--png",
            str(tmp_path / "k.png"),
        ],
        capsys,
    )
    assert code == 0
    k = np.load(tmp_path / "k.npy")
    from s2k.kernels import sample_kernel

    np.testing.assert_array_equal(k, sample_kernel("motion", np.random.default_rng(4)))
    assert read_image(tmp_path / "k.png").shape == (23 * 16, 23 * 16, 1)


def test_degrade_with_kernel_file_matches_scipy(tmp_path, hr_png, rgb_image, capsys):
    """The acceptance check: RGB + .npy kernel reproduces scipy reflect convolution, [0::s, 0::s], rounded."""
    rng = np.random.default_rng(7)
    k = rng.uniform(0, 1, (9, 11))
    k /= k.sum()
    np.save(tmp_path / "k.npy", k)
    code, _, err = run(
        [
            "degrade",
            str(hr_png),
            "-s",
            "3",
            "--kernel",
            str(tmp_path / "k.npy"),
            "-o",
            str(tmp_path / "lr.png"),
            "--kernel-out",
            str(tmp_path / "used.npy"),
        ],
        capsys,
    )
    assert code == 0, err
    lr = read_image(tmp_path / "lr.png")
    ref = np.stack([ndi.convolve(rgb_image[:, :, c], k, mode="reflect") for c in range(3)], -1)[::3, ::3]
    assert lr.shape == ref.shape
    assert np.max(np.abs(lr - np.round(ref))) <= 1
    np.testing.assert_allclose(np.load(tmp_path / "used.npy"), k)


def test_degrade_family_seed_reproducible(tmp_path, hr_png, capsys):
    outs = []
    for name in ("a.png", "b.png"):
        code, _, _ = run(
            [
                "degrade",
                str(hr_png),
                "-s",
                "2",
                "--family",
                "disk",
                "--seed",
                "3",
                "--noise",
                "2",
                "-o",
                str(tmp_path / name),
            ],
            capsys,
        )
        assert code == 0
        outs.append(read_image(tmp_path / name))
    np.testing.assert_array_equal(*outs)
    assert outs[0].shape == (31, 24, 3)


def test_spectrum_and_demo(tmp_path, hr_png, capsys):
    code, _, _ = run(
        [
            "spectrum",
            str(hr_png),
            "-o",
            str(tmp_path / "s.png"),
            "--size",
            "64",
            "--npy",
            str(tmp_path / "s.npy"),
        ],
        capsys,
    )
    assert code == 0
    assert read_image(tmp_path / "s.png").shape == (64, 64, 1)
    assert np.load(tmp_path / "s.npy").shape == (64, 64)
    code, out, _ = run(["demo", "--image", str(hr_png), "--out", str(tmp_path / "demo")], capsys)
    assert code == 0 and "wrote" in out and "D_v" in out and "PSNR-Y" in out
    for name in (
        "lr.png",
        "sr.png",
        "kernel_true.npy",
        "kernel_estimated.npy",
        "kernel_estimated.png",
        "spectrum.png",
        "demo.png",
    ):
        assert (tmp_path / "demo" / name).is_file()
    hr = read_image(hr_png)
    assert read_image(tmp_path / "demo" / "sr.png").shape == (hr.shape[0] // 2 * 2, hr.shape[1] // 2 * 2, 3)
    assert not (tmp_path / "demo" / "kernel_refined.npy").exists()  # Gaussian: the estimate is used as is
    code, out, _ = run(
        ["demo", "--image", str(hr_png), "--family", "motion", "--out", str(tmp_path / "m")], capsys
    )
    assert code == 0 and "refined the estimate" in out
    used = np.load(tmp_path / "m" / "kernel_refined.npy")  # the kernel the SR used, shown beside the estimate
    assert used.shape == np.load(tmp_path / "m" / "kernel_estimated.npy").shape
    assert abs(used.sum() - 1) < 1e-6 and (tmp_path / "m" / "kernel_refined.png").is_file()


@pytest.mark.parametrize("command", ["kernel", "degrade", "spectrum", "demo"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: s2k " + command in capsys.readouterr().out


def _bad_inputs(tmp: Path, hr: Path) -> dict[str, list[str]]:
    (tmp / "text.png").write_text("not an image")
    data = hr.read_bytes()
    (tmp / "trunc.png").write_bytes(data[: len(data) // 2])
    np.save(tmp / "k1d.npy", np.ones(5))
    np.save(tmp / "kneg.npy", -np.ones((3, 3)))
    np.save(tmp / "keven.npy", np.ones((4, 4)))
    np.save(tmp / "knan.npy", np.full((3, 3), np.nan))
    (tmp / "knot.npy").write_text("hello")
    out = str(tmp / "out.png")
    deg = ["degrade", str(hr), "-o", out]
    return {
        "missing file": ["degrade", str(tmp / "nope.png"), "-s", "2", "-o", out],
        "not an image": ["degrade", str(tmp / "text.png"), "-s", "2", "-o", out],
        "truncated": ["degrade", str(tmp / "trunc.png"), "-s", "2", "-o", out],
        "scale 0": [*deg, "-s", "0"],
        "scale 2.5": [*deg, "-s", "2.5"],
        "scale text": [*deg, "-s", "two"],
        "kernel 1-D": [*deg, "-s", "2", "--kernel", str(tmp / "k1d.npy")],
        "kernel negative": [*deg, "-s", "2", "--kernel", str(tmp / "kneg.npy")],
        "kernel even": [*deg, "-s", "2", "--kernel", str(tmp / "keven.npy")],
        "kernel NaN": [*deg, "-s", "2", "--kernel", str(tmp / "knan.npy")],
        "kernel not npy": [*deg, "-s", "2", "--kernel", str(tmp / "knot.npy")],
        "kernel missing": [*deg, "-s", "2", "--kernel", str(tmp / "none.npy")],
        "bad output ext": ["degrade", str(hr), "-s", "2", "-o", str(tmp / "out.xyz")],
        "negative noise": [*deg, "-s", "2", "--noise", "-1"],
        "unknown family": ["kernel", "--family", "gauss", "-o", str(tmp / "out.npy")],
        "spectrum missing": ["spectrum", str(tmp / "nope.png"), "-o", out],
        "spectrum truncated": ["spectrum", str(tmp / "trunc.png"), "-o", out],
    }


def test_bad_inputs_one_line_exit_2_no_output(tmp_path, hr_png, capsys):
    for name, argv in _bad_inputs(tmp_path, hr_png).items():
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors
            code = exc.code
        _, err = capsys.readouterr()
        assert code == 2, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0], (name, err)
        assert "Traceback" not in err
        assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.npy").exists(), name
        assert not (tmp_path / "out.xyz").exists(), name


def test_console_script_subprocess(tmp_path, hr_png):
    """The installed entry point: exit 2 and one line, no traceback, for a missing file."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "s2k.cli",
            "degrade",
            str(tmp_path / "x.png"),
            "-s",
            "2",
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
