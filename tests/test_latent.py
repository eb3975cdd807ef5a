"""Seeds name bars: same seed, same bar, on any device and across runs."""
import numpy as np
import pytest
import torch

from beatgan.generator.engine import BeatGenerator
from beatgan.generator.latent import morph_latent, seed_latent, slerp, variation_latent


def test_seed_latent_is_uniform_and_deterministic():
    z = seed_latent(42)
    assert z.shape == (100,) and z.dtype == np.float32
    assert np.array_equal(z, seed_latent(42))
    assert not np.array_equal(z, seed_latent(43))
    assert z.min() >= -1 and z.max() <= 1


@pytest.mark.parametrize("bad", [-1, 2**31, 1.5, "7", True])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises((TypeError, ValueError)):
        seed_latent(bad)


def test_slerp_endpoints_and_norm():
    a, b = seed_latent(1), seed_latent(2)
    assert np.allclose(slerp(a, b, 0), a, atol=1e-6)
    assert np.allclose(slerp(a, b, 1), b, atol=1e-6)
    mid = slerp(a, b, 0.5)
    # spherical: the midpoint keeps about the endpoints' norm, a straight line would not
    assert np.linalg.norm(mid) > 0.9 * min(np.linalg.norm(a), np.linalg.norm(b))


def test_variation_and_morph_ranges():
    assert np.allclose(variation_latent(5, 0.0), seed_latent(5), atol=1e-6)
    assert not np.allclose(variation_latent(5, 0.3), variation_latent(5, 0.3, variant=1))
    with pytest.raises(ValueError, match="amount"):
        variation_latent(5, 1.5)
    with pytest.raises(ValueError, match="t must"):
        morph_latent(1, 2, -0.1)


def test_generator_is_deterministic_and_batched(tiny_model):
    gen = BeatGenerator.load(tiny_model, device="cpu")
    a = gen.generate([3, 4, 5])
    assert a.shape == (3, gen.card.channels, gen.card.bar_samples) and a.dtype == np.float32
    again = BeatGenerator.load(tiny_model, device="cpu").generate([5, 4])
    assert np.allclose(a[2], again[0], atol=1e-6) and np.allclose(a[1], again[1], atol=1e-6)
    assert np.allclose(gen.morph(3, 4, 0.0), a[0], atol=1e-5)
    assert np.allclose(gen.variation(3, 0.0), a[0], atol=1e-5)


def test_half_precision_matches_fp32(tiny_model):
    ref = BeatGenerator.load(tiny_model, device="cpu").generate([7])
    bf = BeatGenerator.load(tiny_model, device="cpu", dtype="bf16").generate([7])
    assert bf.dtype == np.float32
    assert np.abs(bf - ref).max() < 0.05 * max(np.abs(ref).max(), 1e-3) + 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CPU/GPU agreement)")
def test_same_seed_same_bar_on_gpu(tiny_model):
    cpu = BeatGenerator.load(tiny_model, device="cpu").generate([11, 12])
    gpu = BeatGenerator.load(tiny_model, device="cuda").generate([11, 12])
    assert np.allclose(cpu, gpu, atol=1e-4)
