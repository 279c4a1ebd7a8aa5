"""Networks: the Spectrum-to-Kernel generator (and its Table-3 parameter-output variant), its patch
discriminator, the pnp denoiser, SFTMD."""

from torch import nn

from s2k.nets.generator import GeneratorConfig, KernelGenerator
from s2k.nets.param_generator import GaussianParamGenerator


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_generator(config: GeneratorConfig) -> KernelGenerator | GaussianParamGenerator:
    """The estimator network of ``config``: the kernel-map U-Net, or (``output="gaussian"``) the
    parameter-output ablation. Both map (feature, scale) to a kernel map."""
    if config.output == "gaussian":
        return GaussianParamGenerator(config)
    return KernelGenerator(config)
