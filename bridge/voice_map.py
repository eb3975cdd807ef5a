"""A General MIDI drum note for each voice, from how its hit sounds (measured, deterministic).

    features = measure(hits, tone, sample_rate)     # one row per voice
    notes = [gm_note(f) for f in features]

Three measurements of a hit (at velocity 1, as `BarParts.hits` holds it):
  low_share    energy below LOW_HZ / all energy: a kick's body lives there
  centroid_hz  spectral centroid (energy-weighted mean frequency)
  decay_s      from the loudest 5 ms frame to the last one within 20 dB of it
  tonal_share  energy of the hit's tonal part (the gliding sine) / energy of the hit
  pitch_hz     strongest frequency of the tonal part (or of the hit when it has none)

The rules, in order (first match wins):
  low_share >= 0.5                               36 bass drum          ("kick")
  tonal_share >= 0.5 (a pitched voice)           toms by pitch: < 180 Hz 45, < 260 Hz 47,
                                                 < 380 Hz 48, else 50  ("tom-low" .. "tom-high")
  centroid >= HIGH_HZ (noise, high)              decay < SHORT_S: 42 closed hi-hat ("hat"),
                                                 else 46 open hi-hat ("openhat")
  otherwise (noise, mid)                         tonal_share >= 0.15 (a body under the noise):
                                                 38 snare; decay < SHORT_S: 39 clap;
                                                 else 40 electric snare ("snare2")

HIGH_HZ is 3.5 kHz because a 14.7 kHz model has nothing above 7.35 kHz: a hat's noise sits in the
top octave, 3.7-7.35 kHz, a snare's lower.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW_HZ = 150.0          # below this: a kick's body
HIGH_HZ = 3500.0        # spectral centroid above this: a hat (cymbal noise)
SHORT_S = 0.12          # decay (to -20 dB) below this: a closed hat / a clap
TONAL = 0.5             # tonal share above this: a pitched voice (a tom)
BODY = 0.15             # tonal share above this in mid noise: a snare's body
TOM_HZ = ((180.0, 45), (260.0, 47), (380.0, 48))   # pitch below -> note; else 50
FRAME_S = 0.005         # frame of the decay measurement
DECAY_DB = 20.0

NAMES = {36: "kick", 38: "snare", 39: "clap", 40: "snare2", 42: "hat", 46: "openhat",
         45: "tom-low", 47: "tom-lowmid", 48: "tom-himid", 50: "tom-high"}


@dataclass(frozen=True)
class VoiceFeatures:
    low_share: float
    centroid_hz: float
    decay_s: float
    tonal_share: float
    pitch_hz: float


def measure(hits: np.ndarray, tone: np.ndarray | None, sample_rate: int) -> list[VoiceFeatures]:
    """hits (K, L) or (L,) at sample_rate; tone: the tonal part of each hit (same shape) or None
    (no tonal part). One VoiceFeatures per hit."""
    h = np.atleast_2d(np.asarray(hits, np.float64))
    t = np.zeros_like(h) if tone is None else np.atleast_2d(np.asarray(tone, np.float64))
    if t.shape != h.shape:
        raise ValueError(f"tone must have the hits' shape {h.shape}, got {t.shape}")
    k, n = h.shape
    power = np.abs(np.fft.rfft(h, axis=1)) ** 2                        # (K, F)
    tone_power = np.abs(np.fft.rfft(t, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    total = power.sum(axis=1)
    safe = np.maximum(total, 1e-30)
    low = power[:, freqs < LOW_HZ].sum(axis=1) / safe
    centroid = (power * freqs).sum(axis=1) / safe
    tonal = np.minimum((t * t).sum(axis=1) / np.maximum((h * h).sum(axis=1), 1e-30), 1.0)
    pitch = np.where(tone_power.sum(axis=1) > 1e-20 * safe, freqs[tone_power.argmax(axis=1)],
                     freqs[power.argmax(axis=1)])
    hop = max(1, int(round(FRAME_S * sample_rate)))
    frames = n // hop
    energy = (h[:, :frames * hop] ** 2).reshape(k, frames, hop).sum(axis=2)   # (K, frames)
    out = []
    for i in range(k):
        e = energy[i]
        peak = int(e.argmax())
        loud = np.nonzero(e >= e[peak] * 10 ** (-DECAY_DB / 10))[0]
        decay = (int(loud.max()) - peak + 1) * hop / sample_rate if total[i] > 0 else 0.0
        out.append(VoiceFeatures(float(low[i]), float(centroid[i]), float(decay),
                                 float(tonal[i]), float(pitch[i])))
    return out


def gm_note(f: VoiceFeatures) -> int:
    """The General MIDI drum note for a voice's features (see the module docstring)."""
    if f.low_share >= 0.5:
        return 36
    if f.tonal_share >= TONAL:
        for below_hz, note in TOM_HZ:
            if f.pitch_hz < below_hz:
                return note
        return 50
    if f.centroid_hz >= HIGH_HZ:
        return 42 if f.decay_s < SHORT_S else 46
    if f.tonal_share >= BODY:
        return 38
    return 39 if f.decay_s < SHORT_S else 40


def voice_names(notes: list[int]) -> list[str]:
    """A name per voice from its note, e.g. ['kick', 'hat', 'snare', 'hat']."""
    return [NAMES[n] for n in notes]
