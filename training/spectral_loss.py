"""Multi-resolution STFT distance: the reconstruction loss of analysis-by-synthesis training.

Deterministic and cheap on a CPU, unlike a critic. Each resolution adds spectral convergence
(||Y| - |X||_F / ||X||_F: the loud parts' shape) and the L1 distance of log magnitudes (the quiet
parts: decays, the space between hits). Short FFTs see attacks, long ones see a kick's pitch.
"""
from __future__ import annotations

import torch

FFT_SIZES = (256, 512, 1024, 2048)
LOG_FLOOR = 1e-5  # magnitude floor, about 100 dB below a full-scale sine's bin


def _magnitude(x: torch.Tensor, n_fft: int, window: torch.Tensor) -> torch.Tensor:
    flat = x.reshape(-1, x.shape[-1])
    return torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True).abs()


def multi_resolution_stft_loss(fake: torch.Tensor, real: torch.Tensor,
                               fft_sizes: tuple[int, ...] = FFT_SIZES) -> dict[str, torch.Tensor]:
    """fake, real: (B, C, T). Returns {"sc": .., "logmag": ..}, each summed over resolutions."""
    if fake.shape != real.shape:
        raise ValueError(f"shapes differ: {tuple(fake.shape)} vs {tuple(real.shape)}")
    sc = logmag = fake.new_zeros(())
    for n in fft_sizes:
        w = torch.hann_window(n, device=fake.device, dtype=fake.dtype)
        y, x = _magnitude(fake, n, w), _magnitude(real, n, w)
        sc = sc + torch.linalg.vector_norm(y - x) / torch.linalg.vector_norm(x).clamp_min(1e-8)
        logmag = logmag + (torch.log(y + LOG_FLOOR) - torch.log(x + LOG_FLOOR)).abs().mean()
    return {"sc": sc, "logmag": logmag}
