"""s2k: blind image super-resolution with Spectrum-to-Kernel blur estimation.

The public API (each function documents its units and conventions):

* kernels: :func:`sample_kernel`, :func:`gaussian_kernel`, :func:`motion_kernel`, :func:`disk_kernel`
* degradation: :func:`degrade` (``LR = (HR ⊛ k)[0::s, 0::s] + n``, rounded to 8 bits)
* spectrum feature: :func:`spectrum_feature`
* kernel estimation (S2K): :func:`estimate_kernel`; the nearest Gaussian or disk: :func:`fit_kernel`;
  the family too, with a probability for each: :func:`choose_family` (``family="auto"``)
* super-resolution, blind or with a known kernel: :func:`super_resolve`
* metrics: :func:`psnr_y`, :func:`ssim_y`, :func:`kernel_errors`
* image I/O: :func:`read_image`, :func:`write_image`, :func:`load_kernel`, :func:`save_kernel`

Images are numpy arrays H×W×C in 0..255; kernels are 2-D float arrays in HR pixels, odd sizes, summing
to 1, centred on the middle pixel.
"""

from s2k.degradation import degrade
from s2k.errors import S2KError
from s2k.estimate import estimate_kernel
from s2k.family import choose_family
from s2k.io import load_kernel, read_image, save_kernel, write_image
from s2k.kernel_fit import fit_kernel
from s2k.kernels import disk_kernel, gaussian_kernel, motion_kernel, sample_kernel
from s2k.metrics import kernel_errors, psnr_y, ssim_y
from s2k.pipeline import super_resolve
from s2k.spectrum import spectrum_feature

__version__ = "0.1.0"

__all__ = [
    "S2KError",
    "__version__",
    "choose_family",
    "degrade",
    "disk_kernel",
    "estimate_kernel",
    "fit_kernel",
    "gaussian_kernel",
    "kernel_errors",
    "load_kernel",
    "motion_kernel",
    "psnr_y",
    "read_image",
    "sample_kernel",
    "save_kernel",
    "spectrum_feature",
    "ssim_y",
    "super_resolve",
    "write_image",
]
