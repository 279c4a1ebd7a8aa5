"""The ℓ2 data step of plug-and-play SR, solved exactly in the Fourier domain.

Model, on a periodic HR grid of size ``N1 × N2`` (both multiples of the scale ``s``)::

    y = S H x,     H x = x ⊛ k  (circular true convolution, kernel centred on its middle pixel),
                   S x = x[0::s, 0::s]  (direct down-sampling from index 0: s2k's convention)

which is :func:`s2k.degradation.blur_downsample_torch` with periodic instead of symmetric borders (the two
agree away from the borders). The data step of half-quadratic splitting is

    x* = argmin_x ||S H x − y||² + α ||x − z||²,   i.e.   (HᵀSᵀSH + α I) x* = HᵀSᵀ y + α z,

and has a closed form (Zhao et al., TIP 2016, "Fast single image super-resolution using a new analytical
solution for ℓ2-ℓ2 problems"). With ``K = F(k)`` (the OTF, :func:`p2o`), ``R = conj(K)·F(Sᵀy) + α F(z)``
and the Woodbury identity::

    F(x*) = ( R − conj(K) · ⇑[ ⇓(K·R) / (⇓|K|² + α) ] ) / α

where ``⇓`` (:func:`block_mean`) is the LR-grid spectrum of a down-sampled signal: the mean of the
``s × s`` distinct ``N1/s × N2/s`` blocks of the HR spectrum (the aliases that down-sampling folds
together), and ``⇑`` (:func:`block_tile`) is its adjoint up to the factor s², the spectrum of zero-insertion
up-sampling: the LR spectrum tiled ``s × s`` times. The division is element-wise on the LR grid, so the
solve costs one forward and one inverse FFT of the HR size per call (the kernel's spectra are precomputed
once by :class:`DataStep`; the observations enter only through their LR-size spectrum, since
``F(Sᵀy) = ⇑F(y)``).

Everything works on ``…×N1×N2`` tensors (batch and channel axes broadcast) in float32 or float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def p2o(kernel: torch.Tensor, shape: tuple[int, int], half: bool = False) -> torch.Tensor:
    """Optical transfer function of a centred kernel on a periodic ``shape`` grid.

    ``kernel``: ``…×kh×kw`` real tensor, odd sides, centred on ``(kh // 2, kw // 2)``. The kernel is
    zero-padded to ``shape`` and circularly shifted so that its centre lands on index ``(0, 0)``; then
    ``ifft2(p2o(k) * fft2(x))`` is the circular true convolution ``x ⊛ k``. Returns a complex tensor
    ``…×shape[0]×shape[1]`` (complex128 for a float64 kernel, complex64 otherwise), or with ``half`` the
    ``rfft2`` half spectrum ``…×shape[0]×(shape[1] // 2 + 1)``.
    """
    kh, kw = kernel.shape[-2:]
    n1, n2 = shape
    if kh > n1 or kw > n2:
        raise ValueError(f"kernel {kh}×{kw} is larger than the periodic grid {n1}×{n2}")
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {kh}×{kw}")
    padded = kernel.new_zeros((*kernel.shape[:-2], n1, n2))
    padded[..., :kh, :kw] = kernel
    padded = torch.roll(padded, shifts=(-(kh // 2), -(kw // 2)), dims=(-2, -1))
    return torch.fft.rfft2(padded) if half else torch.fft.fft2(padded)


def _check_grid(n1: int, n2: int, scale: int) -> tuple[int, int]:
    m1, m2 = n1 // scale, n2 // scale
    if m1 * scale != n1 or m2 * scale != n2:
        raise ValueError(f"grid {n1}×{n2} is not a multiple of the scale {scale}")
    return m1, m2


def block_mean(spec: torch.Tensor, scale: int) -> torch.Tensor:
    """``⇓``: mean of the ``scale × scale`` distinct blocks of an ``…×N1×N2`` spectrum → ``…×N1/s×N2/s``.

    For a signal ``v`` on the HR grid, ``block_mean(fft2(v), s) == fft2(v[..., ::s, ::s])``.
    """
    n1, n2 = spec.shape[-2:]
    m1, m2 = _check_grid(n1, n2, scale)
    blocks = spec.reshape(*spec.shape[:-2], scale, m1, scale, m2)
    return blocks.sum(dim=-4).sum(dim=-2) / scale**2


def block_tile(spec: torch.Tensor, scale: int) -> torch.Tensor:
    """``⇑``: tile an LR spectrum ``scale × scale`` times; the spectrum of zero-insertion up-sampling."""
    reps = [1] * (spec.ndim - 2) + [scale, scale]
    return spec.repeat(*reps)


def block_mean_half(half: torch.Tensor, scale: int, n2: int) -> torch.Tensor:
    """:func:`block_mean` of a real signal's spectrum given as its ``rfft2`` half ``…×N1×(N2 // 2 + 1)``.

    Returns the full LR spectrum ``…×N1/s×N2/s``. The columns above ``N2 // 2`` are not stored; by
    Hermitian symmetry ``G(k1, c) = conj(G(−k1, N2 − c))``, and after summing the row blocks the row
    reflection ``−k1 mod N1`` becomes ``−k1 mod N1/s``, so the missing columns are gathered from the
    row-summed half (a tensor ``s`` times smaller than the spectrum).
    """
    n1, n2h = half.shape[-2:]
    if n2h != n2 // 2 + 1:
        raise ValueError(f"half spectrum has {n2h} columns, expected {n2 // 2 + 1} for N2 = {n2}")
    m1, m2 = _check_grid(n1, n2, scale)
    rows = half.reshape(*half.shape[:-2], scale, m1, n2h).sum(dim=-3)  # …×M1×N2h
    flip = torch.remainder(-torch.arange(m1, device=half.device), m1)
    upper = n2 - torch.arange(n2h, n2, device=half.device)  # columns N2h…N2−1 mirror to N2 − c
    full = torch.cat([rows, rows.index_select(-2, flip).index_select(-1, upper).conj()], dim=-1)
    return full.reshape(*full.shape[:-1], scale, m2).sum(dim=-2) / scale**2


def _times_tiled(half: torch.Tensor, lr: torch.Tensor, scale: int) -> torch.Tensor:
    """``half · ⇑lr`` on an ``rfft2`` half (``half · block_tile(lr)[..., :N2 // 2 + 1]``) without forming the
    tiled tensor: the row blocks broadcast."""
    n1, n2h = half.shape[-2:]
    m1 = n1 // scale
    cols = lr.repeat(*([1] * (lr.ndim - 1)), -(-n2h // lr.shape[-1]))[..., :n2h]  # …×M1×N2h
    out = half.reshape(*half.shape[:-2], scale, m1, n2h) * cols.unsqueeze(-3)
    return out.reshape(*out.shape[:-3], n1, n2h)


def upsample_zeros(y: torch.Tensor, scale: int) -> torch.Tensor:
    """``Sᵀ``: put LR pixel ``(i, j)`` at HR pixel ``(s·i, s·j)``, zeros elsewhere (``…×sH×sW``)."""
    out = y.new_zeros((*y.shape[:-2], y.shape[-2] * scale, y.shape[-1] * scale))
    out[..., ::scale, ::scale] = y
    return out


def periodic_blur_downsample(x: torch.Tensor, otf: torch.Tensor, scale: int) -> torch.Tensor:
    """``S H x`` with periodic borders: ``(x ⊛ k)[..., 0::s, 0::s]`` for ``otf = p2o(k, x.shape[-2:])``."""
    return torch.fft.ifft2(otf * torch.fft.fft2(x)).real[..., ::scale, ::scale]


@dataclass
class DataStep:
    """The precomputed parts of the closed-form data step for one LR batch and its kernel(s).

    Build it with :meth:`create`; then :meth:`solve` returns ``argmin ||S H x − y||² + α ||x − z||²``
    for any ``z`` (HR size) and ``α`` (a float or a tensor broadcasting against ``…×1×1``, e.g. ``B×1×1×1``
    for one value per image). All HR-size spectra are ``rfft2`` halves (the signals are real), which halves
    the work of the full-spectrum formula in the module docstring without changing its result.

    Only the kernel's spectra live on the HR grid: the observations enter through the LR spectrum
    ``Y = F(y)``, because ``F(Sᵀy) = ⇑Y`` (zero insertion tiles the spectrum), so ``conj(K)·F(Sᵀy)`` never
    has to be formed and ``⇓(K·conj(K)·F(Sᵀy)) = ⇓|K|² · Y``. New observations (:meth:`with_y`) cost one
    LR-size FFT, and :meth:`forward` one LR-size inverse FFT once the HR spectrum of ``x`` is known.
    """

    scale: int
    shape: tuple[int, int]  # HR grid N1×N2
    otf: torch.Tensor  # K, half spectrum …×N1×(N2//2+1)
    k2_lr: torch.Tensor  # ⇓|K|², …×M1×M2 (real)
    fy: torch.Tensor  # F(y), the full LR spectrum …×M1×M2

    @classmethod
    def create(cls, y: torch.Tensor, kernel: torch.Tensor, scale: int) -> DataStep:
        """``y``: ``…×M1×M2`` LR tensor; ``kernel``: ``kh×kw`` or with leading axes broadcasting against
        ``y``'s (e.g. ``B×1×kh×kw`` for a ``B×C×M1×M2`` batch); both are used in ``y``'s dtype."""
        n1, n2 = y.shape[-2] * scale, y.shape[-1] * scale
        otf = p2o(kernel.to(device=y.device, dtype=y.dtype), (n1, n2), half=True)
        k2 = (otf.real**2 + otf.imag**2).to(otf.dtype)
        return cls(scale, (n1, n2), otf, block_mean_half(k2, scale, n2).real, torch.fft.fft2(y))

    def with_y(self, y: torch.Tensor) -> DataStep:
        """The same operator for new observations ``y`` (the kernel's spectra are reused)."""
        return DataStep(self.scale, self.shape, self.otf, self.k2_lr, torch.fft.fft2(y))

    def forward(self, x: torch.Tensor, spectrum: torch.Tensor | None = None) -> torch.Tensor:
        """``S H x`` (periodic): the LR image the current estimate ``x`` explains. ``spectrum``: ``x``'s
        ``rfft2``, if the caller already has it (it is not modified)."""
        fx = torch.fft.rfft2(x) if spectrum is None else spectrum
        return torch.fft.ifft2(block_mean_half(self.otf * fx, self.scale, self.shape[1])).real

    def solve(
        self, z: torch.Tensor, alpha: float | torch.Tensor, spectrum: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The minimiser ``x*`` (real, ``z``'s shape) of ``||S H x − y||² + α ||x − z||²``, α > 0.

        ``spectrum``: ``z``'s ``rfft2``, if the caller already has it; it is overwritten (used in place).
        """
        s, n2 = self.scale, self.shape[1]
        fz = torch.fft.rfft2(z) if spectrum is None else spectrum
        # ⇓(K·R) = ⇓|K|²·Y + α ⇓(K·F(z))
        k_rhs_lr = self.k2_lr * self.fy + alpha * block_mean_half(self.otf * fz, s, n2)
        ratio = k_rhs_lr / (self.k2_lr + alpha)
        # F(x) = (conj(K)·⇑Y + α F(z) − conj(K)·⇑ratio) / α = F(z) − conj(K)·⇑(ratio − Y) / α, in place
        corr = _times_tiled(self.otf.conj(), (ratio - self.fy) / alpha, s)
        return torch.fft.irfft2(fz.sub_(corr), s=self.shape)


def data_step(
    y: torch.Tensor, kernel: torch.Tensor, scale: int, z: torch.Tensor, alpha: float | torch.Tensor
) -> torch.Tensor:
    """One-off closed-form data step (see the module docstring); use :class:`DataStep` inside a loop."""
    return DataStep.create(y, kernel, scale).solve(z, alpha)
