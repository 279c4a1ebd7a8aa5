"""`s2k bench` end to end on two small generated images; the spectral-fit baseline."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import textured_image

import s2k
from s2k.bench import FIELDS, ablation_estimators
from s2k.cli import main
from s2k.data import iter_synthetic_set, make_synthetic_set, synthetic_set_images
from s2k.degradation import degrade
from s2k.io import read_image, write_image
from s2k.kernels import gaussian_kernel
from s2k.spectral_fit import fit_gaussian_covariance, spectral_fit_kernel

SAMPLE = Path(s2k.__file__).parent / "assets" / "sample.png"


def test_bench_end_to_end_and_resume(tmp_path, capsys):
    # two 160×160 crops of the bundled photo (on synthetic textures, or with 96-pixel crops, pnp's border
    # artefacts under long motion kernels pull the whole-image PSNR below bicubic: see docs/SR.md)
    hr = tmp_path / "hr"
    photo = read_image(SAMPLE)
    write_image(hr / "im0.png", photo[40:200, 120:280])
    write_image(hr / "im1.png", photo[200:360, 40:200])
    out = tmp_path / "out"
    args = [
        "bench",
        "--hr",
        str(hr),
        "--family",
        "gaussian,motion",
        "--scale",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0, capsys.readouterr().err
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == FIELDS
    methods = {(r["family"], r["method"]) for r in rows}
    for fam in ("gaussian", "motion"):
        for m in (
            "s2k",
            "s2k-auto",
            "mean-kernel",
            "bicubic",
            "unaware",
            "blind-s2k",
            "blind-s2k-auto",
            "blind-mean-kernel",
            "true-kernel",
        ):
            assert (fam, m) in methods
    assert ("gaussian", "spectral-fit") in methods and ("motion", "spectral-fit") not in methods
    assert ("motion", "blind-s2k-refined") in methods and ("gaussian", "blind-s2k-refined") not in methods
    # per image: gaussian 4 estimators + 7 SR methods (bicubic, unaware, 4 blind, true); motion 3 + 7
    # (3 blind, the refined one, bicubic, unaware, true)
    assert len(rows) == 2 * (11 + 10)

    def mean(fam: str, m: str) -> float:
        return float(np.mean([float(r["psnr_y"]) for r in rows if r["family"] == fam and r["method"] == m]))

    for fam in ("gaussian", "motion"):
        assert mean(fam, "true-kernel") >= mean(fam, "bicubic")
    assert (out / "results.md").read_text().count("| gaussian | ×2 |") == 11
    assert (out / "kernels_gaussian_x2.png").is_file() and (out / "sr_motion_x2.png").is_file()
    assert (out / "data" / "gaussian_x2" / "im0.png").is_file()
    assert (out / "data" / "gaussian_x2" / "im0.npy").is_file()
    # a rerun resumes: nothing is redone, nothing is added
    assert main(args) == 0
    with (out / "results.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)


def test_bench_runs_the_shipped_table3_ablation_at_x3(tmp_path, capsys):
    shipped = ablation_estimators()
    assert set(shipped) == {"abl-spectrum-map", "abl-spatial-map", "abl-spectrum-params"}
    hr = tmp_path / "hr"
    write_image(hr / "im0.png", read_image(SAMPLE)[40:232, 120:312])
    out = tmp_path / "out"
    args = ["bench", "--hr", str(hr), "--family", "gaussian", "--scale", "3", "--out", str(out), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    with (out / "results.csv").open() as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    for name in shipped:
        assert float(rows[name]["dv"]) >= 0 and float(rows[f"blind-{name}"]["psnr_y"]) > 0
    assert (out / "kernels" / "gaussian_x3" / "im0_abl-spatial-map.npy").is_file()
    assert "| gaussian | ×3 | abl-spectrum-params | 1 |" in (out / "results.md").read_text()


def _one_image_bench(tmp_path, family: str, methods: str, side: int) -> tuple[list[str], list[dict]]:
    """Bench one crop of the sample at ×2 with only ``methods``; the arguments and the rows."""
    hr = tmp_path / "hr"
    write_image(hr / "im0.png", read_image(SAMPLE)[40 : 40 + side, 120 : 120 + side])
    args = [
        "bench",
        "--hr",
        str(hr),
        "--family",
        family,
        "--scale",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--no-figures",
        "--methods",
        methods,
    ]
    assert main(args) == 0
    with (tmp_path / "out" / "results.csv").open() as fh:
        return args, list(csv.DictReader(fh))


def test_bench_runs_only_the_methods_asked_for(tmp_path):
    args, rows = _one_image_bench(tmp_path, "gaussian", "blind-s2k,bicubic", 128)
    out = tmp_path / "out"
    assert sorted(r["method"] for r in rows) == ["bicubic", "blind-s2k"]
    # the estimator ran for blind-s2k (its kernel is kept) without a kernel row of its own
    assert (out / "kernels" / "gaussian_x2" / "im0_s2k.npy").is_file()
    # adding methods later fills in only those, reusing the stored kernel
    assert main([*args[:-1], "s2k,blind-s2k,true-kernel"]) == 0
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["method"] for r in rows) == ["bicubic", "blind-s2k", "s2k", "true-kernel"]


def test_bench_refined_motion_row_alone(tmp_path):
    _, rows = _one_image_bench(tmp_path, "motion", "blind-s2k-refined", 96)
    assert [r["method"] for r in rows] == ["blind-s2k-refined"] and float(rows[0]["psnr_y"]) > 0
    assert (tmp_path / "out" / "kernels" / "motion_x2" / "im0_s2k.npy").is_file()  # its estimator ran


def test_bench_tells_sr_the_noise_it_added(tmp_path, capsys):
    args, rows = _one_image_bench(tmp_path, "gaussian", "true-kernel", 96)
    hr_dir, noisy = tmp_path / "hr", tmp_path / "noisy"
    assert main([*args[:7], "--out", str(noisy), *args[9:], "--noise", "10"]) == 0
    with (noisy / "results.csv").open() as fh:
        row = next(csv.DictReader(fh))
    data = noisy / "data" / "gaussian_x2"
    lr, k = read_image(data / "im0.png"), np.load(data / "im0.npy")
    told = s2k.super_resolve(lr, 2, k, noise=10.0).image
    expected = s2k.psnr_y(read_image(hr_dir / "im0.png"), told, shave=2)
    assert float(row["psnr_y"]) == pytest.approx(expected, abs=1e-3)
    assert float(row["psnr_y"]) > float(rows[0]["psnr_y"]) - 6  # not the noise-free restoration's collapse
    assert main([*args[:7], "--out", str(tmp_path / "o2"), "--backend", "sftmd", "--noise", "5"]) == 2
    assert "noise-free" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", "--hr", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["bench", "--hr", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert main(["bench", "--hr", str(tmp_path / "empty"), "--scale", "x", "--out", str(tmp_path / "o")]) == 2
    write_image(tmp_path / "one" / "a.png", textured_image(32, 32, 3))
    assert (
        main(
            [
                "bench",
                "--hr",
                str(tmp_path / "one"),
                "--methods",
                "blind-s2k,sharpen",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "o").exists()
    assert capsys.readouterr().err.count("\n") == 4


@pytest.mark.parametrize("theta", [0.3, 1.9])
def test_spectral_fit_recovers_an_anisotropic_gaussian(theta):
    hr = textured_image(384, 384, 1, seed=5)
    k = gaussian_kernel(15, 2.6, 1.2, theta)
    lr = degrade(hr, k, 2)
    cov, alpha = fit_gaussian_covariance(lr, 2)
    assert alpha > 0  # a falling power law
    vals, vecs = np.linalg.eigh(cov)
    assert vals[1] > vals[0]  # anisotropic
    major = vecs[:, 1]  # (y, x)
    angle = np.arctan2(major[0], major[1]) % np.pi
    assert min(abs(angle - theta), np.pi - abs(angle - theta)) < 0.35
    est = spectral_fit_kernel(lr, 2)
    assert est.shape == (15, 15) and abs(est.sum() - 1) < 1e-9


def test_synthetic_set_is_fixed_and_streams_the_same_items(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"im{i}.png", textured_image(50 + i, 61, 3, seed=i))
    a = make_synthetic_set(tmp_path, "gaussian", 3, seed=4)
    b = list(iter_synthetic_set(tmp_path, "gaussian", 3, seed=4))
    assert [it.name for it in a] == ["im0", "im1", "im2"]
    for x, y in zip(a, b, strict=True):
        assert x.hr.shape[0] % 3 == 0 and x.hr.shape[1] % 3 == 0
        np.testing.assert_array_equal(x.kernel, y.kernel)
        np.testing.assert_array_equal(x.lr, y.lr)
    # the kernels are drawn in order from one seeded stream: the first n images get the same kernels
    first = make_synthetic_set(tmp_path, "gaussian", 3, n=2, seed=4)
    np.testing.assert_array_equal(first[1].kernel, a[1].kernel)
    assert not np.array_equal(make_synthetic_set(tmp_path, "gaussian", 3, seed=5)[0].kernel, a[0].kernel)
    # the selection the benchmarks share (sr_table.py --replace picks the rows it moves with it)
    assert [p.stem for p in synthetic_set_images(tmp_path, 2)] == [it.name for it in first]
    assert [p.stem for p in synthetic_set_images(tmp_path, 1, start=1)] == ["im1"]
    with pytest.raises(s2k.S2KError):
        synthetic_set_images(tmp_path, 1, start=-1)


def test_bench_tells_the_s2k_estimator_the_noise_level(monkeypatch):
    import s2k.bench as bench

    seen = {}

    def fake(lr, s, family, noise=0.0):
        seen["noise"] = noise

    monkeypatch.setattr(bench, "estimate_kernel", fake)
    bench.estimators_for("disk", 3, noise=3.0)["s2k"](np.zeros((16, 16)), 3)
    assert seen["noise"] == 3.0
