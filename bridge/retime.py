"""Re-timed render of a drum-machine bar: the pattern played again at the host tempo.

    r = retime(parts, tempo_bpm=97.3, bars=2, rate=48000)
    r.loop    # (C, n) float32, n = round(bars * beats_per_bar * 60 / tempo_bpm * rate)
    r.stems   # (K, C, n): one track per voice;  r.floor (C, n): the background noise
              # r.loop == r.stems.sum(0) + r.floor (float32 rounding only)

Nothing is stretched or sliced. Each voice's hit (made by the model at 14.7 kHz) is resampled
once to the output rate, so it keeps its length and pitch, and is placed at its own step's time
at the host tempo: step s of bar j starts at round((j * steps + s + offset_s) * step_out)
samples, step_out = bars' length / steps in output samples (offset_s: the model's micro-timing,
in steps, so swing scales with the tempo). Velocity, pan and the model's level scale it; tails
that run past the loop end wrap round to its start, as the model's bar does. The background
floor (noise) is resampled once, circularly, and tiled. Pure NumPy (and soxr).

The level: one gain for everything (loop, stems, floor), chosen so the loudest sample of the loop
and of every stem lands at -headroom_db dBFS. A linear gain keeps the stems summing to the loop,
and no stem clips even where voices cancel in the mix. There is no limiter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from beatgan.generator.musical_time import frames

from .render import RATE_RANGE_HZ, MAX_BARS, _check_int, check_tempo

PAD_MIN = 128             # model samples of silence before/after a hit for the resampler's filter
FLOOR_PAD = 256          # samples of loop context each side when resampling the floor


@dataclass(frozen=True)
class Retimed:
    loop: np.ndarray         # (C, n) float32
    stems: np.ndarray        # (K, C, n) float32, one per voice
    floor: np.ndarray        # (C, n) float32
    rate: int                # Hz
    tempo_bpm: float
    bars: int
    level: float             # the gain applied to the model's level (1 with normalize=False)
    positions: np.ndarray    # (bars, steps) int64: output sample where each step's hits start


def step_positions(parts, tempo_bpm: float, bars: int, rate: int) -> np.ndarray:
    """(bars, steps): the output sample at which each step's hits start: the host grid time of
    the step plus its micro-timing, rounded once. Equal to round(grid) with zero offsets."""
    s = parts.steps
    step_out = parts.beats_per_bar * 60.0 * rate / (tempo_bpm * s)
    k = np.arange(bars)[:, None] * s + np.arange(s)[None, :] + parts.offset_steps[None, :]
    return np.round(k.astype(np.float64) * step_out).astype(np.int64)


def _pad_for(sr: int, rate: int) -> int:
    """Pad length (model samples) that is a whole number of output samples, when one is short."""
    unit = sr // math.gcd(sr, rate)
    if unit > 512:
        return PAD_MIN
    return unit * -(-PAD_MIN // unit)


def resample_hits(hits: np.ndarray, sr: int, rate: int) -> tuple[np.ndarray, float]:
    """(K, L) hits at sr -> ((K, M) at rate, pre): the hit's first sample sits `pre` output
    samples into each row (zeros before it hold the resampling filter's pre-ringing)."""
    if rate == sr:
        return np.ascontiguousarray(hits, np.float32), 0.0
    import soxr

    pad = _pad_for(sr, rate)
    x = np.pad(np.asarray(hits, np.float32), ((0, 0), (pad, pad)))
    y = soxr.resample(np.ascontiguousarray(x.T), sr, rate, quality="HQ").T
    return np.ascontiguousarray(y, np.float32), pad * rate / sr


def resample_floor(floor: np.ndarray, sr: int, rate: int, n: int) -> np.ndarray:
    """(C, T) periodic noise at sr -> (C, n) at rate: resampled as a loop, then tiled."""
    c, t = floor.shape
    if rate == sr:
        period = np.asarray(floor, np.float32)
    else:
        import soxr

        pad = min(FLOOR_PAD, t)
        ext = floor[:, np.arange(-pad, t + pad) % t]
        y = soxr.resample(np.ascontiguousarray(ext.T, np.float32), sr, rate, quality="HQ").T
        start, length = int(round(pad * rate / sr)), int(round(t * rate / sr))
        period = y[:, start:start + length]
    return np.ascontiguousarray(period[:, np.arange(n) % period.shape[1]], np.float32)


def retime(parts, tempo_bpm: float, bars: int = 1, rate: int = 44100,
           headroom_db: float = 1.0, *, normalize: bool = True) -> Retimed:
    """Play the bar's pattern at tempo_bpm for `bars` bars at `rate` Hz (see the module doc)."""
    tempo = check_tempo(tempo_bpm)
    bars = _check_int("bars", bars, 1, MAX_BARS)
    rate = _check_int("rate", rate, *RATE_RANGE_HZ)
    headroom_db = float(headroom_db)
    if not 0.0 <= headroom_db <= 60.0:
        raise ValueError(f"headroom_db must be in 0..60 dB, got {headroom_db!r}")
    sr = parts.sample_rate
    n = frames(bars * parts.beats_per_bar, tempo, rate)
    hits, pre = resample_hits(parts.hits, sr, rate)                      # (K, M)
    k, m = hits.shape
    starts = step_positions(parts, tempo, bars, rate)                    # (bars, S)
    # The filter's lead-in sits `pre` samples before the hit: rounding pre with the position
    # would move the hit; it is whole for 44.1/48 kHz from 14.7 kHz (see _pad_for).
    lead = int(round(pre))
    lo = int(starts.min()) - lead
    margin = max(0, -lo)
    buf = np.zeros((k, margin + int(starts.max()) - lead + m + 1), np.float32)
    vel = np.ascontiguousarray(parts.velocity.T, np.float32)             # (S, K)
    for j in range(bars):
        for s in range(parts.steps):
            at = margin + int(starts[j, s]) - lead
            buf[:, at:at + m] += vel[s, :, None] * hits
    mono = _fold(buf, margin, n)                                         # (K, n)
    g = np.float32(parts.gain)
    stems = (g * parts.pan_gains.T.astype(np.float32))[:, :, None] * mono[:, None, :]  # (K, C, n)
    floor = g * resample_floor(parts.floor, sr, rate, n)
    loop = stems.sum(axis=0) + floor
    level = float(parts.gain)
    if normalize:
        peak = max(float(np.abs(loop).max()), float(np.abs(stems).max()),
                   float(np.abs(floor).max()))
        if peak > 0.0:
            a = 10.0 ** (-headroom_db / 20.0) / peak
            level *= a
            loop *= np.float32(a)
            stems *= np.float32(a)
            floor *= np.float32(a)
    return Retimed(loop, stems, floor, rate, tempo, bars, level, starts)


def _fold(buf: np.ndarray, margin: int, n: int) -> np.ndarray:
    """Wrap a buffer whose index a is output sample (a - margin) mod n onto n samples."""
    c, total = buf.shape
    reps = -(-total // n)
    full = np.zeros((c, reps * n), np.float32)
    full[:, :total] = buf
    out = full.reshape(c, reps, n).sum(axis=1)
    return np.roll(out, -margin, axis=1) if margin else out
