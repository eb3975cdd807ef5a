"""Seeds to latents, and the latent moves a musician asks for (variation, morph).

Latents come from NumPy's PCG64 on the CPU, never from torch's device RNG, so a seed names the same
bar on every machine and device.
"""
from __future__ import annotations

import numpy as np

MAX_SEED = 2**31 - 1  # fits an OSC int32 and a MIDI-slot table
# Truncation psi scales a latent towards the centre of U(-1, 1)^dim (BigGAN's truncation trick,
# Brock et al. 2019): below 1, tighter and more typical bars; above 1, wilder ones.
TRUNCATION_RANGE = (0.05, 2.0)


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    return int(seed)


def seed_latent(seed: int, dim: int = 100) -> np.ndarray:
    """z ~ U(-1, 1)^dim, fully determined by the seed."""
    rng = np.random.Generator(np.random.PCG64(check_seed(seed)))
    return rng.uniform(-1.0, 1.0, dim).astype(np.float32)


def check_truncation(psi: float) -> float:
    if isinstance(psi, bool) or not isinstance(psi, (int, float, np.floating, np.integer)):
        raise TypeError(f"truncation must be a number, got {type(psi).__name__}")
    lo, hi = TRUNCATION_RANGE
    if not lo <= float(psi) <= hi:  # NaN fails this too
        raise ValueError(f"truncation must be in {lo:g}..{hi:g} (1 = no truncation), got {psi}")
    return float(psi)


def truncate(z: np.ndarray, psi) -> np.ndarray:
    """Scale latents (n, dim) towards the centre by psi: one number, or one per latent. The seed
    still names the direction, so a seed's bar at psi 0.7 is a tamer take on the same bar."""
    z = np.asarray(z, np.float32)
    psi = np.asarray([check_truncation(p) for p in np.atleast_1d(psi)], np.float32)
    if psi.size != 1 and psi.size != len(z):
        raise ValueError(f"{psi.size} truncation values for {len(z)} latents")
    return z * (psi[:, None] if psi.size > 1 else psi[0])


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: keeps the latent's norm in the range the generator was trained on
    (a straight line between two latents passes through low-norm, quieter, blander bars)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    so = np.sin(omega)
    return (np.sin((1 - t) * omega) / so * a + np.sin(t * omega) / so * b).astype(np.float32)


def morph_latent(seed_a: int, seed_b: int, t: float, dim: int = 100) -> np.ndarray:
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"morph position t must be in [0, 1], got {t}")
    return slerp(seed_latent(seed_a, dim), seed_latent(seed_b, dim), t)


def variation_latent(seed: int, amount: float, variant: int = 0, dim: int = 100) -> np.ndarray:
    """A nearby latent: `amount` 0 is the seed's own bar, 1 an unrelated one. `variant` picks
    another direction at the same distance, so a producer can audition several variations."""
    amount = float(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"variation amount must be in [0, 1], got {amount}")
    rng = np.random.Generator(np.random.PCG64([check_seed(seed), 0x7A71, int(variant)]))
    other = rng.uniform(-1.0, 1.0, dim).astype(np.float32)
    return slerp(seed_latent(seed, dim), other, amount)


def like_latents(u0: np.ndarray, count: int, amount: float, first_variant: int = 1) -> np.ndarray:
    """(count, dim): an encoded loop's own latent, then `count - 1` variations of it at `amount`
    (0 = the loop itself, 1 = unrelated), each in its own direction, named by its variant number
    (first_variant, first_variant + 1, ...) so a variation can be asked for again."""
    amount = float(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"variation amount must be in [0, 1], got {amount}")
    u0 = np.asarray(u0, np.float32)
    out = [u0]
    for v in range(first_variant, first_variant + count - 1):
        rng = np.random.Generator(np.random.PCG64([0x11CE, check_seed(v)]))
        out.append(slerp(u0, rng.uniform(-1.0, 1.0, len(u0)).astype(np.float32), amount))
    return np.stack(out)
