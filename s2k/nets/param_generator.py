"""The parameter-output generator of the paper's Table-3 ablation: Gaussian parameters instead of a map.

The encoder is the kernel generator's (:class:`s2k.nets.generator.KernelGenerator`: the input layer and
``depth`` stride-2 convolutions); a small fully-connected head turns the innermost features into the three
parameters of an anisotropic Gaussian (:func:`s2k.kernels.gaussian_kernel`): σ1, σ2 squashed into
``SIGMA_RANGE`` and the orientation as a unit vector ``(cos 2θ, sin 2θ)`` (a Gaussian is the same at θ and
θ + π, so 2θ is the continuous quantity). The kernel is rendered differentiably and returned as a kernel
map (:func:`s2k.nets.generator.kernel_to_map`), so training (loss, discriminator) and inference
(:func:`s2k.nets.generator.map_to_kernel`, exact on such maps) are the map network's, unchanged: the
comparison isolates what the output representation does.
"""

from __future__ import annotations

import torch
from torch import nn

from s2k.kernels import KERNEL_SIZES
from s2k.nets.generator import GeneratorConfig, encoder, kernel_to_map, level_widths, with_condition

SIGMA_RANGE = (0.7, 3.3)  # a margin around the sampled [1, 3] so the squashing never saturates there


def render_gaussian(
    sigma1: torch.Tensor, sigma2: torch.Tensor, cos2t: torch.Tensor, sin2t: torch.Tensor, size: int
) -> torch.Tensor:
    """B anisotropic Gaussian kernels (B×size×size, sum 1) with the convention of
    :func:`s2k.kernels.gaussian_kernel`, from σ1, σ2 and the orientation ``(cos 2θ, sin 2θ)``."""
    a1, a2 = sigma1.pow(-2), sigma2.pow(-2)
    mean, diff = 0.5 * (a1 + a2), 0.5 * (a1 - a2)
    pxx = (mean + diff * cos2t).view(-1, 1, 1)
    pyy = (mean - diff * cos2t).view(-1, 1, 1)
    pxy = (diff * sin2t).view(-1, 1, 1)
    half = size // 2
    r = torch.arange(-half, half + 1, dtype=sigma1.dtype, device=sigma1.device)
    y, x = r.view(1, -1, 1), r.view(1, 1, -1)
    k = torch.exp(-0.5 * (pxx * x * x + 2.0 * pxy * x * y + pyy * y * y))
    return k / k.sum(dim=(-2, -1), keepdim=True)


class GaussianParamGenerator(nn.Module):
    """Feature (B×1×S×S) + conditioning → Gaussian parameters → kernel map (B×1×S×S). Module doc."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = cfg = config
        self.inp, self.downs = encoder(cfg)
        self.head = nn.Sequential(
            nn.Linear(level_widths(cfg)[-1], 128), nn.LeakyReLU(0.2, inplace=True), nn.Linear(128, 4)
        )
        self.kernel_size = KERNEL_SIZES["gaussian"]

    def params(self, feat: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """B×4: σ1, σ2 (HR pixels), cos 2θ, sin 2θ."""
        x = self.inp(with_condition(feat, cond, self.config.cond_channels))
        for down in self.downs:
            x = down(x)
        raw = self.head(x.mean(dim=(-2, -1))).float()
        lo, hi = SIGMA_RANGE
        sig = lo + (hi - lo) * torch.sigmoid(raw[:, :2])
        ang = raw[:, 2:] / raw[:, 2:].norm(dim=1, keepdim=True).clamp_min(1e-6)
        return torch.cat([sig, ang], dim=1)

    def forward(self, feat: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        p = self.params(feat, cond)
        k = render_gaussian(p[:, 0], p[:, 1], p[:, 2], p[:, 3], self.kernel_size)
        return kernel_to_map(k, self.config.input_size)
