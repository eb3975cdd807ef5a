"""GAN losses. Each takes the critic's outputs (and what a penalty needs) and returns named terms,
so the trainer logs exactly what it optimises."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): (||grad D(x_hat)|| - 1)^2 with the norm taken per example, as
    in the official WaveGAN code (the seed notebook's single norm over the batch is a bug)."""
    alpha = torch.rand(real.shape[0], 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (real + alpha * (fake - real)).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def r1_penalty(critic_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al.): E ||grad D(x_real)||^2; `real` must require grad."""
    grad, = torch.autograd.grad(critic_out.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def d_loss(kind: str, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    if kind == "wgan":
        return fake_out.mean() - real_out.mean()
    if kind == "ns":
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
    if kind == "hinge":
        return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(kind: str, fake_out: torch.Tensor) -> torch.Tensor:
    if kind in ("wgan", "hinge"):
        return -fake_out.mean()
    if kind == "ns":
        return F.softplus(-fake_out).mean()
    raise ValueError(f"unknown loss {kind!r}")
