"""Image and kernel files: reading, writing (atomically) and listing.

Image convention
----------------
Everywhere in s2k an image is a numpy array of shape H×W×C, dtype float32, with values in 0..255
("8-bit units"): 8-bit data is taken as is, 16-bit data is scaled by 255/65535 so it keeps its sub-level
precision (65535 → 255.0, 257 → 1.0). C is 1 (grey), 3 (RGB) or 4 (RGBA, straight alpha).

Reading (:func:`read_image`) — Pillow mode of the decoded file → result:

==============================  =====================================================================
Pillow mode                     result
==============================  =====================================================================
``1``                           C=1, values 0 or 255
``L``                           C=1 (C=4 when the file has a tRNS transparent grey level, see below)
``LA``, ``La``                  C=4: grey replicated into R, G, B, alpha kept (``La`` un-premultiplied)
``P``                           C=3; C=4 when the palette has transparency (tRNS or an RGBA palette)
``PA``                          C=4
``RGB``                         C=3 (C=4 when the file has a tRNS transparent colour)
``RGBA``, ``RGBa``              C=4 (``RGBa`` un-premultiplied)
``RGBX``                        C=3 (padding byte dropped)
``CMYK``, ``YCbCr``, ``HSV``    C=3 via Pillow's own conversion (no colour management)
``LAB``                         refused (:class:`S2KError`): Pillow has no real CIELAB → RGB conversion
``I;16``, ``I;16L/B/N``         C=1, 16-bit grey scaled by 255/65535
``I`` (32-bit int)              C=1, taken as 16-bit data: clipped to 0..65535, scaled by 255/65535
``F`` (32-bit float)            C=1, taken as already in 0..255 units and clipped to 0..255;
                                NaN or ±inf → :class:`S2KError`
anything else                   converted by Pillow to RGB (RGBA if it has an alpha band), else error
==============================  =====================================================================

Other reading rules: the EXIF orientation tag is applied (the array is what a viewer shows); only the
first frame of a multi-frame file (GIF, animated WebP, multi-page TIFF) is read; embedded ICC profiles
are ignored (values are taken as stored). Pillow decodes 16-bit-per-channel *colour* PNGs to 8 bits, so
only 16-bit grey keeps its extra precision. Pillow's decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``)
is left exactly as the caller set it: above the limit Pillow warns (the warning is passed on untouched),
above twice the limit the read fails with :class:`S2KError`.

Writing (:func:`write_image`) is always 8-bit; the format comes from the file extension. All writes go
through :func:`atomic_write`: a temporary file next to the target, fsync'ed, then renamed over it, so a
failure never leaves a half-written or clobbered file.

Every failure caused by the user's files or paths raises :class:`S2KError` with a one-line message naming
the path; programming errors (a badly shaped array, a writer callback with a bug) keep their own types.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from s2k.errors import S2KError

__all__ = [
    "IMAGE_EXTENSIONS",
    "WRITE_FORMATS",
    "atomic_write",
    "list_images",
    "load_kernel",
    "read_image",
    "save_kernel",
    "to_uint8",
    "write_image",
]

#: Extensions (lower case) that :func:`list_images` treats as image files.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".bmp",
    ".gif",
    ".jpeg",
    ".jpg",
    ".pbm",
    ".pgm",
    ".png",
    ".pnm",
    ".ppm",
    ".tga",
    ".tif",
    ".tiff",
    ".webp",
)

#: Extension (lower case) → (Pillow format, save options, can store alpha) for :func:`write_image`.
WRITE_FORMATS: dict[str, tuple[str, dict[str, object], bool]] = {
    ".png": ("PNG", {}, True),
    ".jpg": ("JPEG", {"quality": 95}, False),
    ".jpeg": ("JPEG", {"quality": 95}, False),
    ".tif": ("TIFF", {}, True),
    ".tiff": ("TIFF", {}, True),
    # Pillow writes 32-bit BMPs but reads them back as RGB: refuse alpha rather than lose it silently.
    ".bmp": ("BMP", {}, False),
    # exact=True keeps the RGB of fully transparent pixels (lossless WebP may otherwise alter them).
    ".webp": ("WEBP", {"lossless": True, "quality": 100, "method": 4, "exact": True}, True),
}


def _one_line(exc: BaseException) -> str:
    """The exception's message squeezed onto one line (or its type name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_readable_file(path: Path, what: str) -> None:
    """Raise :class:`S2KError` unless ``path`` names an existing non-directory."""
    if path.is_dir():
        raise S2KError(f"{path}: is a directory, expected {what}")
    if not path.exists():
        raise S2KError(f"{path}: no such file")


# --------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------


def _has_transparency(img: Image.Image) -> bool:
    if "transparency" in img.info:
        return True
    return img.mode == "P" and img.palette is not None and img.palette.mode == "RGBA"


def _pil_to_array(img: Image.Image, path: Path) -> np.ndarray:
    """Decoded Pillow image → H×W×C float32 array in 0..255 units (see the module's mode table)."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        data = np.asarray(img).astype(np.float64)
        return (data * 255.0 / 65535.0).astype(np.float32)[:, :, None]
    if mode == "I":
        data = np.clip(np.asarray(img).astype(np.float64), 0.0, 65535.0)
        return (data * 255.0 / 65535.0).astype(np.float32)[:, :, None]
    if mode == "F":
        data = np.asarray(img, dtype=np.float32)
        if not np.all(np.isfinite(data)):
            raise S2KError(f"{path}: floating-point image contains NaN or infinite values")
        return np.clip(data, 0.0, 255.0)[:, :, None]
    if mode in ("L", "RGB", "P") and _has_transparency(img):
        img = img.convert("RGBA")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "P":
        img = img.convert("RGB")
    elif mode == "La":
        img = img.convert("LA")  # un-premultiplies; LA → RGBA below
    elif mode in ("PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "LAB":  # Pillow has no real CIELAB → RGB conversion without colour management
        raise S2KError(f"{path}: unsupported image mode 'LAB' (CIELAB); convert it to RGB first")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        target = "RGBA" if "A" in img.getbands() else "RGB"
        try:
            img = img.convert(target)
        except (ValueError, OSError) as exc:
            raise S2KError(f"{path}: unsupported image mode {mode!r} ({_one_line(exc)})") from exc

    data = np.asarray(img)
    if data.dtype != np.uint8:  # pragma: no cover - every branch above yields 8-bit modes
        raise S2KError(f"{path}: unsupported image mode {img.mode!r}")
    if data.ndim == 2:  # L
        data = data[:, :, None]
    elif img.mode == "LA":
        grey, alpha = data[:, :, :1], data[:, :, 1:]
        data = np.concatenate([grey, grey, grey, alpha], axis=2)
    return data.astype(np.float32)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as an H×W×C float32 array with values in 0..255 (8-bit units).

    Reads whatever Pillow opens (PNG, JPEG, TIFF, BMP, WebP, GIF, PNM, ...), 8- or 16-bit. C is 1 (grey),
    3 (RGB) or 4 (RGBA); 16-bit samples are scaled by 255/65535 (so 65535 → 255.0). The EXIF orientation
    is applied. The conversion from each Pillow mode is tabulated in this module's docstring.

    Raises :class:`S2KError` (message naming ``path``) for a missing file, a directory, a file that is not
    an image, a truncated or corrupt image, an unsupported mode and an image larger than twice Pillow's
    ``Image.MAX_IMAGE_PIXELS`` (a possible decompression bomb; that limit is never changed here).
    """
    p = Path(os.fspath(path))
    _check_readable_file(p, "an image file")
    try:
        with Image.open(p) as img:
            img.load()  # force full decoding here so that truncation is detected now
            oriented = ImageOps.exif_transpose(img)  # a new, fully loaded image
    except Image.DecompressionBombError as exc:
        raise S2KError(
            f"{p}: image too large, refusing a possible decompression bomb ({_one_line(exc)})"
        ) from exc
    except UnidentifiedImageError as exc:
        raise S2KError(f"{p}: not a recognised image file") from exc
    except PermissionError as exc:
        raise S2KError(f"{p}: permission denied") from exc
    except MemoryError as exc:
        raise S2KError(f"{p}: not enough memory to decode the image") from exc
    except Exception as exc:  # Pillow signals corrupt data with OSError, SyntaxError, ValueError, ...
        raise S2KError(f"{p}: truncated or corrupt image ({_one_line(exc)})") from exc
    if oriented is None:  # pragma: no cover - only returned when in_place=True
        oriented = img
    return _pil_to_array(oriented, p)


def jpeg_luma_quantization(path: str | os.PathLike[str]) -> np.ndarray | None:
    """The 64 luminance quantisation steps of a JPEG file (in the file's order), or None for any other
    format (or a JPEG without tables). Only the header is read."""
    p = Path(os.fspath(path))
    _check_readable_file(p, "an image file")
    try:
        with Image.open(p) as img:
            tables = getattr(img, "quantization", None) if img.format == "JPEG" else None
    except Exception as exc:  # the same errors read_image reports, in one line
        raise S2KError(f"{p}: not a readable image ({_one_line(exc)})") from exc
    if not tables or 0 not in tables:
        return None
    return np.asarray(tables[0], dtype=np.float64)


# --------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_path(path: str) -> None:
    flags = os.O_RDWR if os.name == "nt" else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Best-effort fsync of a directory so that a rename is durable (not possible on every OS)."""
    if os.name == "nt":  # pragma: no cover
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[str], None]) -> None:
    """Write a file atomically: ``writer(tmp_path)`` fills a temporary file, which then replaces ``path``.

    The temporary file lives in the target's directory (so the final ``os.replace`` is an atomic rename)
    and its name ends with the target's extension (so ``numpy.save`` adds no ``.npy`` and matplotlib picks
    the right format); it starts with a dot so :func:`list_images` skips a leftover one. Missing parent
    directories are created. After ``writer`` returns, the data is fsync'ed, the file gets the usual
    permissions (those of the file it replaces, else 0o666 minus the umask) and is renamed onto ``path``.

    On any failure the temporary file is removed and an existing ``path`` is left untouched. An
    ``OSError`` (unwritable directory, full disk, ...) becomes :class:`S2KError` naming ``path``; any other
    exception raised by ``writer`` propagates unchanged.
    """
    target = Path(os.fspath(path))
    if target.is_dir():
        raise S2KError(f"{target}: is a directory, cannot write a file there")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise S2KError(f"{target}: cannot create the output directory {parent} ({_one_line(exc)})") from exc
    try:
        with tempfile.NamedTemporaryFile(
            delete=False, dir=parent, prefix=f".{target.stem}.", suffix=target.suffix
        ) as tmp:
            tmp_path = tmp.name
    except OSError as exc:
        raise S2KError(f"{target}: cannot write ({_one_line(exc)})") from exc

    try:
        writer(tmp_path)
        _fsync_path(tmp_path)
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException as exc:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise S2KError(f"{target}: cannot write ({_one_line(exc)})") from exc
        raise
    _fsync_dir(parent)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Convert an image in 0..255 units to uint8: round half to even (``np.round``), clip to 0..255.

    This is the single rounding convention of s2k. Integer input is clipped as is; NaN raises
    ``ValueError`` (it has no defined 8-bit value).
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr.copy()
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"cannot convert an array of dtype {arr.dtype} to an 8-bit image")
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim and arr.size else arr.reshape(1, -1)
    out = np.empty(flat.shape, dtype=np.uint8)
    rows = max(1, (1 << 22) // max(1, flat.shape[1]))  # blocks of ~4 M values: bounded temporaries
    for y in range(0, flat.shape[0], rows):
        block = flat[y : y + rows]
        if np.issubdtype(block.dtype, np.floating) and np.isnan(block).any():
            raise ValueError("cannot convert NaN values to an 8-bit image")
        out[y : y + rows] = np.clip(np.round(block), 0, 255)
    return out.reshape(arr.shape)


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image in 0..255 units as an 8-bit file, atomically (see :func:`atomic_write`).

    ``image`` is H×W or H×W×C with C = 1 (grey), 3 (RGB) or 4 (RGBA), of any real dtype whose values are
    in 0..255 units; it is converted by :func:`to_uint8` (round half to even, clip to 0..255), so 16-bit
    data must be scaled by 255/65535 first. The format follows the extension, case-insensitively:
    ``.png``; ``.jpg``/``.jpeg`` (quality 95, no alpha); ``.tif``/``.tiff``; ``.bmp`` (no alpha);
    ``.webp`` (lossless). WebP has no grey mode, so a grey WebP reads back as RGB with equal channels.
    Missing parent directories are created.

    Raises :class:`S2KError`, before anything is written, for an unknown extension or an alpha channel
    the format cannot store, and when the file cannot be written. A wrongly shaped array or a NaN value
    raises ``ValueError``.
    """
    target = Path(os.fspath(path))
    ext = target.suffix.lower()
    if ext not in WRITE_FORMATS:
        known = ", ".join(WRITE_FORMATS)
        raise S2KError(f"{target}: unknown image extension {target.suffix or '(none)'!r}; use one of {known}")
    fmt, options, alpha_ok = WRITE_FORMATS[ext]

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"expected an H×W or H×W×{{1,3,4}} image, got shape {np.shape(image)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"cannot write an empty image of shape {np.shape(image)}")
    if arr.ndim == 3 and arr.shape[2] == 4 and not alpha_ok:
        raise S2KError(f"{target}: {fmt} cannot store an alpha channel; use .png, .tif or .webp")
    data = to_uint8(arr)
    pil = Image.fromarray(np.ascontiguousarray(data))  # uint8 H×W → L, H×W×3 → RGB, H×W×4 → RGBA

    def _save(tmp_path: str) -> None:
        pil.save(tmp_path, format=fmt, **options)

    atomic_write(target, _save)


# --------------------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------------------


def save_kernel(path: str | os.PathLike[str], k: np.ndarray) -> None:
    """Save a blur kernel (weights, dimensionless) as a float64 ``.npy`` file, atomically.

    ``path`` must end in ``.npy`` (any case), else :class:`S2KError`. The array is stored as float64
    without pickling; its shape is not checked here.
    """
    target = Path(os.fspath(path))
    if target.suffix.lower() != ".npy":
        raise S2KError(f"{target}: a kernel file must end in .npy")
    arr = np.asarray(k)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"a kernel must be a real numeric array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)

    def _save(tmp_path: str) -> None:
        # Write through a file object: np.save then never appends a second ".npy".
        with open(tmp_path, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)

    atomic_write(target, _save)


def load_kernel(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a blur kernel (weights, dimensionless) from a ``.npy`` file as a float64 array.

    Pickled data is never loaded. Raises :class:`S2KError` for a missing file, a directory, a file that is
    not a ``.npy`` array (``.npz`` archives included), an object (pickled) array, or a non-numeric dtype.
    The shape is not validated here (see ``s2k.kernels.validate_kernel``).
    """
    p = Path(os.fspath(path))
    _check_readable_file(p, "a .npy kernel file")
    try:
        loaded = np.load(p, allow_pickle=False)
    except PermissionError as exc:
        raise S2KError(f"{p}: permission denied") from exc
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object array" in str(exc).lower():
            raise S2KError(f"{p}: refusing a pickled (object) array; expected a numeric .npy") from exc
        raise S2KError(f"{p}: not a valid .npy kernel file ({_one_line(exc)})") from exc
    except Exception as exc:  # truncated header or data (EOFError, OSError, ...)
        raise S2KError(f"{p}: not a valid .npy kernel file ({_one_line(exc)})") from exc
    if not isinstance(loaded, np.ndarray):  # an .npz archive (NpzFile)
        close = getattr(loaded, "close", None)
        if close is not None:
            close()
        raise S2KError(f"{p}: expected a single .npy array, got a .npz archive")
    if loaded.dtype == np.bool_ or not np.issubdtype(loaded.dtype, np.number) or np.iscomplexobj(loaded):
        raise S2KError(f"{p}: kernel must hold real numbers, got dtype {loaded.dtype}")
    return loaded.astype(np.float64)


# --------------------------------------------------------------------------------------------------------
# folders
# --------------------------------------------------------------------------------------------------------


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder`` (not recursive), sorted by file name.

    A file counts when its extension, compared case-insensitively, is in :data:`IMAGE_EXTENSIONS`;
    hidden files (name starting with ``.``, e.g. a leftover temporary file of :func:`atomic_write` or a
    macOS ``._`` file) and directories are skipped. Raises :class:`S2KError` if ``folder`` is not a
    directory or holds no image file.
    """
    d = Path(os.fspath(folder))
    if not d.exists():
        raise S2KError(f"{d}: no such directory")
    if not d.is_dir():
        raise S2KError(f"{d}: not a directory")
    try:
        entries = list(d.iterdir())
    except OSError as exc:
        raise S2KError(f"{d}: cannot list directory ({_one_line(exc)})") from exc
    images = [
        e
        for e in entries
        if not e.name.startswith(".") and e.suffix.lower() in IMAGE_EXTENSIONS and e.is_file()
    ]
    if not images:
        raise S2KError(f"{d}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this directory")
    return sorted(images, key=lambda e: e.name)
