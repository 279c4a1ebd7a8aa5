"""`family="auto"`: the family classifier (`s2k.family`), its fit (`s2k.train.family`), API and CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import textured_image
from safetensors.torch import save_file

import s2k
from s2k.cli import main
from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.family import (
    FEATURE_NAMES,
    FamilyClassifier,
    default_weights,
    estimator_fingerprints,
    fit_lda,
    load_family_classifier,
    stale_estimators,
)
from s2k.io import write_image
from s2k.kernels import FAMILIES, KERNEL_SIZES, gaussian_kernel, motion_kernel
from s2k.train.family import FamilyFitConfig, fit_family_classifier


def _clusters(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, size=(3, len(FEATURE_NAMES)))
    labels = np.repeat(np.arange(3), n)
    return centres[labels] + rng.normal(0, 0.5, size=(3 * n, len(FEATURE_NAMES))), labels


def test_lda_recovers_separated_classes_and_gives_probabilities():
    x, y = _clusters()
    means, precision = fit_lda(x, y)
    np.testing.assert_allclose(means, np.stack([x[y == c].mean(0) for c in range(3)]))
    clf = FamilyClassifier({2: means}, {2: precision}, {})
    xt, yt = _clusters(seed=0)  # same centres, fresh draws below
    rng = np.random.default_rng(5)
    xt = xt + rng.normal(0, 0.1, size=xt.shape)
    probs = np.stack([clf.probabilities(f, 2) for f in xt])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == yt).all()
    # half-way between two class means the two are equally likely
    mid = 0.5 * (means[0] + means[1])
    p = clf.probabilities(mid, 2)
    assert abs(p[0] - p[1]) < 1e-9
    with pytest.raises(S2KError, match="×3"):
        clf.probabilities(xt[0], 3)
    with pytest.raises(S2KError):
        fit_lda(x[:61], y[:61])  # one sample of the second family, none of the third


def test_classifier_file_round_trip(tmp_path):
    x, y = _clusters()
    means, precision = fit_lda(x, y)
    clf = FamilyClassifier({2: means, 4: means + 1}, {2: precision, 4: precision}, {"note": "test"})
    clf.save(tmp_path / "c.safetensors")
    back = load_family_classifier(tmp_path / "c.safetensors")
    assert back.scales == (2, 4) and back.meta["note"] == "test"
    for s in (2, 4):
        np.testing.assert_allclose(back.probabilities(x[0], s), clf.probabilities(x[0], s))
    assert back.noisy_means == {}  # a classifier without noisy discriminants: the noise-free one serves
    np.testing.assert_allclose(back.probabilities(x[0], 2, noisy=True), clf.probabilities(x[0], 2))
    noisy = FamilyClassifier(
        {2: means, 4: means}, {2: precision, 4: precision}, {}, {2: means[::-1]}, {2: precision}
    )
    noisy.save(tmp_path / "n.safetensors")
    back = load_family_classifier(tmp_path / "n.safetensors")
    assert set(back.noisy_means) == {2}
    np.testing.assert_allclose(back.probabilities(x[0], 2, noisy=True), noisy.probabilities(x[0], 2, True))
    np.testing.assert_allclose(back.probabilities(x[0], 2, noisy=True), clf.probabilities(x[0], 2)[::-1])
    np.testing.assert_allclose(back.probabilities(x[0], 4, noisy=True), clf.probabilities(x[0], 2))
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(S2KError):
        load_family_classifier(tmp_path / "bad.safetensors")
    with pytest.raises(S2KError):
        load_family_classifier(s2k.estimate.default_weights("gaussian"))  # an estimator, not a classifier


def test_shipped_classifier_is_safetensors_with_a_card():
    path = default_weights()
    assert path.is_file() and not path.read_bytes()[:2].startswith(b"\x80")
    assert path.with_suffix(".md").is_file()
    assert load_family_classifier(path).scales == (2, 3, 4)
    assert sorted(load_family_classifier(path).noisy_means) == [2, 3, 4]  # noisy images have their own


def test_choose_family_api():
    lr = degrade(textured_image(160, 120, 3, seed=3), gaussian_kernel(15, 2.0, 1.5, 0.3), 2)
    choice = s2k.choose_family(lr, 2)
    assert choice.family in FAMILIES
    assert set(choice.probabilities) == set(FAMILIES)
    assert abs(sum(choice.probabilities.values()) - 1) < 1e-9
    assert max(choice.probabilities, key=choice.probabilities.get) == choice.family
    for fam, k in choice.kernels.items():
        assert k.shape == (KERNEL_SIZES[fam],) * 2 and abs(k.sum() - 1) < 1e-9
        np.testing.assert_allclose(k, s2k.estimate_kernel(lr, 2, fam), atol=1e-12)
    np.testing.assert_array_equal(s2k.estimate_kernel(lr, 2, "auto"), choice.kernel)
    noisy = s2k.choose_family(lr, 2, noise=5.0)  # the estimates a noisy image gets, family by family
    for fam, k in noisy.kernels.items():
        np.testing.assert_allclose(k, s2k.estimate_kernel(lr, 2, fam, noise=5.0), atol=1e-12)
    assert not np.allclose(noisy.kernels["gaussian"], choice.kernels["gaussian"])  # the noise-trained model
    np.testing.assert_array_equal(s2k.estimate_kernel(lr, 2, "auto", noise=5.0), noisy.kernel)
    for bad in (-1.0, float("nan")):
        with pytest.raises(S2KError, match="noise"):
            s2k.choose_family(lr, 2, noise=bad)
    assert choice.family in choice.describe() and "%" in choice.describe()
    with pytest.raises(S2KError):
        s2k.estimate_kernel(lr, 2, "auto", weights=s2k.estimate.default_weights("gaussian"))
    with pytest.raises(S2KError):
        s2k.choose_family(lr, 5)
    with pytest.raises(S2KError):
        s2k.choose_family(lr[:4, :4], 2)


def test_auto_tells_a_long_motion_blur_from_a_gaussian_on_a_photo():
    """scikit-image's astronaut (a photo a dependency ships) at ×2: a long motion blur is recognised as
    motion, a round Gaussian blur is not taken for motion."""
    from skimage.data import astronaut

    hr = astronaut().astype(np.float64)
    blurs = {"motion": motion_kernel(23, rng=3), "gaussian": gaussian_kernel(15, 2.5, 2.5, 0.0)}
    chosen = {name: s2k.choose_family(degrade(hr, k, 2), 2) for name, k in blurs.items()}
    assert chosen["motion"].family == "motion"
    assert chosen["gaussian"].family != "motion"


def test_sr_pipeline_reports_the_chosen_family():
    lr = degrade(textured_image(96, 80, 3, seed=6), gaussian_kernel(15, 1.5, 1.5, 0.0), 2)
    res = s2k.super_resolve(lr, 2, family="auto")
    assert res.kernel_estimated and res.family in FAMILIES
    assert res.family_probabilities is not None
    assert res.refined == (res.family == "motion")  # a motion choice is refined like a motion estimate
    before = res.kernel_unrefined if res.refined else res.kernel
    np.testing.assert_array_equal(before, s2k.choose_family(lr, 2).kernel)
    plain = s2k.super_resolve(lr, 2, family="gaussian")
    assert plain.family == "gaussian" and plain.family_probabilities is None


def test_cli_estimate_and_sr_with_auto(tmp_path, capsys):
    lr = degrade(textured_image(120, 100, 3, seed=2), gaussian_kernel(15, 2.0, 1.0, 0.5), 2)
    write_image(tmp_path / "lr.png", lr)
    for noise in (0.0, 5.0):
        assert (
            main(
                [
                    "estimate",
                    str(tmp_path / "lr.png"),
                    "-s",
                    "2",
                    "--family",
                    "auto",
                    "--noise",
                    str(noise),
                    "-o",
                    str(tmp_path / "k.npy"),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "(auto:" in out and ("noisy images" in out) == (noise > 0)
        choice = s2k.choose_family(s2k.read_image(tmp_path / "lr.png"), 2, noise=noise)
        np.testing.assert_allclose(np.load(tmp_path / "k.npy"), choice.kernel, atol=1e-12)
    assert (
        main(["sr", str(tmp_path / "lr.png"), "-s", "2", "--family", "auto", "-o", str(tmp_path / "sr.png")])
        == 0
    )
    assert "(auto," in capsys.readouterr().out
    code = main(
        [
            "estimate",
            str(tmp_path / "lr.png"),
            "-s",
            "2",
            "--family",
            "auto",
            "--weights",
            str(s2k.estimate.default_weights("gaussian")),
            "-o",
            str(tmp_path / "k2.npy"),
        ]
    )
    assert code == 2 and not (tmp_path / "k2.npy").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_fit_family_classifier_tiny(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"hr{i}.png", textured_image(64, 64, 3, seed=10 + i))
    cfg = FamilyFitConfig(hr_dir=str(tmp_path), n=3, seed=1, scales=(2,))
    clf = fit_family_classifier(cfg, progress=False)
    assert clf.scales == (2,)
    assert clf.means[2].shape == (3, len(FEATURE_NAMES))
    assert clf.precision[2].shape == (len(FEATURE_NAMES),) * 2
    assert clf.meta["samples_per_scale"] == {"2": 9}
    assert 0.0 <= clf.meta["fit_accuracy"]["2"] <= 1.0
    with pytest.raises(S2KError):
        FamilyFitConfig(n=1)
    with pytest.raises(S2KError):
        fit_family_classifier(FamilyFitConfig(hr_dir=str(tmp_path / "none"), n=3), progress=False)


def test_fit_family_classifier_for_noisy_images(tmp_path):
    for i in range(4):
        write_image(tmp_path / f"hr{i}.png", textured_image(64, 64, 3, seed=20 + i))
    cfg = FamilyFitConfig(
        hr_dir=str(tmp_path), n=4, seed=1, scales=(2,), noise_min=2.0, noise_max=6.0, noise_groups=2
    )
    assert [cfg.group_noise(g) for g in range(2)] == [3.0, 5.0]
    clf = fit_family_classifier(cfg, progress=False)
    assert clf.noisy_means[2].shape == (3, len(FEATURE_NAMES))
    assert clf.meta["noisy_samples_per_scale"] == {"2": 12}
    assert not np.allclose(clf.noisy_means[2], clf.means[2])  # noisy images read otherwise
    clf.save(tmp_path / "c.safetensors")
    kept = fit_family_classifier(
        FamilyFitConfig(**{**cfg.__dict__, "base": str(tmp_path / "c.safetensors")}), progress=False
    )
    np.testing.assert_array_equal(kept.means[2], clf.means[2])  # the base's noise-free part, not refitted
    np.testing.assert_allclose(kept.noisy_means[2], clf.noisy_means[2])  # the same noisy fit (seeded)
    assert "fit_accuracy" not in kept.meta and "base" in kept.meta
    assert kept.meta["estimators"] == clf.meta["estimators"] == estimator_fingerprints()
    # a base fitted with other estimators is refused (its noise-free part would not match them)
    other = load_family_classifier(tmp_path / "c.safetensors")
    name = next(iter(other.meta["estimators"]))
    FamilyClassifier(
        other.means,
        other.precision,
        {**other.meta, "estimators": {**other.meta["estimators"], name: "0" * 64}},
    ).save(tmp_path / "old.safetensors")
    with pytest.raises(S2KError, match="other estimators"):
        fit_family_classifier(
            FamilyFitConfig(**{**cfg.__dict__, "base": str(tmp_path / "old.safetensors")}), progress=False
        )
    for bad in (
        {"noise_min": 3.0, "noise_max": 2.0},
        {"noise_max": 4.0, "noise_groups": 3},
        {"base": "x.safetensors"},
    ):
        with pytest.raises(S2KError):
            FamilyFitConfig(hr_dir=str(tmp_path), n=4, **bad)


def test_shipped_classifier_was_fitted_with_the_shipped_estimators():
    """family.safetensors records the estimator files it was fitted with; when one of them is replaced the
    classifier must be refitted (docs/ESTIMATOR.md), and this fails until it is."""
    clf = load_family_classifier(default_weights())
    assert set(clf.meta["estimators"]) >= {f"estimator-{f}.safetensors" for f in FAMILIES}
    assert stale_estimators(clf) == []


def test_stale_estimators_names_the_changed_file(tmp_path):
    def weights(name: str, value: float, note: str = "") -> None:
        save_file({"w": torch.full((2, 3), value)}, str(tmp_path / name), metadata={"note": note})

    for i, name in enumerate(
        (
            "estimator-gaussian.safetensors",
            "estimator-motion.safetensors",
            "estimator-gaussian-noisy.safetensors",
        )
    ):
        weights(name, float(i))
    marks = estimator_fingerprints(tmp_path)
    assert sorted(marks) == [
        "estimator-gaussian-noisy.safetensors",
        "estimator-gaussian.safetensors",
        "estimator-motion.safetensors",
    ]
    clf = FamilyClassifier({}, {}, {"estimators": marks})
    assert stale_estimators(clf, tmp_path) == []
    weights("estimator-gaussian.safetensors", 0.0, note="a new model card, the same weights")
    assert stale_estimators(clf, tmp_path) == []
    weights("estimator-motion.safetensors", 1.5)  # retrained
    weights("estimator-disk.safetensors", 3.0)  # a new family
    assert stale_estimators(clf, tmp_path) == ["estimator-disk.safetensors", "estimator-motion.safetensors"]
    unrecorded = FamilyClassifier({}, {}, {})  # a classifier without the record: every file counts as changed
    assert stale_estimators(unrecorded, tmp_path) == sorted(estimator_fingerprints(tmp_path))
