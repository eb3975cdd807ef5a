"""A realistic drum bar at the model's rate and tempo, for the render bench and the docs figures.

`kit_bar()` plays a rock pattern with the GMRockKit one-shots from Debian's hydrogen-drumkits
(GPL-2, /usr/share/hydrogen/data/drumkits/GMRockKit); `synth_bar()` makes the same pattern from
synthesised kick/snare/hat when the kit is not installed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beatgan.generator.musical_time import exact_frames, frames

KIT = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")

# (sixteenth step, instrument, velocity): kick on 1 and the "and" of 3, snare on 2 and 4,
# closed hat on eighths, an open hat on the last eighth, a ghost snare.
PATTERN = [
    (0, "kick", 1.0), (7, "kick", 0.7), (8, "kick", 0.9), (10, "kick", 0.8),
    (4, "snare", 1.0), (12, "snare", 1.0), (15, "snare", 0.35),
    *[(s, "hat", 0.6 if s % 4 else 0.8) for s in range(0, 14, 2)],
    (14, "open", 0.6),
]
PAN = {"kick": 0.0, "snare": -0.1, "hat": 0.35, "open": 0.35}   # -1 left .. +1 right
KIT_FILES = {"kick": "Kick-Hard.wav", "snare": "Snare-Hard.wav", "hat": "HatClosed-Med.wav",
             "open": "HatOpen-Med.wav"}


def kit_bar(sample_rate: int = 14700, tempo_bpm: float = 125.0, beats: int = 4) -> np.ndarray:
    """(2, bar_samples) float32 drum bar from the GMRockKit one-shots, peak 0.9."""
    import soundfile as sf
    import soxr

    shots = {}
    for name, file in KIT_FILES.items():
        data, rate = sf.read(KIT / file, dtype="float32", always_2d=True)
        shots[name] = soxr.resample(data.mean(axis=1), rate, sample_rate)
    return _arrange(shots, sample_rate, tempo_bpm, beats)


def synth_bar(sample_rate: int = 14700, tempo_bpm: float = 125.0, beats: int = 4,
              seed: int = 0) -> np.ndarray:
    """(2, bar_samples) float32 drum bar from synthesised hits, peak 0.9."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (45 * t + 90 / 30 * (1 - np.exp(-30 * t)))) * np.exp(-9 * t)
    noise = rng.standard_normal(t.size)
    snare = (0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-25 * t)
             + 0.5 * noise * np.exp(-18 * t))
    bright = np.diff(noise, prepend=0.0)          # first difference: a cheap high-pass
    hat = 0.5 * bright * np.exp(-60 * t)
    open_hat = 0.4 * bright * np.exp(-10 * t)
    shots = {"kick": kick, "snare": snare, "hat": hat, "open": open_hat}
    return _arrange(shots, sample_rate, tempo_bpm, beats)


def _arrange(shots: dict, sample_rate: int, tempo_bpm: float, beats: int) -> np.ndarray:
    n = frames(beats, tempo_bpm, sample_rate)
    bar = np.zeros((2, n))
    step = exact_frames(0.25, tempo_bpm, sample_rate)
    for s, name, vel in PATTERN:
        if s >= 4 * beats:
            continue
        at = int(round(s * step))
        shot = shots[name][: n - at]
        pan = PAN[name]
        bar[0, at:at + shot.size] += vel * shot * np.sqrt((1 - pan) / 2)
        bar[1, at:at + shot.size] += vel * shot * np.sqrt((1 + pan) / 2)
    return (0.9 * bar / np.abs(bar).max()).astype(np.float32)


def drum_bar(sample_rate: int = 14700, tempo_bpm: float = 125.0, beats: int = 4):
    """(bar, source name): the kit bar when the kit is installed, else the synthetic one."""
    if (KIT / KIT_FILES["kick"]).is_file():
        return kit_bar(sample_rate, tempo_bpm, beats), "GMRockKit (hydrogen-drumkits)"
    return synth_bar(sample_rate, tempo_bpm, beats), "synthesised kick/snare/hat"
