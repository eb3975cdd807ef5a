"""Re-timed render of a drum-machine bar: the pattern played again at the host tempo.

    r = retime(parts, tempo_bpm=97.3, bars=2, rate=48000)
    r.loop    # (C, n) float32, n = round(bars * beats_per_bar * 60 / tempo_bpm * rate)
    r.stems   # (K, C, n): one track per voice;  r.floor (C, n): the background noise
              # r.loop == r.stems.sum(0) + r.floor (float32 rounding only)

Nothing is stretched or sliced. Each voice's hit (made by the model at 14.7 kHz) is resampled
once to the output rate, so it keeps its length and pitch, and is placed at its own step's time
at the host tempo: step s of bar j starts at round((j * steps + s + offset_s) * step_out)
samples, step_out = a bar's length / steps in output samples (offset_s: the model's micro-timing,
in steps, so swing scales with the tempo). Velocity, pan and the model's level scale it; tails
that run past the loop end wrap round to its start, as the model's bar does. The background
floor (noise) is resampled once, circularly, and tiled. NumPy and soxr, and one compiled loop
that places the hits (bridge/jit.py; its NumPy twin gives the same sums).

The level: one gain for everything (loop, stems, floor), chosen so the loudest sample of the loop
and of every stem lands at -headroom_db dBFS. A linear gain keeps the stems summing to the loop,
and no stem clips even where voices cancel in the mix. There is no limiter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from beatgan.generator.musical_time import frames

from .jit import compiled
from .render import RATE_RANGE_HZ, MAX_BARS, _check_int, check_tempo

PAD_MIN = 128            # model samples of silence before/after a hit for the resampler's filter
FLOOR_PAD = 256          # samples of loop context each side when resampling the floor


@dataclass(frozen=True)
class Retimed:
    voices: np.ndarray       # (K, n) float32: each voice's track before panning
    pan_gains: np.ndarray    # (C, K) float32: stem k channel c = pan_gains[c, k] * voices[k]
    loop: np.ndarray         # (C, n) float32
    floor: np.ndarray        # (C, n) float32
    rate: int                # Hz
    tempo_bpm: float
    bars: int
    level: float             # the factor the raw parts were scaled by (parts.gain without
                             # normalize)
    positions: np.ndarray    # (bars, steps) int64: output sample where each step's hits start

    def stem(self, k: int) -> np.ndarray:
        """(C, n) float32: voice k, panned."""
        return self.pan_gains[:, k, None] * self.voices[k]

    @property
    def stems(self) -> np.ndarray:
        """(K, C, n) float32: every voice's stem (made on demand: K times the loop's memory)."""
        return self.pan_gains.T[:, :, None] * self.voices[:, None, :]


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


_TILED: dict = {}     # (id(noise), sr, rate, n) -> (noise, tiled): every bar of a model shares it


def _tiled_noise(noise: np.ndarray, sr: int, rate: int, n: int) -> np.ndarray:
    """resample_floor of a read-only noise array, kept for the next bar (a few entries)."""
    if noise.flags.writeable:
        return resample_floor(noise, sr, rate, n)
    key = (id(noise), sr, rate, n)
    hit = _TILED.get(key)
    if hit is None or hit[0] is not noise:
        if len(_TILED) >= 8:
            _TILED.pop(next(iter(_TILED)))
        hit = _TILED[key] = (noise, resample_floor(noise, sr, rate, n))
    return hit[1]


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
    # Each hit is placed only as far as it is audible: past its last sample above 1e-7 of its
    # peak (-140 dB) it adds nothing a 24-bit file could hold.
    mags = np.abs(hits)
    loud = mags > 1e-7 * np.maximum(mags.max(axis=1, keepdims=True), 1e-30)
    lengths = np.where(loud.any(axis=1), m - np.argmax(loud[:, ::-1], axis=1), 0)
    starts = step_positions(parts, tempo, bars, rate)                    # (bars, S)
    # The filter's lead-in sits `pre` samples before the hit: rounding pre with the position
    # would move the hit; it is whole for 44.1/48 kHz from 14.7 kHz (see _pad_for).
    lead = int(round(pre))
    at = (starts - lead) % n                                             # (bars, S) loop sample
    vel = np.ascontiguousarray(parts.velocity, np.float32)               # (K, S)
    mono = np.zeros((k, n), np.float32)                                  # (K, n)
    (_place_hits if _place_hits is not None else _place_numpy)(hits, lengths.astype(np.int64),
                                                               vel, at, mono)
    pan = np.ascontiguousarray(parts.pan_gains, np.float32)              # (C, K)
    floor = np.float32(parts.floor_level) * _tiled_noise(parts.floor_noise, sr, rate, n)  # (C, n)
    loop = _mix(pan, mono) + floor                                       # at the raw level
    scale = float(parts.gain)                                            # the model's level
    if normalize:
        # The loudest sample of the loop, of any stem (|pan| * its voice's peak) or of the floor.
        stem_peak = float((np.abs(pan) * _peak(mono, axis=1)[None, :]).max()) if k else 0.0
        peak = max(float(_peak(loop)), stem_peak, float(_peak(floor)))
        if peak > 0.0:
            scale = 10.0 ** (-headroom_db / 20.0) / peak
    a = np.float32(scale)
    mono *= a
    loop *= a
    floor *= a
    return Retimed(mono, pan, loop, floor, rate, tempo, bars, scale, starts)


def _peak(x: np.ndarray, axis=None):
    """max |x| without an |x| copy (two reductions instead of a full-size temporary)."""
    return np.maximum(x.max(axis=axis), -x.min(axis=axis))


def _place_numpy(hits, lengths, vel, at, mono) -> None:
    """mono[v] += vel[v, s] * hits[v, :lengths[v]] placed at at[j, s], wrapping round the
    loop, for every voice v, step s and bar j (a zero velocity places nothing)."""
    scaled = np.empty(hits.shape[1], np.float32)
    at = at.tolist()
    for v in range(mono.shape[0]):
        length = int(lengths[v])
        if not length:
            continue
        h, row, w_h = hits[v, :length], mono[v], scaled[:length]
        for s_, w in enumerate(vel[v].tolist()):
            if w != 0.0:
                np.multiply(h, w, out=w_h)          # once per step, for every bar
                for j in range(len(at)):
                    _add_wrapped(row, w_h, at[j][s_])


def _place_kernel(hits, lengths, vel, at, mono):
    """_place_numpy in one compiled loop, to the same float32 sums in the same order: each hit
    is scaled and added in one pass (no scaled copy), with no NumPy call per hit (a bar places
    about a hundred)."""
    n = mono.shape[1]
    for v in range(mono.shape[0]):
        length = lengths[v]
        for s in range(vel.shape[1]):
            w = vel[v, s]
            if w == 0.0:
                continue
            for j in range(at.shape[0]):
                p, i = at[j, s], 0
                while i < length:                   # a tail past the loop end wraps to 0
                    piece = min(length - i, n - p)
                    _axpy(mono[v, p:p + piece], hits[v, i:i + piece], w)
                    i += piece
                    p = 0


def _scaled_add(dst, src, w):
    """dst += src * w over two slices of one length: a loop over slices vectorises, one that
    indexes the whole rows (row[p + q]) ran 3x slower than NumPy."""
    for q in range(dst.shape[0]):
        dst[q] += src[q] * w


_axpy = compiled(_scaled_add, inline="always")
_place_hits = compiled(_place_kernel, nogil=True, cache=True)


def _add_wrapped(row: np.ndarray, x: np.ndarray, at: int) -> None:
    """row[(at + i) % n] += x[i], in place, in slices: a hit's lead-in before sample 0 and its
    tail past the loop end land at the other end, with no wider buffer to fold back."""
    n = row.shape[0]
    while x.shape[0]:
        piece = min(x.shape[0], n - at)
        part = row[at:at + piece]
        np.add(part, x[:piece], out=part)
        x, at = x[piece:], 0


def _mix(pan: np.ndarray, mono: np.ndarray) -> np.ndarray:
    """(C, K) x (K, n) -> (C, n). einsum's own loop: a BLAS matmul this thin wakes OpenBLAS's
    thread pool, which costs milliseconds on a busy machine."""
    return np.einsum("ck,kn->cn", pan, mono)
