"""WaveGAN (Donahue et al., ICLR 2019) in PyTorch, following the official TensorFlow code.

One network family covers the paper's slices (16384, 32768, 65536: strides of 4, plus a last
stride 2 or 4 for the longer ones) and the bar-aligned BeatGAN variant (strides derived from the
length of a sixteenth note). Layout is (B, C, T) throughout.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import GeneratorConfig


def _transpose_padding(kernel: int, stride: int) -> tuple[int, int]:
    """Padding and output_padding so a transposed conv multiplies the length by exactly `stride`
    (TensorFlow's 'same': out = in * stride)."""
    pad = -(-(kernel - stride) // 2)
    return pad, 2 * pad - (kernel - stride)


def _conv_padding(kernel: int, stride: int) -> int:
    """Padding so a strided conv divides a multiple-of-stride length by exactly `stride`."""
    return (kernel - stride + 1) // 2


class UpConv(nn.Module):
    """Upsample by `stride`: a transposed conv (paper default) or nearest-neighbour + conv
    (the official code's `--wavegan_genr_upsample nn`, which avoids checkerboard buzz)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, mode: str):
        super().__init__()
        self.stride, self.mode = stride, mode
        if mode == "zeros":
            pad, out_pad = _transpose_padding(kernel, stride)
            self.conv = nn.ConvTranspose1d(c_in, c_out, kernel, stride, pad, out_pad)
        else:
            self.conv = nn.Conv1d(c_in, c_out, kernel, 1, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T * stride)
        if self.mode == "nn":
            x = F.interpolate(x, scale_factor=self.stride, mode="nearest")
        return self.conv(x)


def fft_conv_same(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """What F.conv1d(x, w, padding="same") computes, (B, C_in, T) * (C_out, C_in, K) ->
    (B, C_out, T), through the FFT: a 512-tap filter then costs a few FFTs per bar instead of
    512 multiply-adds per sample. Runs in float32 (half-precision FFTs need power-of-two sizes)."""
    k, t = w.shape[-1], x.shape[-1]
    n = t + k - 1  # long enough that the circular convolution is the linear one
    # conv1d correlates; convolving with the flipped kernel is the same thing.
    spec = torch.einsum("bif,oif->bof", torch.fft.rfft(x.float(), n),
                        torch.fft.rfft(w.float().flip(-1), n))
    start = k - 1 - (k - 1) // 2  # "same" puts (K-1)//2 taps before each output sample
    return torch.fft.irfft(spec, n)[..., start:start + t].to(x.dtype)


class PostFilter(nn.Module):
    """WaveGAN's learned post-processing filter (Donahue et al.; the official code's
    --wavegan_genr_pp, used for its drums model): one long FIR after the tanh, across channels,
    with which the generator can learn to reject the frequencies its upsampling buzzes and hisses
    at. It starts as the identity, not a random filter, so the network it is added to trains as
    before until the critic gives it a reason to filter."""

    def __init__(self, channels: int, taps: int):
        super().__init__()
        w = torch.zeros(channels, channels, taps)
        w[range(channels), range(channels), (taps - 1) // 2] = 1.0
        self.weight = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fft_conv_same(x, self.weight)


class Envelope(nn.Module):
    """An amplitude envelope for the last layer's output, read off the features one layer before
    it: a 1x1 conv and a sigmoid per output channel at that layer's rate (0.48 ms a frame in the
    bar model), linearly interpolated up by the last stride. Drum hits are a sharp attack over
    silence; without it the transposed convolutions can only make silence by cancelling exactly,
    and leave a hiss floor between the hits that the onset grid and a listener both hear. With it
    a quiet stretch is one gate value.

    It starts flat and nearly open (0.95), so the network it is added to starts as before, scaled,
    and it draws no random numbers, so a run with it starts from the same weights as one without.
    The conv's output is multiplied by GAIN (ProGAN's equalised learning rate): Adam moves every
    weight by about its learning rate per step whatever the weight's scale, and at 2e-4 a step an
    unscaled gate had barely begun to close from 0.95 after 5600 steps (1 % of it below 0.45)."""

    OPEN = 3.0  # sigmoid(3) = 0.95
    GAIN = 8.0

    def __init__(self, c_in: int, channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.weight = nn.Parameter(torch.zeros(channels, c_in, 1))
        self.bias = nn.Parameter(torch.full((channels,), self.OPEN / self.GAIN))

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, ch, T*stride)
        gate = torch.sigmoid(self.GAIN * F.conv1d(features, self.weight, self.bias))
        return F.interpolate(gate, scale_factor=self.stride, mode="linear", align_corners=False)


class Generator(nn.Module):
    """z (B, latent) -> dense -> (B, dense_channels, 16) -> upconvs -> tanh (B, channels, slice)
    [* learned envelope] [-> learned post-filter]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.dense_channels
        self.dense = nn.Linear(cfg.latent_dim, cfg.positions * c)
        layers = []
        for i, s in enumerate(cfg.strides):
            last = i == len(cfg.strides) - 1
            # Channels halve per layer down to d; the paper's extra long-slice layer keeps d.
            c_out = cfg.channels if last else max(c // 2, cfg.model_size)
            layers.append(UpConv(c, c_out, cfg.kernel_for(s), s, cfg.upsample))
            c = c_out
        self.upconvs = nn.ModuleList(layers)
        last_in = layers[-1].conv.in_channels
        self.envelope = Envelope(last_in, cfg.channels, cfg.strides[-1]) if cfg.envelope else None
        self.post_filter = PostFilter(cfg.channels, cfg.post_filter) if cfg.post_filter else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        h = F.relu(self.dense(z).view(b, -1, self.cfg.positions))  # (B, C, 16)
        *hidden, last = self.upconvs
        for up in hidden:
            h = F.relu(up(h))
        x = torch.tanh(last(h))
        if self.envelope is not None:
            x = x * self.envelope(h)
        if self.post_filter is not None:
            x = self.post_filter(x)
        return x  # (B, channels, slice_samples)


def phase_shuffle(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Shift the whole batch along time by one random offset in [-radius, radius], filling the
    gap by reflection (official code: one phase per call, not per example; time axis, not batch)."""
    if radius <= 0:
        return x
    k = int(torch.randint(-radius, radius + 1, ()).item())
    if k == 0:
        return x
    t = x.shape[-1]
    if k > 0:  # content moves right: pad left
        return F.pad(x, (k, 0), mode="reflect")[..., :t]
    return F.pad(x, (0, -k), mode="reflect")[..., -k:]


class Discriminator(nn.Module):
    """Mirror of the generator: strided convs + LeakyReLU(0.2), phase shuffle after layers 0-3,
    dense -> 1 logit (no sigmoid: the losses decide)."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        convs = []
        c_in, c = cfg.channels, cfg.model_size
        for i, s in enumerate(reversed(cfg.strides)):
            k = cfg.kernel_for(s)
            convs.append(nn.Conv1d(c_in, c, k, s, _conv_padding(k, s)))
            c_in = c
            # Paper: d, 2d, 4d, 8d, 16d, then 32d for the long-slice layer.
            c = c * 2
        self.convs = nn.ModuleList(convs)
        feat = c_in * cfg.positions + (cfg.positions if cfg.minibatch_std else 0)
        self.out = nn.Linear(feat, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        n = self.cfg.slice_samples
        assert x.shape[-1] == n, f"expected {n} samples, got {x.shape[-1]}"
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i < 4 and i < len(self.convs) - 1:
                x = phase_shuffle(x, self.cfg.phase_shuffle) if self.training else x
        if self.cfg.minibatch_std:
            # StyleGAN's diversity cue: how much the batch varies at each position.
            std = x.std(dim=0, unbiased=False).mean(dim=0, keepdim=True)  # (1, 16)
            x = torch.cat([x.flatten(1), std.expand(x.shape[0], -1)], dim=1)
        else:
            x = x.flatten(1)
        logit = self.out(x).squeeze(1)  # (B,)
        return (logit, x) if return_features else logit


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
