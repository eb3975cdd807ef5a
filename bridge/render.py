"""Host-tempo renderer: one generated bar (14.7 kHz, model tempo) -> a loop at any tempo and rate.

    y = render(bar, card, tempo_bpm=128, bars=4, rate=44100, mode="beats")   # (channels, n)

Three fit modes (see docs/render.md):
  repitch  one polyphase resample 14.7 kHz * T/T_model -> rate: speed and pitch move together.
  beats    slice at the onsets, put each slice where its onset falls at the new tempo, play it at
           its own speed; short complementary fades at the joins. Hits keep pitch and attack.
  stretch  Rubber Band (pedalboard.time_stretch) at 14.7 kHz, then one resample to the rate:
           pitch kept, transients softened, timing within a few ms (not sample-locked).

Every mode treats the bar as a loop: it is padded with its own end and start before filtering,
the join from its last sample to its first is made continuous, and audio that runs past the end
of the file wraps to its start. The file length is rounded once for the whole file:
round(bars * beats_per_bar * 60 / tempo_bpm * rate).
"""
from __future__ import annotations

import enum
import math

import numpy as np

from beatgan.generator.musical_time import frames

from .onsets import detect_onsets

TEMPO_RANGE_BPM = (40.0, 300.0)    # inclusive; what DAWs use for drum loops
RATE_RANGE_HZ = (8000, 384000)     # output sample rates accepted
MAX_BARS = 64
RESAMPLE_PAD = 256                 # source samples of loop context each side (soxr HQ needs ~92)
STRETCH_PAD_S = 0.5                # loop context each side for Rubber Band, seconds
XFADE_S = 0.003                   # fade-in of a slice = crossfade into it, seconds
TAIL_S = 0.008                     # how far a slice may ring past the next onset when sped up
FADE_MAX_S = 0.010                 # longest fade-out before a gap when slowed down
SEAM_FIT_S = 0.001                 # samples fitted on each side of the loop seam, seconds
SEAM_RAMP_S = 0.005                # length of the ramp that closes a step at the seam, seconds


class RenderMode(str, enum.Enum):
    REPITCH = "repitch"
    BEATS = "beats"
    STRETCH = "stretch"


def check_tempo(tempo_bpm: float) -> float:
    """The tempo as a float, or a ValueError that names the accepted range."""
    try:
        t = float(tempo_bpm)
    except (TypeError, ValueError):
        raise ValueError(f"tempo_bpm must be a number, got {tempo_bpm!r}") from None
    lo, hi = TEMPO_RANGE_BPM
    if not (lo <= t <= hi):  # also rejects NaN
        raise ValueError(f"tempo {tempo_bpm!r} bpm is outside {lo:g}..{hi:g} bpm")
    return t


def output_samples(card, tempo_bpm: float, bars: int = 1, rate: int = 44100) -> int:
    """Samples in `bars` bars at tempo_bpm and rate, rounded once for the whole file."""
    return frames(bars * card.beats_per_bar, check_tempo(tempo_bpm), rate)


def render(bar: np.ndarray, card, tempo_bpm: float, bars: int = 1, rate: int = 44100,
           mode: str | RenderMode = "beats", headroom_db: float = 1.0, *,
           normalize: bool = True, onsets: np.ndarray | None = None) -> np.ndarray:
    """Render one bar as a seamless loop of `bars` bars at tempo_bpm and `rate` Hz.

    bar: (channels, card.bar_samples) or (card.bar_samples,) float at card.sample_rate.
    card: anything with sample_rate, tempo_bpm, beats_per_bar, bar_samples (a ModelCard).
    tempo_bpm: 40..300, fractional allowed. bars: 1..64 repeats. rate: output rate in Hz.
    mode: "repitch", "beats" (default) or "stretch".
    headroom_db: the peak lands at -headroom_db dBFS (default -1 dBFS) when normalize is True.
    onsets: source-sample positions of the hits (slice points for "beats"); detected when None.
    Returns float32 (channels, round(bars * beats_per_bar * 60 / tempo_bpm * rate)).
    """
    x = _check_bar(bar, card)
    tempo = check_tempo(tempo_bpm)
    bars = _check_int("bars", bars, 1, MAX_BARS)
    rate = _check_int("rate", rate, *RATE_RANGE_HZ)
    try:
        mode = RenderMode(mode)
    except ValueError:
        raise ValueError(f"mode must be one of {[m.value for m in RenderMode]}, got {mode!r}") from None
    headroom_db = float(headroom_db)
    if not (0.0 <= headroom_db <= 60.0):
        raise ValueError(f"headroom_db must be in 0..60 dB, got {headroom_db!r}")

    sr = int(card.sample_rate)
    n_out = output_samples(card, tempo, bars, rate)
    bar_out = card.beats_per_bar * 60.0 * rate / tempo   # exact bar length in output samples
    x = _close_seam(x - x.mean(axis=1, keepdims=True), sr)

    if mode is RenderMode.REPITCH:
        y = _repitch(x, bars, bar_out, n_out)
    elif mode is RenderMode.BEATS:
        if onsets is None:
            onsets = detect_onsets(x, sr)
        onsets = np.unique(np.mod(np.asarray(onsets, dtype=np.int64), x.shape[1]))
        y = _beats(x, sr, _with_beat_anchors(onsets, x.shape[1], int(card.beats_per_bar)),
                   bars, rate, bar_out, n_out)
    else:
        y = _stretch(x, sr, tempo / float(card.tempo_bpm), bars, bar_out, n_out)

    if normalize:
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0.0:
            y *= 10.0 ** (-headroom_db / 20.0) / peak
    return np.ascontiguousarray(y, dtype=np.float32)


# ---- the three modes: each takes the prepared loop bar x (C, B) and returns (C, n_out) ----

def _repitch(x: np.ndarray, bars: int, bar_out: float, n_out: int) -> np.ndarray:
    import soxr

    b = x.shape[1]
    pad = min(RESAMPLE_PAD, b)
    ext = x[:, np.arange(-pad, bars * b + pad) % b]              # loop context both sides
    # One polyphase conversion by bar_out / b: the bar's b samples become bar_out samples.
    y = soxr.resample(ext.T, b, bar_out, quality="HQ").T
    return _take(y, int(round(pad * bar_out / b)), n_out)


def _beats(x: np.ndarray, sr: int, onsets: np.ndarray, bars: int, rate: int, bar_out: float,
           n_out: int) -> np.ndarray:
    import soxr

    c, b = x.shape
    u = rate / sr                       # resampled samples per source sample (speed kept)
    s = bar_out / b                     # output samples per source sample of musical time
    xf = max(1, int(round(XFADE_S * rate)))
    tail = int(round(TAIL_S * rate))
    fade_max = int(round(FADE_MAX_S * rate))

    # Resample the loop once (speed unchanged) and cut slices from it: the same as resampling
    # each slice, without a filter edge at every cut. It covers each slice's pre-roll and the
    # last slice, which runs round the loop to the first onset one bar later.
    first = int(onsets[0])
    lo = -(RESAMPLE_PAD + int(math.ceil(xf / u)))
    hi = b + first + RESAMPLE_PAD
    xr = soxr.resample(x[:, np.arange(lo, hi) % b].T, sr, rate, quality="HQ").T   # (C, ~(hi-lo)*u)

    nxt = np.append(onsets[1:], first + b)
    gaps_src = nxt - onsets                                   # source samples to the next onset
    margin = int(math.ceil(gaps_src.max() * max(u, s))) + xf + tail + 2
    acc = np.zeros((c, n_out + 2 * margin), dtype=np.float32)
    ramp = _fade_in(xf)
    for o, g in zip(onsets.tolist(), gaps_src.tolist()):
        natural = g * u                 # output samples until the next hit in the source
        slot = g * s                    # output samples until the next hit is placed
        end = min(natural, slot + tail)
        play = xf + int(round(end))
        start = int(round((o - lo) * u)) - xf
        seg = xr[:, start:start + play].copy()
        play = seg.shape[1]
        seg[:, :xf] *= ramp             # pre-roll: the crossfade into this slice
        if natural <= slot:
            # Slowed down: the slice ends where the next hit begins in the source, and silence
            # follows. Fade over the gap's length (bounded) so a long tail does not stop dead.
            fade = int(min(max(xf, slot - natural), fade_max))
        else:
            # Sped up (or unchanged): ring on past the next onset while fading out, starting
            # where the next slice fades in. Unchanged tempo gives complementary fades.
            fade = xf + int(round(end - slot))
        fade = min(fade, play - xf)
        if fade > 0:
            seg[:, play - fade:] *= _fade_in(fade)[::-1]
        for j in range(bars):
            at = margin + int(round((j * b + o) * s)) - xf
            acc[:, at:at + play] += seg
    return _fold(acc, margin, n_out)


def _stretch(x: np.ndarray, sr: int, speed: float, bars: int, bar_out: float,
             n_out: int) -> np.ndarray:
    import pedalboard

    b = x.shape[1]
    pad = min(int(STRETCH_PAD_S * sr), b)
    ext = np.ascontiguousarray(x[:, np.arange(-pad, b + pad) % b], dtype=np.float32)
    st = pedalboard.time_stretch(ext, float(sr), stretch_factor=speed,
                                 high_quality=True, transient_mode="crisp")
    # One bar is stretched (with loop context) and then repeated, so Rubber Band's timing drift
    # (a few ms, see docs/render.md) does not add up over bars.
    scale = st.shape[1] / ext.shape[1]
    start = int(round(pad * scale))
    n_st = int(round(b * scale))
    loop = st[:, start:start + n_st].copy()
    # The stretched bar's end does not quite run into its start (the stretcher saw the two at
    # different moments): crossfade the end into what the stretcher made just before the start,
    # which does. The downbeat at the start stays as it is.
    f = min(int(round(SEAM_RAMP_S * sr)), n_st // 4, start)
    if f > 0:
        w = _fade_in(f)
        loop[:, -f:] = loop[:, -f:] * w[::-1] + st[:, start - f:start] * w
    return _repitch(loop, bars, bar_out, n_out)


# ---- helpers ----

def _check_bar(bar, card) -> np.ndarray:
    x = np.asarray(bar, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    want = int(card.bar_samples)
    if x.ndim != 2 or x.shape[1] != want or x.shape[0] < 1:
        raise ValueError(f"expected a bar of shape (channels, {want}) at {card.sample_rate} Hz, "
                         f"got {tuple(np.shape(bar))}")
    if not np.all(np.isfinite(x)):
        raise ValueError("the bar contains NaN or infinite samples")
    return x


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def _close_seam(x: np.ndarray, sr: int) -> np.ndarray:
    """Make the loop's wrap from its last sample to its first continuous.

    A line fitted to each side of the seam is extrapolated to the seam; the gap between the two
    is a step the loop would click on. Only the part of it that stands out of the signal's own
    roughness there counts: a hit on the downbeat is rough (a click, a noise burst), and its
    attack is a wanted discontinuity; a sustained tone cut mid-cycle is smooth, and its step is
    a click. A raised-cosine ramp over the last few milliseconds adds that step, so the
    downbeat's attack at the start stays untouched and the slope at the end is kept.
    """
    c, b = x.shape
    k = max(3, min(int(round(SEAM_FIT_S * sr)), b // 4))
    m = max(2, min(int(round(SEAM_RAMP_S * sr)), b // 2))
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2.0       # centred positions
    denom = float(np.sum(t * t))

    def fit(seg: np.ndarray, at: float) -> tuple[np.ndarray, np.ndarray]:
        """Value of the line at `at` and the rms of what the line does not explain."""
        mean = seg.mean(axis=1, keepdims=True)
        slope = (seg * t).sum(axis=1, keepdims=True) / denom
        resid = np.sqrt(np.mean((seg - mean - slope * t) ** 2, axis=1))
        return (mean + slope * at)[:, 0], resid

    start_at, start_rough = fit(x[:, :k].astype(np.float64), -(k - 1) / 2.0 - 0.5)
    end_at, end_rough = fit(x[:, -k:].astype(np.float64), (k - 1) / 2.0 + 0.5)
    step = start_at - end_at                                               # (C,)
    excess = np.maximum(np.abs(step) - 3.0 * np.maximum(start_rough, end_rough), 0.0)
    if not np.any(excess > 0.0):
        return x
    y = x.copy()
    y[:, -m:] += (np.sign(step) * excess).astype(np.float32)[:, None] * _fade_in(m)[None, :]
    return y


def _with_beat_anchors(onsets: np.ndarray, b: int, beats: int) -> np.ndarray:
    """The onsets plus a cut at every beat that has no onset within half a sixteenth, so a
    sustained sound is still anchored to the grid; sorted and unique, at least one."""
    onsets = np.unique(np.mod(onsets, b))
    grid = np.round(np.arange(beats) * b / beats).astype(np.int64)
    tol = b / beats / 8.0
    if onsets.size:
        d = np.abs(grid[:, None] - onsets[None, :])
        d = np.minimum(d, b - d).min(axis=1)
        grid = grid[d > tol]
    return np.unique(np.concatenate([onsets, grid]))


def _fade_in(n: int) -> np.ndarray:
    """Raised-cosine 0 -> 1 over n samples; with its reverse it sums to exactly 1."""
    return (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)


def _take(y: np.ndarray, start: int, n: int) -> np.ndarray:
    out = y[:, start:start + n]
    if out.shape[1] < n:  # the resampler may round its length down by a sample
        out = np.concatenate([out, np.zeros((y.shape[0], n - out.shape[1]), y.dtype)], axis=1)
    return out


def _fold(acc: np.ndarray, margin: int, n: int) -> np.ndarray:
    """Wrap a buffer whose index a is output sample (a - margin) mod n onto n samples."""
    c, total = acc.shape
    k = -(-total // n)
    buf = np.zeros((c, k * n), dtype=acc.dtype)
    buf[:, :total] = acc
    return np.roll(buf.reshape(c, k, n).sum(axis=1), -margin, axis=1)
