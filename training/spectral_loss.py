"""Multi-resolution STFT distance: the reconstruction loss of analysis-by-synthesis training.

Deterministic and cheap on a CPU, unlike a critic. Each resolution adds spectral convergence
(||Y| - |X||_F / ||X||_F: the loud parts' shape) and the L1 distance of log magnitudes (the quiet
parts: decays, the space between hits). Short FFTs see attacks, long ones see a kick's pitch.
"""
from __future__ import annotations

import torch

FFT_SIZES = (256, 512, 1024, 2048)
MEL_BANDS = 64  # at the longest FFT; shorter FFTs get n_fft / 8 (a band spans several bins)
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


def multi_resolution_mel_loss(fake: torch.Tensor, real: torch.Tensor, sample_rate: int,
                              fft_sizes: tuple[int, ...] = FFT_SIZES) -> dict[str, torch.Tensor]:
    """As multi_resolution_stft_loss, on mel-band magnitudes instead of FFT bins.

    Why: a drum hit is mostly noise, and two noises with the same spectral envelope differ bin by
    bin (Rayleigh magnitudes): per-bin distances have a floor of ~0.66 spectral convergence per
    resolution that no latent can lower, and their gradients are mostly that noise. Summing bins
    into mel bands keeps what a listener hears (envelope, decay, timing) and averages the noise
    realisation out, so the loss follows what the drum machine can actually change."""
    import numpy as np

    from .judge_net import mel_filterbank

    if fake.shape != real.shape:
        raise ValueError(f"shapes differ: {tuple(fake.shape)} vs {tuple(real.shape)}")
    sc = logmag = fake.new_zeros(())
    for n in fft_sizes:
        w = torch.hann_window(n, device=fake.device, dtype=fake.dtype)
        # Unit-area filters (as the judge's); multiplied by the bins per band, a band's value is
        # a sum of power, not an average.
        fb = mel_filterbank(sample_rate, n, min(MEL_BANDS, n // 8))
        fb = torch.from_numpy(fb * (fb > 0).sum(axis=1, keepdims=True).astype(np.float32)).to(fake)
        y = torch.einsum("mf,bft->bmt", fb, _magnitude(fake, n, w).pow(2)).clamp_min(0).sqrt()
        x = torch.einsum("mf,bft->bmt", fb, _magnitude(real, n, w).pow(2)).clamp_min(0).sqrt()
        sc = sc + torch.linalg.vector_norm(y - x) / torch.linalg.vector_norm(x).clamp_min(1e-8)
        logmag = logmag + (torch.log(y + LOG_FLOOR) - torch.log(x + LOG_FLOOR)).abs().mean()
    return {"sc": sc, "logmag": logmag}
