"""The disk-radius regressor: a defocus disk's radius read from the LR pixels themselves.

The S2K estimator sees only the amplitude spectrum. For a disk at ×3 / ×4 the radius is 0.25–1 LR pixel
and the spectrum of a small LR image leaves it uncertain (docs/ESTIMATOR.md, "How precise must a disk
estimate be"); the sharpness of the image's edges, which the phase holds and the amplitude discards,
tells more. This small fully-convolutional network looks at the luminance of the LR image:

* input planes (:func:`radius_input`): the luminance (centred and scaled), its local contrast
  normalisation over 5×5 windows, and the log of the local variance;
* ``depth`` 3×3 convolutions of ``width`` channels with ReLU, stride 1 (a receptive field of
  ``2·depth + 1`` LR pixels);
* a 1×1 convolution to two planes: a radius guess per pixel and a weight logit per pixel. The image's
  radius is the softmax-weighted mean of the guesses over all pixels, so the network can lean on edges
  and ignore flat areas, and any image size works.

The output is the radius in HR pixels. One network serves one scale (the metadata names it). Weights:
safetensors only, metadata ``kind = "s2k-disk-radius"`` with :class:`RadiusNetConfig` and the scale.
Training: :mod:`s2k.train.radius`; use: :mod:`s2k.disk_radius`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from s2k.errors import S2KError

INPUT_PLANES = 3
LOCAL_WINDOW = 5  # side of the local mean / variance windows (LR pixels)
LOCAL_VAR_FLOOR = 4.0  # added to the local variance (0..255 units²) before division and log
RADIUS_OFFSET = 2.0  # the output's zero point: the middle of the training radii [1, 3]


@dataclass(frozen=True)
class RadiusNetConfig:
    """Shape of a :class:`RadiusNet`."""

    width: int = 32
    depth: int = 7

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise S2KError(f"width and depth must be >= 1, got {self.width}, {self.depth}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _local_mean(x: torch.Tensor) -> torch.Tensor:
    p = LOCAL_WINDOW // 2
    return F.avg_pool2d(F.pad(x, (p, p, p, p), mode="replicate"), LOCAL_WINDOW, 1)


def radius_input(grey: torch.Tensor) -> torch.Tensor:
    """The network's input planes from a ``B×1×H×W`` luminance batch in 0..255 units."""
    if grey.ndim != 4 or grey.shape[1] != 1:
        raise ValueError(f"expected a B×1×H×W luminance batch, got shape {tuple(grey.shape)}")
    mean = _local_mean(grey)
    var = _local_mean((grey - mean) ** 2) + LOCAL_VAR_FLOOR
    return torch.cat([(grey - 128.0) / 64.0, (grey - mean) / torch.sqrt(var), torch.log(var) / 4.0], dim=1)


class RadiusNet(nn.Module):
    """Luminance (``B×1×H×W``, 0..255) → disk radius in HR pixels (``B``)."""

    def __init__(self, config: RadiusNetConfig = RadiusNetConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = INPUT_PLANES
        for _ in range(config.depth):
            layers += [nn.Conv2d(channels, config.width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = config.width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(config.width, 2, 1)

    def maps(self, grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel radius guesses and weight logits (each ``B×H×W``)."""
        out = self.head(self.body(radius_input(grey)))
        return out[:, 0], out[:, 1]

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        guess, logit = self.maps(grey)
        return pool_radius(guess.flatten(1), logit.flatten(1))


def pool_radius(guess: torch.Tensor, logit: torch.Tensor) -> torch.Tensor:
    """The radius from guesses and logits (``B×N``): their softmax-weighted mean over the N pixels."""
    return RADIUS_OFFSET + (torch.softmax(logit, dim=1) * guess).sum(dim=1)


COMBINER_SCALE = 0.5  # the combiner's inputs are (r − RADIUS_OFFSET) / COMBINER_SCALE


@dataclass(frozen=True)
class CombinerConfig:
    """Shape of a :class:`RadiusCombiner`: the linear blend weight and the correction's hidden width."""

    blend: float = 1.0
    hidden: int = 16

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend <= 1.0 or self.hidden < 1:
            raise S2KError(f"need blend in [0, 1] and hidden >= 1, got {self.blend}, {self.hidden}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RadiusCombiner(nn.Module):
    """Two radius readings of one image → one radius: ``(1 − blend)·r_S2K + blend·r_CNN`` plus a small
    MLP's correction computed from the two (``B`` each, HR pixels → ``B``).

    The correction (two tanh layers of ``hidden`` units) lets the weight of the two readings and their
    bias depend on the radius: at ×3 the spectrum reads large disks better than the CNN, small ones worse
    (docs/ESTIMATOR.md, "A radius-dependent combination"). Its last layer starts at zero, so an untrained
    combiner is the linear blend. Fitted by :mod:`s2k.train.radius_combiner`.
    """

    def __init__(self, config: CombinerConfig = CombinerConfig()) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.mlp = nn.Sequential(nn.Linear(2, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 1))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, r_s2k: torch.Tensor, r_cnn: torch.Tensor) -> torch.Tensor:
        w = self.config.blend
        x = (torch.stack([r_s2k, r_cnn], dim=-1) - RADIUS_OFFSET) / COMBINER_SCALE
        return (1.0 - w) * r_s2k + w * r_cnn + self.mlp(x)[..., 0]
