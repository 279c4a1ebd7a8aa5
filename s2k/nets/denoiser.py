"""The learned Gaussian denoiser used as the prior of plug-and-play SR (:mod:`s2k.sr.pnp`).

A small bias-free U-Net in the spirit of DRUNet (Zhang et al., "Plug-and-Play Image Restoration with Deep
Denoiser Prior", TPAMI 2021), shrunk to run on a CPU:

* input: the noisy RGB image (``B×3×H×W``, 0..1 units) and its noise level σ (0..1 units);
* pixel-unshuffle by ``unshuffle`` (space-to-depth), then one constant σ plane is appended, so every
  convolution runs at ``1/unshuffle`` of the resolution or less (the cost of a 3×3 convolution at level
  ``l`` is ``9·w_l² / (unshuffle·2^l)²`` multiply-adds per image pixel);
* a U-Net: ``len(widths)`` levels, 2×2 stride-2 convolutions down, 2×2 stride-2 transposed convolutions
  up, additive skips, ``blocks[l]`` residual blocks (conv-ReLU-conv + identity) per level on each side
  (the last level's are the bottleneck);
* a 3×3 convolution to ``3·unshuffle²`` channels and pixel-shuffle gives the noise estimate; the output
  is ``input − noise`` (residual form). That last convolution starts at zero, so an untrained network is
  the identity (training then starts from the noisy input's quality instead of a random image).

No biases and no normalisation layers (bias-free CNNs generalise across noise levels, Mohan et al. 2020;
DRUNet does the same). Inputs whose sides are not multiples of :attr:`DenoiserConfig.factor` are extended
by half-sample symmetric reflection and cropped back.

Weights: safetensors only (:mod:`s2k.checkpoint`), metadata ``kind = "s2k-denoiser"`` with the
:class:`DenoiserConfig`; the shipped files are ``s2k/weights/denoiser.safetensors`` (one network for every
scale, :func:`default_denoiser`) and, where shipped, ``s2k/weights/denoiser-x<s>.safetensors`` (one
network per HQS round, fine-tuned on scale ``s`` alone; :func:`prior_for_scale` prefers them). Training:
:mod:`s2k.train.denoiser`.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from s2k.checkpoint import WEIGHTS_DIR, load_checkpoint, read_weight_metadata
from s2k.degradation import symmetric_pad
from s2k.errors import S2KError

WEIGHTS_PATH = WEIGHTS_DIR / "denoiser.safetensors"


@dataclass(frozen=True)
class DenoiserConfig:
    """Shape of the denoiser (the defaults are s2k's shipped configuration)."""

    channels: int = 3  # image channels (RGB)
    unshuffle: int = 2  # space-to-depth factor before the first convolution
    widths: tuple[int, ...] = (16, 32, 64)  # channels per U-Net level
    blocks: tuple[int, ...] = (0, 1, 1)  # residual blocks per level and side (last level: bottleneck)

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.blocks) or not self.widths:
            raise ValueError("widths and blocks must be non-empty and of equal length")
        if self.unshuffle < 1 or self.channels < 1 or min(self.widths) < 1 or min(self.blocks) < 0:
            raise ValueError(f"invalid denoiser configuration {self}")

    @property
    def factor(self) -> int:
        """Input sides are padded to a multiple of this (unshuffle × 2^(levels − 1))."""
        return self.unshuffle * 2 ** (len(self.widths) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DenoiserConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))``, bias-free."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = _conv3(width, width)
        self.conv2 = _conv3(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class DenoiserNet(nn.Module):
    """Noise-level-conditioned residual U-Net denoiser (see the module docstring)."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or DenoiserConfig()
        r2 = cfg.unshuffle**2
        w = cfg.widths
        self.head = _conv3(cfg.channels * r2 + 1, w[0])
        self.enc = nn.ModuleList(
            nn.Sequential(*(ResBlock(w[i]) for _ in range(cfg.blocks[i]))) for i in range(len(w) - 1)
        )
        self.down = nn.ModuleList(
            nn.Conv2d(w[i], w[i + 1], 2, stride=2, bias=False) for i in range(len(w) - 1)
        )
        self.mid = nn.Sequential(*(ResBlock(w[-1]) for _ in range(cfg.blocks[-1])))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2, bias=False) for i in range(len(w) - 1)
        )
        self.dec = nn.ModuleList(
            nn.Sequential(*(ResBlock(w[i]) for _ in range(cfg.blocks[i]))) for i in range(len(w) - 1)
        )
        self.tail = _conv3(w[0], cfg.channels * r2)
        nn.init.zeros_(self.tail.weight)  # start as the identity: no noise estimated

    def noise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """The estimated noise of ``x`` (``B×C×H×W``, sides multiples of :attr:`DenoiserConfig.factor`)."""
        b = x.shape[0]
        feat = F.pixel_unshuffle(x, self.config.unshuffle) if self.config.unshuffle > 1 else x
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        plane = sig.expand(b, 1, *feat.shape[-2:])
        h = torch.cat([feat, plane], dim=1)  # re-laid out once, after the cheap ops in the input's layout
        if self.head.weight.is_contiguous(memory_format=torch.channels_last):
            h = h.contiguous(memory_format=torch.channels_last)
        h = self.head(h)
        skips = []
        for enc, down in zip(self.enc, self.down, strict=True):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.mid(h)
        for i in reversed(range(len(self.up))):
            h = self.dec[i](self.up[i](h) + skips[i])
        out = self.tail(h).contiguous()  # pixel_shuffle is several times faster on the standard layout
        return F.pixel_shuffle(out, self.config.unshuffle) if self.config.unshuffle > 1 else out

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Denoise ``x`` (``B×C×H×W``, 0..1 units, any size) at noise level ``sigma`` (0..1 units; a float
        or one value per image). Returns ``x − noise(x)``, same shape."""
        if x.ndim != 4 or x.shape[1] != self.config.channels:
            raise ValueError(f"expected B×{self.config.channels}×H×W input, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        f = self.config.factor
        ph, pw = (-h) % f, (-w) % f
        xp = symmetric_pad(x, (0, ph), (0, pw)) if ph or pw else x
        return x - self.noise(xp, sigma)[..., :h, :w]

    @torch.no_grad()
    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Denoise in s2k's 0..255 units: ``x`` is ``B×C×H×W`` with C = :attr:`DenoiserConfig.channels` or
        C = 1 (grey, replicated to the network's channels and averaged back); ``sigma`` in 0..255."""
        c = x.shape[1]
        dev = next(self.parameters()).device
        dtype = next(self.parameters()).dtype
        inp = x.to(device=dev, dtype=dtype) / 255.0
        if c == 1 and self.config.channels != 1:
            inp = inp.expand(-1, self.config.channels, -1, -1)
        sig = torch.as_tensor(sigma, dtype=dtype, device=dev) / 255.0
        out = self(inp, sig) * 255.0
        if c == 1 and self.config.channels != 1:
            out = out.mean(dim=1, keepdim=True)
        return out.to(device=x.device, dtype=x.dtype)


class RoundDenoisers(nn.Module):
    """Untied weights: one :class:`DenoiserNet` per HQS round of plug-and-play SR (round ``i`` of
    :func:`s2k.sr.pnp.hqs_loop` calls network ``i``). The same cost per round as one shared network, and
    ``rounds`` times the parameters; only usable with exactly ``rounds`` HQS iterations. Trained end to
    end through the rounds (:mod:`s2k.train.denoiser`, ``rounds > 1``), usually starting with a trained
    shared network copied into every round."""

    def __init__(self, config: DenoiserConfig, rounds: int) -> None:
        super().__init__()
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        self.config = config
        self.rounds = rounds
        self.nets = nn.ModuleList(DenoiserNet(self.config) for _ in range(rounds))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, round_index: int) -> torch.Tensor:
        """Denoise ``x`` (0..1 units) with the network of round ``round_index``."""
        return self.nets[round_index](x, sigma)

    def priors(self) -> list[Any]:
        """The per-round priors in 0..255 units (:meth:`DenoiserNet.denoise` of each network)."""
        return [net.denoise for net in self.nets]

    def load_shared(self, net: DenoiserNet) -> None:
        """Copy one shared network's weights into every round."""
        for own in self.nets:
            own.load_state_dict(net.state_dict())


def build_denoiser(config: DenoiserConfig, rounds: int = 1) -> DenoiserNet | RoundDenoisers:
    """A shared network (``rounds`` = 1) or one per round (:class:`RoundDenoisers`)."""
    return DenoiserNet(config) if rounds == 1 else RoundDenoisers(config, rounds)


def _identity_block(width: int) -> ResBlock:
    """A residual block that starts as the identity (its second convolution is zero) and can still learn."""
    block = ResBlock(width)
    nn.init.zeros_(block.conv2.weight)
    return block


def grow_denoiser(net: DenoiserNet, config: DenoiserConfig) -> DenoiserNet:
    """A larger :class:`DenoiserNet` that computes exactly what ``net`` computes, to fine-tune from.

    ``config`` may add levels below the last one (``widths`` must start with ``net``'s widths) and residual
    blocks on any level (``blocks[l]`` >= ``net``'s count there; the old bottleneck level needs at least its
    old count, since its blocks become that level's encoder blocks). Grown parts start so that they change
    nothing: a new decoder block's second convolution and a new level's up-convolution are zero, while the
    parts feeding them keep PyTorch's random initialisation, so every new weight receives gradients. The
    old bottleneck's blocks become the encoder blocks of their level, identity blocks its decoder blocks.
    """
    old = net.config
    n_old = len(old.widths)
    if config.channels != old.channels or config.unshuffle != old.unshuffle:
        raise ValueError("growing keeps the channels and the unshuffle factor")
    if config.widths[:n_old] != old.widths:
        raise ValueError(f"widths {config.widths} do not start with the grown network's {old.widths}")
    if any(nb < ob for nb, ob in zip(config.blocks, old.blocks, strict=False)):
        raise ValueError(f"blocks {config.blocks} are fewer than the grown network's {old.blocks}")
    new = DenoiserNet(config)
    new.head.load_state_dict(net.head.state_dict())
    new.tail.load_state_dict(net.tail.state_dict())

    def extended(blocks: list[ResBlock], width: int, count: int) -> nn.Sequential:
        return nn.Sequential(
            *(copy_block(b) for b in blocks), *(_identity_block(width) for _ in range(count - len(blocks)))
        )

    last = n_old - 1
    for lvl in range(last):  # old encoder/decoder levels: copies, identity blocks after
        width, nb = config.widths[lvl], config.blocks[lvl]
        new.enc[lvl] = extended(list(net.enc[lvl]), width, nb)
        new.dec[lvl] = extended(list(net.dec[lvl]), width, nb)
        new.down[lvl].load_state_dict(net.down[lvl].state_dict())
        new.up[lvl].load_state_dict(net.up[lvl].state_dict())
    width, nb = config.widths[last], config.blocks[last]
    if len(config.widths) > n_old:  # the old bottleneck becomes an encoder level; new levels below it
        new.enc[last] = extended(list(net.mid), width, nb)
        new.dec[last] = extended([], width, nb)
        nn.init.zeros_(new.up[last].weight)  # whatever the new levels compute enters through zero at first
    else:
        new.mid = extended(list(net.mid), width, nb)
    return new


def copy_block(block: ResBlock) -> ResBlock:
    """A copy of a residual block (same weights)."""
    out = ResBlock(block.conv1.weight.shape[0])
    out.load_state_dict(block.state_dict())
    return out


def multiply_adds_per_pixel(config: DenoiserConfig) -> float:
    """Multiply-adds per input pixel of one forward pass (convolutions only)."""
    r = config.unshuffle
    w = config.widths
    total = 9 * (config.channels * r * r + 1) * w[0] / r**2 + 9 * w[0] * config.channels * r * r / r**2
    for lvl, (width, nb) in enumerate(zip(w, config.blocks, strict=True)):
        sides = 1 if lvl == len(w) - 1 else 2
        total += sides * nb * 2 * 9 * width * width / (r * 2**lvl) ** 2
    for lvl in range(len(w) - 1):
        total += 2 * 4 * w[lvl] * w[lvl + 1] / (r * 2 ** (lvl + 1)) ** 2
    return total


def load_denoiser(path: str | Path, device: str = "cpu") -> DenoiserNet | RoundDenoisers:
    """Load a denoiser from a safetensors weight file (metadata ``kind = "s2k-denoiser"``; ``rounds`` > 1
    gives :class:`RoundDenoisers`), in eval mode, float32 (the file may be fp16), in channels-last memory
    format (about 1.5× faster on CPU; :meth:`DenoiserNet.denoise` then feeds it channels-last input)."""
    meta = read_weight_metadata(path, "s2k-denoiser")
    net = build_denoiser(DenoiserConfig.from_dict(meta["denoiser"]), int(meta.get("rounds", 1)))
    load_checkpoint(path, {"net": net})
    net.meta = meta  # type: ignore[assignment]
    return net.to(device=device, memory_format=torch.channels_last).eval()


def scale_weights_path(scale: int) -> Path:
    """Where the shipped prior specialised to ×``scale`` lives (only some scales have one)."""
    return WEIGHTS_PATH.with_name(f"denoiser-x{scale}.safetensors")


@functools.lru_cache(maxsize=8)
def _cached_denoiser(path: str) -> DenoiserNet | RoundDenoisers:
    return load_denoiser(path)


def prior_for_scale(scale: int, rounds: int) -> DenoiserNet | RoundDenoisers:
    """The shipped prior for SR at ×``scale`` in ``rounds`` HQS rounds, loaded once: the scale's own network
    (``denoiser-x<scale>.safetensors``) when one is shipped and was trained for that many rounds, otherwise
    the shared :func:`default_denoiser` (every other scale, or another number of rounds)."""
    path = scale_weights_path(scale)
    if path.is_file():
        net = _cached_denoiser(str(path))
        if not isinstance(net, RoundDenoisers) or net.rounds == rounds:
            return net
    return default_denoiser()


@functools.lru_cache(maxsize=1)
def default_denoiser() -> DenoiserNet | RoundDenoisers:
    """The shipped denoiser (``s2k/weights/denoiser.safetensors``), loaded once."""
    if not WEIGHTS_PATH.is_file():
        raise S2KError(
            f"no shipped denoiser weights ({WEIGHTS_PATH} is missing): train one with "
            "s2k.train.denoiser.train_denoiser and export it with export_denoiser, pass denoiser=<path or "
            "network>, or use the classical prior denoiser='tv'"
        )
    return load_denoiser(WEIGHTS_PATH)
