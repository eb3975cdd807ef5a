"""A groove critic: judges where in the bar the energy lands, next to the waveform critic.

The waveform critic's strided convolutions see timing only through their stride phases, and the
STFT critic averages over time, so neither is told where the sixteenth-note grid is. This one looks
at a log spectrogram with hop = 1/28 of a sixteenth and is handed the grid as input channels
(sine and cosine of the sixteenth, beat and bar phase of every frame), so an early layer can
already tell a hit on the grid from one beside it, and a dense layer over the whole bar at the end
judges the pattern. A spectrogram at this hop is small: the critic costs a fraction of the
waveform critic's step.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from beatgan.generator.musical_time import sixteenth_seconds

FRAMES_PER_SIXTEENTH = 28


def grid_phase_channels(n_frames: int, hop: int, sixteenth_samples: float,
                        beats_per_bar: int = 4) -> torch.Tensor:
    """(6, n_frames): sin/cos of the sixteenth, beat and bar phase at each frame's centre."""
    sixteenths = torch.arange(n_frames, dtype=torch.float64) * hop / sixteenth_samples
    rows = []
    for period in (1, 4, 4 * beats_per_bar):  # sixteenth, beat, bar
        angle = 2 * math.pi * sixteenths / period
        rows += [torch.sin(angle), torch.cos(angle)]
    return torch.stack(rows).float()


class GrooveCritic(nn.Module):
    """(B, C, T) bars -> (B,) logits, from the log|STFT| frames of the mid channel with the grid
    phase as extra channels. n_fft 128 (9 ms at 14.7 kHz) keeps onsets sharp."""

    def __init__(self, bar_samples: int, sample_rate: int, tempo_bpm: float,
                 beats_per_bar: int = 4, n_fft: int = 128, width: int = 32):
        super().__init__()
        sixteenth = sample_rate * sixteenth_seconds(tempo_bpm)
        self.n_fft, self.hop = n_fft, max(1, round(sixteenth / FRAMES_PER_SIXTEENTH))
        n_frames = bar_samples // self.hop + 1  # torch.stft with center=True
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("phase", grid_phase_channels(n_frames, self.hop, sixteenth,
                                                                 beats_per_bar)[None],
                             persistent=False)
        bins = n_fft // 2 + 1
        self.convs = nn.ModuleList([
            nn.Conv1d(bins + self.phase.shape[1], width, 3, padding=1),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
        ])
        frames = n_frames
        for _ in range(3):
            frames = (frames - 1) // 2 + 1
        self.dense = nn.Linear(width * frames, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The mid channel: timing is the same in both, and one STFT costs half of two.
        spec = torch.stft(x.float().mean(dim=1), self.n_fft, self.hop, window=self.window,
                          return_complex=True)
        h = torch.log(spec.abs() + 1e-4)  # (B, F, frames)
        h = torch.cat([h, self.phase.expand(x.shape[0], -1, -1)], dim=1)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return self.dense(h.flatten(1)).squeeze(1)
