"""Critic-side augmentation (DiffAugment, Zhao et al. 2020): the critic sees real and generated bars
through the same random, differentiable transforms, so a rendered set of a few hundred distinct
bars looks larger to it and is harder to learn by heart. The generator is trained through the
transforms too.

Only transforms that keep a drum bar a drum bar at the model tempo: rotating the bar by whole
beats (a loop started on another beat is still on the grid) and swapping left and right. Applied
to each example with probability p < 1, so the untransformed bars still dominate and the
generator cannot pass off rotated or mirrored bars as the real thing (ADA's "leak" bound, p < 0.8).
"""
from __future__ import annotations

import torch


def rotate_beats_swap_lr(x: torch.Tensor, bar_samples: int, beats_per_bar: int, p: float,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, T) -> same shape. Per example, with probability p, rotate the first `bar_samples`
    samples by 1 .. beats_per_bar-1 whole beats (anything past the bar stays), and with
    probability p swap the first two channels."""
    if p <= 0:
        return x
    b = x.shape[0]
    beat = bar_samples // beats_per_bar
    rotate = torch.rand(b, generator=generator) < p
    beats = torch.randint(1, max(2, beats_per_bar), (b,), generator=generator)
    swap = torch.rand(b, generator=generator) < p
    out = []
    for i in range(b):
        xi = x[i]
        if rotate[i] and beats_per_bar > 1:
            xi = torch.cat([torch.roll(xi[:, :bar_samples], int(beats[i]) * beat, dims=1),
                            xi[:, bar_samples:]], dim=1)
        if swap[i] and x.shape[1] >= 2:
            xi = torch.cat([xi[1:2], xi[0:1], xi[2:]], dim=0)
        out.append(xi)
    return torch.stack(out)


def add_augmentation_noise(x: torch.Tensor, peak: float, bar_samples: int) -> torch.Tensor:
    """(B, C, T) -> same shape: uniform noise in [-peak, peak) added to the first `bar_samples`
    samples, the noise `beatgan prepare` put under every real bar (its padding stays clean).

    Instance noise on the generated side (Sonderby et al. 2016): when the critic sees real bars
    with the augmentation noise and generated bars with the same noise added, the generator that
    matches them is the one that makes the bars without the noise, so it no longer spends itself
    drawing a floor of white noise between the hits, while the critic still sees two blurred,
    overlapping distributions, which is what steadies training on noisy data."""
    if peak <= 0:
        return x
    noise = (torch.rand(x.shape[0], x.shape[1], min(bar_samples, x.shape[-1]),
                        device=x.device, dtype=x.dtype) * 2 - 1) * peak
    if x.shape[-1] > bar_samples:
        noise = torch.nn.functional.pad(noise, (0, x.shape[-1] - bar_samples))
    return x + noise
