"""GAN losses: the WGAN-GP penalty takes the gradient norm per example, as the official WaveGAN
code does (the seed notebook took one norm over the whole batch)."""
from __future__ import annotations

import torch

from beatgan.training.losses import gradient_penalty


def test_gradient_penalty_norm_is_per_example():
    # A linear critic D(x) = <w, x> has gradient w at every point, so each example's norm is
    # ||w||; one norm over a batch of B would be sqrt(B) * ||w|| and give another penalty.
    torch.manual_seed(0)
    w = torch.randn(2, 64)
    w = 0.25 * w / w.norm()                     # ||w|| = 0.25

    def critic(x):
        return (x * w).flatten(1).sum(1)

    real, fake = torch.randn(8, 2, 64), torch.randn(8, 2, 64)
    gp = gradient_penalty(critic, real, fake)
    assert torch.allclose(gp, torch.tensor((0.25 - 1.0) ** 2)), gp
    batch_norm_penalty = (8 ** 0.5 * 0.25 - 1.0) ** 2
    assert abs(gp.item() - batch_norm_penalty) > 0.1


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    w = torch.zeros(1, 10)
    w[0, 3] = 1.0
    gp = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), torch.randn(4, 1, 10),
                          torch.randn(4, 1, 10))
    assert gp.item() < 1e-10
