"""SFTMD: the kernel-conditioned SR network of IKC (Gu et al., CVPR 2019) that the S2K paper plugs its
kernels into, in s2k's multi-scale form.

Structure: the LR image and the kernel's PCA code (:mod:`s2k.kernel_pca`, stretched over the image) go
through a 3×3 head convolution, ``blocks`` residual blocks ``x + conv(relu(SFT(conv(relu(SFT(x))))))``, a
last SFT + convolution and a long skip to the head's features; a per-scale tail (pixel shuffle: ×2, ×3 in
one step, ×4 as two ×2 steps) and an output convolution give the residual to s2k's bicubic up-sampling
(:func:`s2k.sr.bicubic.bicubic_upsample_torch`, on the degradation's sampling grid). One body serves
every scale in ``scales`` (the tails differ), like MDSR.

The spatial feature transform ``SFT(x) = x ⊙ σ(γ(x, c)) + β(x, c)`` gets the features and the code map
through 1×1 convolutions (IKC uses 3×3; the code is constant over the image, so a 1×1 layer sees the same
information at a fraction of the cost). Images are 0..1 RGB inside the network.

The PCA basis (mean, components, scales, canvas) is stored as buffers, so one weight file holds all a
model needs (:func:`load_sftmd`).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from s2k.checkpoint import WEIGHTS_DIR, load_checkpoint, read_weight_metadata
from s2k.errors import S2KError
from s2k.kernel_pca import KernelPCA
from s2k.sr.bicubic import bicubic_upsample_torch

WEIGHTS_PATH = WEIGHTS_DIR / "sftmd.safetensors"


@dataclass(frozen=True)
class SFTMDConfig:
    """Network shape: channels, width, residual blocks, PCA code size, kernel canvas, served scales."""

    channels: int = 3
    width: int = 64
    blocks: int = 10
    code_dim: int = 32
    sft_hidden: int = 32
    canvas: int = 23
    scales: tuple[int, ...] = (2, 3, 4)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scales"] = list(self.scales)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SFTMDConfig:
        return cls(**{**d, "scales": tuple(d["scales"])})


class SFT(nn.Module):
    """``x ⊙ sigmoid(γ) + β`` with γ, β from 1×1 convolutions of (features ; code map)."""

    def __init__(self, width: int, code_dim: int, hidden: int) -> None:
        super().__init__()
        self.gamma = nn.Sequential(
            nn.Conv2d(width + code_dim, hidden, 1), nn.LeakyReLU(0.1, True), nn.Conv2d(hidden, width, 1)
        )
        self.beta = nn.Sequential(
            nn.Conv2d(width + code_dim, hidden, 1), nn.LeakyReLU(0.1, True), nn.Conv2d(hidden, width, 1)
        )

    def forward(self, x: torch.Tensor, code_map: torch.Tensor) -> torch.Tensor:
        xc = torch.cat([x, code_map], dim=1)
        return x * torch.sigmoid(self.gamma(xc)) + self.beta(xc)


class SFTBlock(nn.Module):
    """``x + conv(relu(SFT(conv(relu(SFT(x))))))``."""

    def __init__(self, width: int, code_dim: int, hidden: int) -> None:
        super().__init__()
        self.sft1 = SFT(width, code_dim, hidden)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.sft2 = SFT(width, code_dim, hidden)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor, code_map: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(self.sft1(x, code_map)))
        y = self.conv2(F.relu(self.sft2(y, code_map)))
        return x + y


def _tail(width: int, scale: int) -> nn.Sequential:
    steps = [2, 2] if scale == 4 else [scale]
    layers: list[nn.Module] = []
    for s in steps:
        layers += [nn.Conv2d(width, width * s * s, 3, padding=1), nn.PixelShuffle(s), nn.LeakyReLU(0.1, True)]
    return nn.Sequential(*layers)


class SFTMD(nn.Module):
    """The multi-scale SFTMD (module docstring). ``forward(lr01, code, scale)``: ``B×C×h×w`` in 0..1 and
    ``B×code_dim`` codes → ``B×C×sh×sw``."""

    def __init__(self, config: SFTMDConfig | None = None) -> None:
        super().__init__()
        cfg = config or SFTMDConfig()
        if any(s not in (2, 3, 4) for s in cfg.scales):
            raise S2KError(f"SFTMD serves scales 2, 3 and 4, got {cfg.scales}")
        self.config = cfg
        w, d, h = cfg.width, cfg.code_dim, cfg.sft_hidden
        self.head = nn.Conv2d(cfg.channels + d, w, 3, padding=1)
        self.body = nn.ModuleList([SFTBlock(w, d, h) for _ in range(cfg.blocks)])
        self.body_sft = SFT(w, d, h)
        self.body_conv = nn.Conv2d(w, w, 3, padding=1)
        self.tails = nn.ModuleDict({f"x{s}": _tail(w, s) for s in cfg.scales})
        self.out = nn.Conv2d(w, cfg.channels, 3, padding=1)
        n = cfg.canvas * cfg.canvas
        self.register_buffer("pca_mean", torch.zeros(n, dtype=torch.float64))
        self.register_buffer("pca_basis", torch.zeros(d, n, dtype=torch.float64))
        self.register_buffer("pca_scale", torch.ones(d, dtype=torch.float64))

    def set_pca(self, pca: KernelPCA) -> None:
        """Store a fitted kernel PCA (its size must match the configuration)."""
        if pca.dim != self.config.code_dim or pca.canvas != self.config.canvas:
            raise S2KError(
                f"PCA of dim {pca.dim} / canvas {pca.canvas} does not fit a network with code_dim "
                f"{self.config.code_dim} / canvas {self.config.canvas}"
            )
        self.pca_mean.copy_(torch.from_numpy(pca.mean))
        self.pca_basis.copy_(torch.from_numpy(pca.basis))
        self.pca_scale.copy_(torch.from_numpy(pca.scale))

    def pca(self) -> KernelPCA:
        """The stored kernel PCA."""
        return KernelPCA(
            self.pca_mean.double().cpu().numpy(),
            self.pca_basis.double().cpu().numpy(),
            self.pca_scale.double().cpu().numpy(),
            self.config.canvas,
        )

    def encode(self, canvas_kernels: torch.Tensor) -> torch.Tensor:
        """Codes of ``B×canvas×canvas`` kernels already on the canvas (each summing to 1)."""
        flat = canvas_kernels.reshape(canvas_kernels.shape[0], -1).to(self.pca_mean.dtype)
        code = (flat - self.pca_mean) @ self.pca_basis.T / self.pca_scale
        return code.float()

    def forward(self, lr: torch.Tensor, code: torch.Tensor, scale: int) -> torch.Tensor:
        key = f"x{scale}"
        if key not in self.tails:
            raise S2KError(f"this SFTMD serves scales {self.config.scales}, not ×{scale}")
        b, _, h, w = lr.shape
        code_map = code.to(lr.dtype).reshape(b, -1, 1, 1).expand(b, code.shape[1], h, w)
        feat = self.head(torch.cat([lr, code_map], dim=1))
        x = feat
        for block in self.body:
            x = block(x, code_map)
        x = feat + self.body_conv(self.body_sft(x, code_map))
        residual = self.out(self.tails[key](x))
        return bicubic_upsample_torch(lr, scale) + residual

    @torch.no_grad()
    def super_resolve(self, lr: torch.Tensor, kernel: np.ndarray, scale: int) -> torch.Tensor:
        """SR of a ``B×C×h×w`` batch in 0..255 with one kernel (any odd size up to the canvas)."""
        code = torch.from_numpy(self.pca().encode(kernel)).float()[None].expand(lr.shape[0], -1)
        dev = next(self.parameters()).device
        out = self(lr.to(dev, torch.float32) / 255.0, code.to(dev), scale)
        return out * 255.0


def load_sftmd(path: str | Path, device: str = "cpu") -> SFTMD:
    """Load an SFTMD weight file (metadata ``kind = "s2k-sftmd"``; fp16 files are read into float32)."""
    meta = read_weight_metadata(path, "s2k-sftmd")
    net = SFTMD(SFTMDConfig.from_dict(meta["sftmd"]))
    load_checkpoint(path, {"net": net})
    net.meta = meta  # type: ignore[assignment]
    return net.to(device).eval()


@functools.lru_cache(maxsize=1)
def default_sftmd() -> SFTMD:
    """The shipped SFTMD (``s2k/weights/sftmd.safetensors``), loaded once."""
    if not WEIGHTS_PATH.is_file():
        raise S2KError(
            f"no shipped SFTMD weights ({WEIGHTS_PATH} is missing): train one with `s2k train sr` and export "
            "it with `s2k train export`, or use the pnp backend"
        )
    return load_sftmd(WEIGHTS_PATH)
