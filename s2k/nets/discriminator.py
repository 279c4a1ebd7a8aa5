"""The patch discriminator of S2K: a fully-convolutional network on (spectrum ; kernel map).

A pix2pix-style PatchGAN: ``n_layers`` stride-2 4×4 convolutions (LeakyReLU 0.2, instance norm after the
first) then a stride-1 convolution and a one-channel output of patch scores, used with the least-squares
(LSGAN) objective of :mod:`s2k.losses`.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Scores B×(1+1)×S×S pairs (spectrum, kernel map) patch by patch: B×1×h×w real/fake scores."""

    def __init__(self, in_channels: int = 2, width: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for i in range(1, n_layers):
            nxt = min(width * 2**i, 8 * width)
            layers += [
                nn.Conv2d(ch, nxt, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(nxt, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch = nxt
        nxt = min(ch * 2, 8 * width)
        layers += [
            nn.Conv2d(ch, nxt, 4, 1, 1, bias=False),
            nn.InstanceNorm2d(nxt, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nxt, 1, 4, 1, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, spec: torch.Tensor, kmap: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([spec, kmap], dim=1))
