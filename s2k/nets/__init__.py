"""Networks: the Spectrum-to-Kernel generator and its patch discriminator, the pnp denoiser."""

from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
