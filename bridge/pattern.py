"""The pattern of a drum-machine bar: per voice a name, a General MIDI note and its hits.

    pattern = Pattern.from_parts(parts)          # parts: a BarParts (bridge/bar_parts.py)
    for v in pattern.voices: print(v.name, v.note, [(h.step, h.velocity) for h in v.hits])

A hit is a step whose velocity is at least `threshold` (default 0.1, i.e. 20 dB below a
full-velocity hit) in a voice that is audible (its loudest placed hit within SILENT_DB of the
loudest voice's). Why 0.1: the model gives every step a velocity (a sigmoid, never exactly 0),
and the quiet ones are the pattern's "off" steps; a MIDI note at velocity 1-12 on a real kit is a
ghost note nobody wrote. The audio keeps every velocity (the loop is the model's bar); the MIDI
file notates the hits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .voice_map import gm_note, measure, voice_names

THRESHOLD = 0.1          # velocity (0..1) at or above which a step is a hit
SILENT_DB = -40.0        # a voice this far below the loudest voice is not written as notes


@dataclass(frozen=True)
class Hit:
    step: int                # 0 .. steps-1 in the bar
    offset_steps: float      # micro-timing, in steps (the bar's offset for this step)
    velocity: float          # 0..1


@dataclass(frozen=True)
class PatternVoice:
    index: int               # the voice's index in the model (the stem's number)
    name: str                # e.g. "kick"; from its note
    note: int                # General MIDI drum note
    level_db: float          # loudest placed hit re the loudest voice's (0 for the loudest)
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Pattern:
    steps: int               # steps per bar (16 = sixteenths)
    beats_per_bar: int
    threshold: float
    voices: tuple[PatternVoice, ...]

    @classmethod
    def from_parts(cls, parts, threshold: float = THRESHOLD) -> "Pattern":
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        feats = measure(parts.hits, parts.tone, parts.sample_rate)
        notes = [gm_note(f) for f in feats]
        names = voice_names(notes)
        # A voice's level: its loudest hit's peak, panned, at its loudest velocity.
        peak = np.abs(parts.hits).max(axis=1) * parts.pan_gains.max(axis=0) \
            * parts.velocity.max(axis=1)                                        # (K,)
        top = float(peak.max()) if peak.size else 0.0
        level_db = 20 * np.log10(np.maximum(peak, 1e-12) / max(top, 1e-12))
        voices = []
        for k in range(parts.voices):
            audible = top > 0 and level_db[k] >= SILENT_DB
            hits = tuple(Hit(int(s), float(parts.offset_steps[s]), float(parts.velocity[k, s]))
                         for s in range(parts.steps)
                         if audible and parts.velocity[k, s] >= threshold)
            voices.append(PatternVoice(k, names[k], notes[k], float(level_db[k]), hits))
        return cls(parts.steps, parts.beats_per_bar, float(threshold), tuple(voices))

    def stem_names(self) -> list[str]:
        """File-name parts for the voices' stems: 'stem0-kick', 'stem1-hat', ..."""
        return [f"stem{v.index}-{v.name}" for v in self.voices]
