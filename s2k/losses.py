"""Losses of the S2K conditional GAN (paper Eq. 11-12)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gan_loss(pred: torch.Tensor, target_is_real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Adversarial loss of patch scores ``pred`` against the real (1) or fake (0) label.

    ``lsgan`` (the paper's): mean squared error to the label, so the discriminator loss of Eq. 12 is
    ``gan_loss(D(s; G(s)), False) + gan_loss(D(s; k), True)`` and the generator's term of Eq. 11 is
    ``gan_loss(D(s; G(s)), True)``. ``vanilla``: binary cross-entropy on logits.
    """
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    if mode == "lsgan":
        return F.mse_loss(pred, target)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(pred, target)
    raise ValueError(f"unknown GAN mode {mode!r}")


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean absolute difference of vertical and horizontal neighbours."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
