"""Musical time to seconds and audio frames: the one place a beat becomes a length.

The model, the data preparation, the kit renderer, the tempo fit and the WAV loop tag must all agree
on how many frames a bar has, to the frame, or loops drift against the DAW grid. A quarter note is
one beat.
"""
from __future__ import annotations


def beat_seconds(tempo_bpm: float) -> float:
    return 60.0 / tempo_bpm


def sixteenth_seconds(tempo_bpm: float) -> float:
    """A sixteenth note: a quarter of a beat."""
    return beat_seconds(tempo_bpm) / 4


def exact_frames(beats: float, tempo_bpm: float, rate: float) -> float:
    """Frames in `beats` beats at tempo_bpm and rate, unrounded (for tolerance checks)."""
    return beats * beat_seconds(tempo_bpm) * rate


def frames(beats: float, tempo_bpm: float, rate: float) -> int:
    """Frames in `beats` beats, rounded once: pass a whole loop's beats, not a bar's, so rounding
    does not add up over bars."""
    return int(round(exact_frames(beats, tempo_bpm, rate)))
