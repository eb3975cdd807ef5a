"""A log-magnitude multi-resolution STFT discriminator, used next to the waveform critic.

The waveform critic hears timing and transients; a spectrogram critic on a log scale hears a noise
floor under the hits that the waveform critic lets through (Fre-GAN / EnCodec's MS-STFT idea).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class STFTCritic(nn.Module):
    """One resolution: log|STFT| with frequency bins as channels (B, C*F, T) -> 1-D convs over
    time -> a logit per example. Frequency-as-channels costs a fraction of 2-D convs on CPU."""

    def __init__(self, channels: int, n_fft: int, width: int = 64):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        bins = channels * (n_fft // 2 + 1)
        self.convs = nn.ModuleList([
            nn.Conv1d(bins, width, 3, padding=1),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.Conv1d(width, 1, 3, padding=1),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B,)
        b, c, t = x.shape
        spec = torch.stft(x.reshape(b * c, t).float(), self.n_fft, self.hop, window=self.window,
                          return_complex=True)
        h = torch.log(spec.abs() + 1e-4).reshape(b, -1, spec.shape[-1])  # (B, C*F, T)
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = F.leaky_relu(h, 0.2)
        return h.mean(dim=(1, 2))


class MultiResolutionSTFTCritic(nn.Module):
    def __init__(self, channels: int, n_ffts=(256, 512, 1024), width: int = 64):
        super().__init__()
        self.critics = nn.ModuleList(STFTCritic(channels, n, width) for n in n_ffts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([c(x) for c in self.critics]).mean(0)
