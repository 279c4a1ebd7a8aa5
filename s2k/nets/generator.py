"""The Spectrum-to-Kernel generator (paper §3.3, Fig. 4) and the kernel-map convention.

Generator: an input convolution with stride 2, then a U-Net whose encoder has ``depth`` stride-2
convolutions and whose decoder has ``depth`` stride-2 transposed convolutions, with mirror skip connections
between layers of equal size, and an output layer (a stride-2 transposed convolution back to the input
size) giving a single-channel **kernel map**. The paper's network is ``input_size=256, depth=7,
width=64`` (U-Net-8-64 in its ablation, counting the input layer); ``skips=False`` gives the ablation's
plain encoder-decoder. Conditioning inputs (the scale factor) enter as constant extra input planes.

Kernel map (an s2k convention; the paper says only "the kernel up-sampled by interpolation"): the
kernel, bilinearly up-sampled (``align_corners=True``: the map's corners are the kernel's corner pixels)
to the map size and divided by its largest value, so the peak is 1 like a pix2pix image target.
:func:`map_to_kernel` down-samples with the least-squares inverse of that interpolation, which recovers a
kernel exactly from its own map (plain bilinear down-sampling loses up to 3e-4 of D_v on motion and disk
kernels, as much as the accuracy targets), then clips negatives and normalises to sum 1.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
from torch import nn

OUTPUTS = ("map", "gaussian")


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of the generator. The defaults are s2k's shipped configuration (see the model cards)."""

    input_size: int = 64  # side of the spectrum feature (paper: 256)
    depth: int = 5  # stride-2 convolutions inside the U-Net (paper: 7)
    width: int = 32  # channels after the input layer; doubled per level up to ``max_width``
    max_width: int = 256
    skips: bool = True  # U-Net mirror skips (False: plain encoder-decoder)
    cond_channels: int = 1  # constant conditioning planes (the scale)
    output: str = "map"  # "map": the paper's kernel map; "gaussian": Table-3 ablation (Gaussian parameters)

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if self.input_size % (2 ** (self.depth + 1)) != 0:
            raise ValueError(f"input_size {self.input_size} must be divisible by 2^(depth+1)")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
        nn.InstanceNorm2d(cout, affine=True),
        nn.ReLU(inplace=True),
    )


def level_widths(cfg: GeneratorConfig) -> list[int]:
    """Channels after the input layer and after each of the ``depth`` stride-2 convolutions."""
    return [min(cfg.width * 2**i, cfg.max_width) for i in range(cfg.depth + 1)]


def encoder(cfg: GeneratorConfig) -> tuple[nn.Module, nn.ModuleList]:
    """The input layer and the ``depth`` stride-2 convolutions (shared by both generators)."""
    widths = level_widths(cfg)
    downs = nn.ModuleList(
        # the innermost level is 1×1 when input_size = 2^(depth+1): no norm there
        _down(widths[i], widths[i + 1], norm=i < cfg.depth - 1)
        for i in range(cfg.depth)
    )
    return _down(1 + cfg.cond_channels, widths[0], norm=False), downs


def with_condition(feat: torch.Tensor, cond: torch.Tensor | None, channels: int) -> torch.Tensor:
    """``feat`` (B×1×S×S) with ``channels`` constant planes holding the conditioning values appended."""
    if not channels:
        return feat
    if cond is None:
        raise ValueError("this generator needs conditioning values (the scale)")
    b, _, h, w = feat.shape
    planes = cond.to(feat.dtype).view(b, -1, 1, 1).expand(b, channels, h, w)
    return torch.cat([feat, planes], dim=1)


class KernelGenerator(nn.Module):
    """Spectrum (B×1×S×S) + conditioning planes → kernel map (B×1×S×S). See the module docstring."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or GeneratorConfig()
        widths = level_widths(cfg)
        self.inp, self.downs = encoder(cfg)
        mult = 2 if cfg.skips else 1
        ups = []
        for i in reversed(range(cfg.depth)):
            cin = widths[i + 1] * (1 if i == cfg.depth - 1 else mult)
            ups.append(_up(cin, widths[i]))
        self.ups = nn.ModuleList(ups)
        self.out = nn.ConvTranspose2d(widths[0] * mult, 1, 4, stride=2, padding=1)

    def forward(self, spec: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``spec``: B×1×S×S feature; ``cond``: B×cond_channels values, broadcast to planes."""
        x = self.inp(with_condition(spec, cond, self.config.cond_channels))
        feats = [x]
        for down in self.downs:
            x = down(x)
            feats.append(x)
        for i, up in enumerate(self.ups):
            if i > 0 and self.config.skips:
                x = torch.cat([x, feats[-1 - i]], dim=1)
            x = up(x)
        if self.config.skips:
            x = torch.cat([x, feats[0]], dim=1)
        return self.out(x)


@functools.lru_cache(maxsize=16)
def _interp_matrix(k: int, m: int) -> torch.Tensor:
    """1-D linear interpolation (``align_corners=True``) of ``k`` samples to ``m`` samples: an m×k matrix."""
    pos = torch.linspace(0, k - 1, m, dtype=torch.float64)
    lo = pos.floor().clamp(max=k - 2).long() if k > 1 else torch.zeros(m, dtype=torch.long)
    frac = pos - lo
    u = torch.zeros(m, k, dtype=torch.float64)
    u[torch.arange(m), lo] = 1 - frac
    if k > 1:
        u[torch.arange(m), lo + 1] += frac
    return u


@functools.lru_cache(maxsize=16)
def _inverse_matrix(k: int, m: int) -> torch.Tensor:
    """Least-squares inverse (pseudo-inverse) of :func:`_interp_matrix`: a k×m matrix."""
    return torch.linalg.pinv(_interp_matrix(k, m))


def kernel_to_map(kernels: torch.Tensor, map_size: int) -> torch.Tensor:
    """B×k×k kernels → B×1×M×M kernel maps: separable linear interpolation, divided by the peak (peak 1)."""
    u = _interp_matrix(kernels.shape[-1], map_size).to(kernels.device, kernels.dtype)
    m = (u @ kernels @ u.T).unsqueeze(1)
    return m / m.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def map_to_kernel(maps: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """B×1×M×M kernel maps → B×k×k kernels (float64): the least-squares inverse of the interpolation
    (exact for a map made by :func:`kernel_to_map`), negatives clipped, normalised to sum 1."""
    p = _inverse_matrix(kernel_size, maps.shape[-1]).to(maps.device)
    k = (p @ maps[:, 0].double() @ p.T).clamp_min(0)
    s = k.sum(dim=(-2, -1), keepdim=True)
    uniform = torch.full_like(k, 1.0 / kernel_size**2)
    return torch.where(s > 0, k / s.clamp_min(1e-300), uniform)
