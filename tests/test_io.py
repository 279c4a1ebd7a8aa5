"""Tests for s2k.io: image reading / writing, atomic writes, kernel files and folder listing.

Every image is generated here (small, so the suite stays fast); no external data is read.
"""

from __future__ import annotations

import inspect
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import s2k.io as s2kio
from s2k.errors import S2KError
from s2k.io import atomic_write, list_images, load_kernel, read_image, save_kernel, to_uint8, write_image

RNG = np.random.default_rng(1234)


def _rgb(h: int = 9, w: int = 13) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _rgba(h: int = 9, w: int = 13) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, 4), dtype=np.uint8)


def _grey(h: int = 9, w: int = 13) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w), dtype=np.uint8)


def _assert_error(excinfo: pytest.ExceptionInfo[S2KError], path: Path, *fragments: str) -> None:
    """An S2KError: one line, naming the path, containing every fragment (case-insensitive)."""
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert str(path) in msg
    for fragment in fragments:
        assert fragment.lower() in msg.lower(), msg


def _files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ----------------------------------------------------------------------------------------------------------
# round trips
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff", ".bmp", ".webp", ".PNG"])
def test_rgb_round_trip_exact(tmp_path: Path, ext: str) -> None:
    img = _rgb()
    path = tmp_path / f"im{ext}"
    write_image(path, img.astype(np.float32))
    out = read_image(path)
    assert out.dtype == np.float32
    assert out.shape == (9, 13, 3)
    np.testing.assert_array_equal(out, img.astype(np.float32))


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_rgba_round_trip_keeps_four_channels(tmp_path: Path, ext: str) -> None:
    img = _rgba()
    img[0, 0, 3] = 0  # a fully transparent pixel keeps its colour too
    path = tmp_path / f"im{ext}"
    write_image(path, img)
    out = read_image(path)
    assert out.shape == (9, 13, 4)
    np.testing.assert_array_equal(out, img.astype(np.float32))


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("shape", ["hw", "hw1"])
def test_grey_round_trip_gives_one_channel(tmp_path: Path, ext: str, shape: str) -> None:
    img = _grey()
    path = tmp_path / f"g{ext}"
    write_image(path, img if shape == "hw" else img[:, :, None])
    out = read_image(path)
    assert out.shape == (9, 13, 1)
    np.testing.assert_array_equal(out[:, :, 0], img.astype(np.float32))


def test_grey_webp_reads_back_as_equal_rgb(tmp_path: Path) -> None:
    img = _grey()
    path = tmp_path / "g.webp"
    write_image(path, img)
    out = read_image(path)
    assert out.shape == (9, 13, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], img.astype(np.float32))


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_round_trip_close(tmp_path: Path, ext: str) -> None:
    yy, xx = np.mgrid[0:32, 0:48]
    img = np.stack([yy * 7.0, xx * 5.0, (yy + xx) * 3.0], axis=2).astype(np.float32)
    path = tmp_path / f"im{ext}"
    write_image(path, img)
    out = read_image(path)
    assert out.shape == (32, 48, 3)
    assert np.abs(out - img).mean() < 2.0
    assert np.abs(out - img).max() < 16.0


def test_write_rounds_half_to_even_and_clips(tmp_path: Path) -> None:
    values = np.array([[0.5, 1.5, 2.5, -3.0, 300.0, 254.6, 127.49]], dtype=np.float32)
    path = tmp_path / "r.png"
    write_image(path, values)
    np.testing.assert_array_equal(read_image(path)[0, :, 0], [0, 2, 2, 0, 255, 255, 127])


def test_write_creates_missing_parents_and_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c.png"
    write_image(path, _rgb())
    assert path.is_file()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_write_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 2)))
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.zeros((4,)))
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.full((4, 4), np.nan))
    assert _files(tmp_path) == []


# ----------------------------------------------------------------------------------------------------------
# modes
# ----------------------------------------------------------------------------------------------------------


def test_png_16bit_grey_is_scaled(tmp_path: Path) -> None:
    data = np.array([[0, 1, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(data).save(path)
    assert Image.open(path).mode == "I;16"
    out = read_image(path)
    assert out.shape == (1, 5, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :, 0], np.float32([0.0, 255 / 65535, 1.0, 128.0, 255.0]))


def test_tiff_16bit_big_endian_grey_is_scaled(tmp_path: Path) -> None:
    data = np.array([[0, 257, 65535]], dtype=np.uint16)
    path = tmp_path / "g16b.tif"
    Image.frombytes("I;16B", (3, 1), data.astype(">u2").tobytes()).save(path)
    np.testing.assert_array_equal(read_image(path)[0, :, 0], [0.0, 1.0, 255.0])


def test_mode_i_is_clipped_16bit(tmp_path: Path) -> None:
    path = tmp_path / "i.tif"
    Image.fromarray(np.array([[-1, 257, 70000]], dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    np.testing.assert_array_equal(read_image(path)[0, :, 0], [0.0, 1.0, 255.0])


def test_mode_f_is_clipped_and_nan_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([[-5.0, 12.25, 300.0]], dtype=np.float32)).save(path)
    np.testing.assert_array_equal(read_image(path)[0, :, 0], [0.0, 12.25, 255.0])
    bad = tmp_path / "nan.tif"
    Image.fromarray(np.array([[1.0, np.nan]], dtype=np.float32)).save(bad)
    with pytest.raises(S2KError) as excinfo:
        read_image(bad)
    _assert_error(excinfo, bad, "nan")


def test_mode_1_gives_0_and_255(tmp_path: Path) -> None:
    path = tmp_path / "b.png"
    im = Image.new("1", (3, 1))
    im.putpixel((1, 0), 1)
    im.save(path)
    out = read_image(path)
    assert out.shape == (1, 3, 1)
    np.testing.assert_array_equal(out[0, :, 0], [0.0, 255.0, 0.0])


def _palette_image() -> Image.Image:
    im = Image.new("P", (3, 1))
    im.putpalette([10, 20, 30, 200, 100, 50, 1, 2, 3])
    im.putpixel((1, 0), 1)
    im.putpixel((2, 0), 2)
    return im


def test_palette_without_transparency_gives_rgb(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    _palette_image().save(path)
    out = read_image(path)
    assert out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out[0], [[10, 20, 30], [200, 100, 50], [1, 2, 3]])


def test_palette_with_transparency_gives_rgba(tmp_path: Path) -> None:
    path = tmp_path / "pt.png"
    _palette_image().save(path, transparency=1)
    out = read_image(path)
    assert out.shape == (1, 3, 4)
    np.testing.assert_array_equal(out[0], [[10, 20, 30, 255], [200, 100, 50, 0], [1, 2, 3, 255]])


def test_la_gives_rgba_with_grey_replicated(tmp_path: Path) -> None:
    data = np.array([[[7, 255], [100, 0], [255, 128]]], dtype=np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(data).save(path)
    assert Image.open(path).mode == "LA"
    out = read_image(path)
    assert out.shape == (1, 3, 4)
    np.testing.assert_array_equal(out[0], [[7, 7, 7, 255], [100, 100, 100, 0], [255, 255, 255, 128]])


def test_grey_with_trns_gives_rgba(tmp_path: Path) -> None:
    path = tmp_path / "lt.png"
    Image.fromarray(np.array([[0, 9]], dtype=np.uint8)).save(path, transparency=9)
    out = read_image(path)
    np.testing.assert_array_equal(out[0], [[0, 0, 0, 255], [9, 9, 9, 0]])


def test_cmyk_gives_rgb(tmp_path: Path) -> None:
    path = tmp_path / "c.tif"
    im = Image.new("CMYK", (2, 1))
    im.putpixel((1, 0), (255, 0, 0, 0))
    im.save(path)
    out = read_image(path)
    assert out.shape == (1, 2, 3)
    np.testing.assert_array_equal(out[0], [[255, 255, 255], [0, 255, 255]])


def test_lab_tiff_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lab.tif"
    Image.new("LAB", (2, 2)).save(path)
    with pytest.raises(S2KError) as excinfo:
        read_image(path)
    _assert_error(excinfo, path, "unsupported image mode")


@pytest.mark.parametrize(
    ("mode", "raw", "expected"),
    [
        ("La", [64, 128], [127, 127, 127, 128]),  # premultiplied grey + alpha → straight RGBA
        ("RGBa", [64, 32, 0, 128], [127, 64, 0, 128]),
        ("PA", None, None),
        ("RGBX", [1, 2, 3, 0], [1, 2, 3]),
        ("YCbCr", [255, 128, 128], [255, 255, 255]),
        ("HSV", [0, 0, 200], [200, 200, 200]),
    ],
)
def test_in_memory_modes(mode: str, raw: list[int] | None, expected: list[int] | None) -> None:
    """Modes no common file format produces directly (checked through the converter itself)."""
    if raw is None:
        im = Image.new(mode, (1, 1))
        assert s2kio._pil_to_array(im, Path("mem")).shape == (1, 1, 4)
        return
    im = Image.frombytes(mode, (1, 1), bytes(raw))
    out = s2kio._pil_to_array(im, Path("mem"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], expected, atol=1)


# ----------------------------------------------------------------------------------------------------------
# EXIF orientation
# ----------------------------------------------------------------------------------------------------------


def _blocks() -> np.ndarray:
    """16×32 RGB made of four flat 8-aligned colour blocks (left/right halves differ top/bottom)."""
    img = np.zeros((16, 32, 3), dtype=np.uint8)
    img[:8, :16] = (255, 0, 0)
    img[:8, 16:] = (0, 255, 0)
    img[8:, :16] = (0, 0, 255)
    img[8:, 16:] = (255, 255, 255)
    return img


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


# Orientation 6: the stored picture must be turned 90° clockwise; 8: 90° counter-clockwise; 3: 180°.
_ROT_K = {6: -1, 8: 1, 3: 2}


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_jpeg(tmp_path: Path, orientation: int) -> None:
    img = _blocks()
    path = tmp_path / "o.jpg"
    Image.fromarray(img).save(path, quality=95, subsampling=0, exif=_exif(orientation))
    out = read_image(path)
    expected = np.rot90(img, k=_ROT_K[orientation]).astype(np.float32)
    wrong = np.rot90(img, k=-_ROT_K[orientation]).astype(np.float32)
    assert out.shape == (32, 16, 3)
    assert np.abs(out - expected).mean() < 3.0
    assert np.abs(out - wrong).mean() > 50.0


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_png_exact(tmp_path: Path, orientation: int) -> None:
    img = _rgb(5, 7)
    path = tmp_path / "o.png"
    Image.fromarray(img).save(path, exif=_exif(orientation))
    np.testing.assert_array_equal(read_image(path), np.rot90(img, k=_ROT_K[orientation]).astype(np.float32))


# ----------------------------------------------------------------------------------------------------------
# read failures
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file_raises(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"t{ext}"
    Image.fromarray(_rgb(64, 64)).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(S2KError) as excinfo:
        read_image(path)
    _assert_error(excinfo, path, "truncated or corrupt")


def test_text_file_named_png_raises(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_text("this is not an image\n")
    with pytest.raises(S2KError) as excinfo:
        read_image(path)
    _assert_error(excinfo, path, "not a recognised image")


def test_missing_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "missing.png"
    with pytest.raises(S2KError) as excinfo:
        read_image(path)
    _assert_error(excinfo, path, "no such file")


def test_directory_raises(tmp_path: Path) -> None:
    path = tmp_path / "dir.png"
    path.mkdir()
    with pytest.raises(S2KError) as excinfo:
        read_image(path)
    _assert_error(excinfo, path, "directory")


def test_decompression_bomb_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.png"
    Image.fromarray(_grey(20, 20)).save(big)  # 400 px
    mid = tmp_path / "mid.png"
    Image.fromarray(_grey(12, 12)).save(mid)  # 144 px
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(S2KError) as excinfo:
        read_image(big)  # over twice the limit: refused
    _assert_error(excinfo, big, "decompression bomb")
    with pytest.warns(Image.DecompressionBombWarning):  # between 1× and 2×: Pillow's warning passes through
        assert read_image(mid).shape == (12, 12, 1)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_module_never_relaxes_pillow_guards() -> None:
    src = inspect.getsource(s2kio)
    assert "MAX_IMAGE_PIXELS =" not in src
    assert "LOAD_TRUNCATED_IMAGES =" not in src
    assert "simplefilter" not in src and "filterwarnings" not in src


def test_normal_read_emits_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    Image.fromarray(_rgb()).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(path)


# ----------------------------------------------------------------------------------------------------------
# write failures and atomicity
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.gif", "out.xyz", "out", "out.npy"])
def test_unknown_extension_raises_and_writes_nothing(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(S2KError) as excinfo:
        write_image(path, _rgb())
    _assert_error(excinfo, path, "extension")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_refused_where_format_cannot_store_it(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"a{ext}"
    with pytest.raises(S2KError) as excinfo:
        write_image(path, _rgba())
    _assert_error(excinfo, path, "alpha")
    assert _files(tmp_path) == []


def test_write_to_directory_raises(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    path.mkdir()
    with pytest.raises(S2KError) as excinfo:
        write_image(path, _rgb())
    _assert_error(excinfo, path, "directory")


def test_write_under_a_file_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = blocker / "out.png"
    with pytest.raises(S2KError) as excinfo:
        write_image(path, _rgb())
    _assert_error(excinfo, path)
    assert _files(tmp_path) == ["file"]


def test_atomic_write_failure_leaves_nothing(tmp_path: Path) -> None:
    seen: list[str] = []

    def writer(tmp: str) -> None:
        seen.append(tmp)
        Path(tmp).write_bytes(b"partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(tmp_path / "out.png", writer)
    assert _files(tmp_path) == []
    assert Path(seen[0]).parent == tmp_path


def test_atomic_write_failure_keeps_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "keep.npy"
    target.write_bytes(b"old contents")

    def writer(tmp: str) -> None:
        Path(tmp).write_bytes(b"new but broken")
        raise OSError(28, "No space left on device")

    with pytest.raises(S2KError) as excinfo:
        atomic_write(target, writer)
    _assert_error(excinfo, target, "cannot write")
    assert target.read_bytes() == b"old contents"
    assert _files(tmp_path) == ["keep.npy"]


def test_atomic_write_temp_keeps_extension_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "fig.svg"
    target.write_text("old")
    os.chmod(target, 0o640)
    seen: list[str] = []

    def writer(tmp: str) -> None:
        seen.append(tmp)
        Path(tmp).write_text("new")

    atomic_write(target, writer)
    assert seen[0].endswith(".svg") and Path(seen[0]).parent == tmp_path
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _files(tmp_path) == ["fig.svg"]


def test_failed_write_image_keeps_existing_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.png"
    write_image(target, _rgb())
    before = target.read_bytes()

    def broken_save(self: Image.Image, *args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(S2KError) as excinfo:
        write_image(target, _rgb())
    _assert_error(excinfo, target, "disk on fire")
    assert target.read_bytes() == before
    assert _files(tmp_path) == ["keep.png"]


# ----------------------------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["k.npy", "K.NPY"])
def test_kernel_round_trip(tmp_path: Path, name: str) -> None:
    k = RNG.random((5, 7)).astype(np.float32)
    path = tmp_path / name
    save_kernel(path, k)
    assert _files(tmp_path) == [name]
    out = load_kernel(path)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, k.astype(np.float64))


def test_load_kernel_converts_integers(tmp_path: Path) -> None:
    path = tmp_path / "i.npy"
    np.save(path, np.array([[0, 1], [2, 3]], dtype=np.int16))
    out = load_kernel(path)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0.0, 1.0], [2.0, 3.0]])


def test_save_kernel_requires_npy(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    with pytest.raises(S2KError) as excinfo:
        save_kernel(path, np.ones((3, 3)))
    _assert_error(excinfo, path, ".npy")
    assert _files(tmp_path) == []


def test_load_kernel_refuses_object_array(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(S2KError) as excinfo:
        load_kernel(path)
    _assert_error(excinfo, path, "pickled")


def test_load_kernel_refuses_non_npy(tmp_path: Path) -> None:
    text = tmp_path / "text.npy"
    text.write_text("1 2 3\n")
    with pytest.raises(S2KError) as excinfo:
        load_kernel(text)
    _assert_error(excinfo, text)

    npz = tmp_path / "arch.npz"
    np.savez(npz, k=np.ones((3, 3)))
    with pytest.raises(S2KError) as excinfo:
        load_kernel(npz)
    _assert_error(excinfo, npz, "npz")

    cut = tmp_path / "cut.npy"
    np.save(cut, np.ones((9, 9)))
    cut.write_bytes(cut.read_bytes()[:150])
    with pytest.raises(S2KError) as excinfo:
        load_kernel(cut)
    _assert_error(excinfo, cut)

    strings = tmp_path / "s.npy"
    np.save(strings, np.array(["a", "b"]))
    with pytest.raises(S2KError) as excinfo:
        load_kernel(strings)
    _assert_error(excinfo, strings, "dtype")


def test_load_kernel_missing_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npy"
    with pytest.raises(S2KError) as excinfo:
        load_kernel(missing)
    _assert_error(excinfo, missing, "no such file")
    with pytest.raises(S2KError) as excinfo:
        load_kernel(tmp_path)
    _assert_error(excinfo, tmp_path, "directory")


# ----------------------------------------------------------------------------------------------------------
# list_images, to_uint8
# ----------------------------------------------------------------------------------------------------------


def test_list_images_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ["c.TIFF", "a.png", "b.JPG", "notes.txt", ".hidden.png", "noext", "z.webp", "d.Jpeg"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "sub.png" / "inner.png").write_bytes(b"")
    found = list_images(tmp_path)
    assert [p.name for p in found] == ["a.png", "b.JPG", "c.TIFF", "d.Jpeg", "z.webp"]
    assert all(p.parent == tmp_path for p in found)


def test_list_images_errors(tmp_path: Path) -> None:
    with pytest.raises(S2KError) as excinfo:
        list_images(tmp_path)
    _assert_error(excinfo, tmp_path, "no image files")
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(S2KError):
        list_images(tmp_path)
    with pytest.raises(S2KError) as excinfo:
        list_images(tmp_path / "readme.txt")
    _assert_error(excinfo, tmp_path / "readme.txt", "not a directory")
    with pytest.raises(S2KError) as excinfo:
        list_images(tmp_path / "missing")
    _assert_error(excinfo, tmp_path / "missing", "no such directory")


def test_to_uint8_convention() -> None:
    x = np.array([-3.0, 0.5, 1.5, 2.5, 3.5, 254.5, 255.5, 1e9, -np.inf, np.inf])
    out = to_uint8(x)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [0, 0, 2, 2, 4, 254, 255, 255, 0, 255])
    np.testing.assert_array_equal(to_uint8(np.array([-5, 7, 300])), [0, 7, 255])
    u = np.array([1, 2], dtype=np.uint8)
    v = to_uint8(u)
    assert v is not u and v.dtype == np.uint8
    with pytest.raises(ValueError):
        to_uint8(np.array([np.nan]))
    with pytest.raises(ValueError):
        to_uint8(np.array([True]))
