"""What a drum-machine bar is made of, as plain NumPy: the input of the re-timed renderer, the
pattern (MIDI) and the stems.

    parts = bar_parts(gen, seeds=[42])[0]        # BarParts of seed 42's bar
    loop = retime(parts, tempo_bpm=97.3, rate=48000).loop

A WaveGAN is a flat waveform with no parts: `require_drum_machine` refuses it in one line.
Latents are made exactly as the engine makes them (seed, variation or morph latent, then the
truncation), so the parts of seed 42 are the parts of the bar `generate([42])` returns.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from beatgan.generator.latent import morph_latent, seed_latent, truncate, variation_latent


class NotADrumMachine(ValueError):
    """Stems, MIDI and re-timing were asked of a model that has no parts (a WaveGAN)."""


def require_drum_machine(gen) -> None:
    """Raise NotADrumMachine (one line, naming the loaded arch) unless gen is a drum machine."""
    arch = gen.card.config.arch
    if arch != "drum-machine":
        raise NotADrumMachine("stems and MIDI need a drum-machine model; the loaded model is a "
                              f"WaveGAN (arch {arch})")


def is_drum_machine(gen) -> bool:
    return gen.card.config.arch == "drum-machine"


@dataclass(frozen=True)
class BarParts:
    """One drum-machine bar as hits and a pattern, at the model's rate and tempo.

    At the model tempo and rate: gain * (sum over voices k and steps s of pan_gains[:, k] *
    velocity[k, s] * hits[k] placed at (s + offset_steps[s]) * bar_samples / steps, wrapping
    round the bar end) + gain * floor is the model's bar."""

    sample_rate: int             # Hz, the model's
    tempo_bpm: float             # the model's tempo
    beats_per_bar: int
    bar_samples: int             # samples in the bar at sample_rate and tempo_bpm
    hits: np.ndarray             # (K, L) float32: each voice's hit at velocity 1
    tone: np.ndarray             # (K, L) float32: the tonal part of each hit (hits = noise + tone)
    velocity: np.ndarray         # (K, S) float32 in 0..1
    offset_steps: np.ndarray     # (S,) float32: micro-timing, in steps (within +-1/4)
    pan_gains: np.ndarray        # (C, K) float32
    floor_noise: np.ndarray      # (C, bar_samples) float32: the model's unit background noise
    floor_level: float           # its level in this bar, before `gain`
    gain: float                  # the level the model's bar was scaled by (1.0 unless asked)

    @property
    def floor(self) -> np.ndarray:
        """(C, bar_samples): the background noise, before `gain`."""
        return self.floor_level * self.floor_noise

    @property
    def voices(self) -> int:
        return self.hits.shape[0]

    @property
    def steps(self) -> int:
        return self.velocity.shape[1]

    @property
    def channels(self) -> int:
        return self.pan_gains.shape[0]


def latents(gen, seeds=None, *, variation=None, morph=None, truncation=None) -> np.ndarray:
    """(n, latent_dim) U(-1, 1) latents after truncation, as the engine makes them.

    seeds: a list of seeds; variation: (seed, amount, variant); morph: (seed_a, seed_b, t).
    truncation: None = gen.truncation; a number or one per latent."""
    dim = gen.card.config.latent_dim
    if variation is not None:
        u = variation_latent(*variation, dim)[None]
    elif morph is not None:
        u = morph_latent(*morph, dim)[None]
    else:
        u = np.stack([seed_latent(s, dim) for s in seeds])
    return truncate(u, gen.truncation if truncation is None else truncation)


def bar_parts(gen, seeds=None, *, variation=None, morph=None, truncation=None,
              u: np.ndarray | None = None, exact_level: bool = False) -> list[BarParts]:
    """The parts of each bar (see `latents` for the arguments; `u` passes latents directly).

    exact_level: also compute `gain`, the level the model scales its bar by (it synthesises the
    whole bar, tripling the cost); otherwise gain is 1.0. Renderers that normalise (every one
    the CLI and the daemon use) do not need it."""
    import torch

    from beatgan.generator.drum_machine import latent_seeds

    require_drum_machine(gen)
    if u is None:
        u = latents(gen, seeds, variation=variation, morph=morph, truncation=truncation)
    net, card = gen.net, gen.card
    n = len(u)
    with torch.inference_mode():
        # The band noise is seeded from the uniform latent, as the model's forward pass does.
        ut = torch.from_numpy(np.asarray(u, np.float32)).to(gen.device)
        z, seeds = net.gaussian_latent(ut), latent_seeds(ut)
        p = net.parameters_for(z, seeds)
        h, tone = net.hit_parts(p)                                      # (B, K, L) each
        pan = net._pan_gains(p["pan"])                                  # (B, C, K)
        gain = net.parts(z, seeds)["gain"] if exact_level else torch.ones(n)
    step = card.bar_samples / net.cfg.steps

    def arr(t):
        return t.detach().float().cpu().numpy()

    hits, tone = arr(h), arr(tone)
    vel, off = arr(p["velocity"]), arr(p["offset_samples"]) / step
    pan, level, gain = arr(pan), arr(p["floor"]), arr(gain)
    noise = _floor_noise(net)
    return [BarParts(int(card.sample_rate), float(card.tempo_bpm), int(card.beats_per_bar),
                     int(card.bar_samples), hits[i], tone[i], vel[i], off[i].astype(np.float32),
                     pan[i], noise, float(level[i]), float(gain[i])) for i in range(n)]


def tone_part(net, p):
    """(B, K, L): the tonal part of each hit, i.e. net.hits(p) with every noise band silent
    (tests/test_stems_midi.py checks that it is), without the bands' cost. bar_parts takes it
    from net.hit_parts, with the hits, for the price of the hits alone."""
    from beatgan.generator.drum_machine import OUT_GAIN

    return OUT_GAIN * net._tone(p) * net.fade


_NOISE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _floor_noise(net) -> np.ndarray:
    """The net's floor noise as one read-only NumPy array per net, so the renderer can keep its
    resampled copy from bar to bar."""
    noise = _NOISE.get(net)
    if noise is None:
        noise = net.floor_noise.detach().float().cpu().numpy().copy()
        noise.flags.writeable = False
        _NOISE[net] = noise
    return noise
