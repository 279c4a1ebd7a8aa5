"""Networks: the Spectrum-to-Kernel generator and its patch discriminator (and, later, SR networks)."""
