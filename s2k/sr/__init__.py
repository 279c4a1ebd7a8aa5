"""Non-blind super-resolution backends.

* ``pnp``: plug-and-play half-quadratic splitting (:mod:`s2k.sr.pnp`): a closed-form FFT data step
  (:mod:`s2k.sr.fft_data`) alternating with a Gaussian denoiser prior (the learned
  :mod:`s2k.nets.denoiser`, or a classical total-variation prior); any kernel, any integer scale.
* the bicubic reference on s2k's sampling grid, and the usual image-library resize for comparison
  (:mod:`s2k.sr.bicubic`);
* overlapped tiling for large images (:mod:`s2k.sr.tiling`).
"""

from s2k.sr.bicubic import bicubic_upsample, bicubic_upsample_torch, image_resize_bicubic
from s2k.sr.pnp import PnPConfig, TVDenoiser, pnp_super_resolve, pnp_torch, unrolled_pnp
from s2k.sr.tiling import tiled_apply

__all__ = [
    "PnPConfig",
    "TVDenoiser",
    "bicubic_upsample",
    "bicubic_upsample_torch",
    "image_resize_bicubic",
    "pnp_super_resolve",
    "pnp_torch",
    "tiled_apply",
    "unrolled_pnp",
]
