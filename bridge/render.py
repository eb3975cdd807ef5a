"""Host-tempo renderer: one generated bar (14.7 kHz, model tempo) -> a loop at any tempo and rate.

    y = render(bar, card, tempo_bpm=128, bars=4, rate=44100, mode="beats")   # (channels, n)

Three fit modes (see docs/render.md):
  repitch  one polyphase resample 14.7 kHz * T/T_model -> rate: speed and pitch move together.
  beats    slice at the hits, start each slice where its hit falls at the new tempo, play it at
           its own speed and stretch or squeeze its body to its slot (bridge/beats.py). Hits keep
           pitch, attack and their place on the grid; no holes, the loudness stays.
  stretch  Rubber Band (pedalboard.time_stretch) at 14.7 kHz, then one resample to the rate:
           pitch kept, transients softened, timing within a few ms (not sample-locked).

Every mode treats the bar as a loop: it is padded with its own end and start before filtering,
the join from its last sample to its first is made continuous, and audio that runs past the end
of the file wraps to its start. The file length is rounded once for the whole file:
round(bars * beats_per_bar * 60 / tempo_bpm * rate), and the content repeats every
n_out / bars samples, so the file holds whole bars and its last sample runs into its first.
Normalising raises a bar by at most MAX_GAIN_DB: silence and near-silence stay (near) silent.
"""
from __future__ import annotations

import enum

import numpy as np

from beatgan.generator.musical_time import frames

from .beats import (DETECTED_CLUSTER_S, STEPS_PER_BEAT, BeatsOptions, beats_bar, grid_points,
                    slice_points)
from .onsets import detect_hits_near

TEMPO_RANGE_BPM = (40.0, 300.0)    # inclusive; what DAWs use for drum loops
RATE_RANGE_HZ = (8000, 384000)     # output sample rates accepted
MAX_BARS = 64
MAX_LOOP_S = 3600.0                # longest file render() makes, seconds (64 bars of 16 beats at
                                   # 40 bpm is 1536 s): a card with 10^5 beats a bar is an error
RESAMPLE_PAD = 256                 # source samples of loop context each side (soxr HQ needs ~92)
STRETCH_PAD_S = 0.5                # loop context each side for Rubber Band, seconds
SEAM_FIT_S = 0.001                 # samples fitted on each side of the loop seam, seconds
SEAM_RAMP_S = 0.005                # length of the ramp that closes a step at the seam, seconds
SEAM_JUMP_STEPS = 2.0              # the wrap is closed only when its jump is more than this many
                                   # of the largest sample-to-sample steps fitted on either side
REST_WINDOW_S = 0.005              # the level a channel rests at: the median of the means of its
REST_QUIET = 0.1                   # frames this long that vary least (this share of them)
REST_DUST = 1e-9                   # ... and what is left under this share of the peak is silence
MAX_GAIN_DB = 24.0                 # most the normaliser raises a quiet bar, dB: a bar that peaks
                                   # at -120 dBFS comes out at -96 dBFS, not as -1 dBFS hiss


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
           normalize: bool = True, onsets: np.ndarray | None = None,
           beats_options: BeatsOptions | None = None) -> np.ndarray:
    """Render one bar as a seamless loop of `bars` bars at tempo_bpm and `rate` Hz.

    bar: (channels, card.bar_samples) or (card.bar_samples,) float at card.sample_rate.
    card: anything with sample_rate, tempo_bpm, beats_per_bar, bar_samples (a ModelCard).
    tempo_bpm: 40..300, fractional allowed. bars: 1..64 repeats. rate: output rate in Hz.
    mode: "repitch", "beats" (default) or "stretch".
    headroom_db: the peak lands at -headroom_db dBFS (default -1 dBFS) when normalize is True,
        raised by at most MAX_GAIN_DB (24 dB) above the bar's own level.
    onsets: for "beats", source samples where the hits' attacks start (each slice starts 0.5 ms
        before one and lands it on the host grid); when None they are detected
        (onsets.detect_hits_near) and every sixteenth with no hit near it gets a cut too.
    beats_options: for "beats", how slots are filled (a beats.BeatsOptions; None: the defaults).
    Returns float32 (channels, round(bars * beats_per_bar * 60 / tempo_bpm * rate)).
    Raises ValueError (and nothing else) for a bad card, bar or argument, naming what is wrong.
    """
    _check_card(card)
    x = _check_bar(bar, card)
    tempo = check_tempo(tempo_bpm)
    bars = _check_int("bars", bars, 1, MAX_BARS)
    rate = _check_int("rate", rate, *RATE_RANGE_HZ)
    try:
        mode = RenderMode(mode)
    except (TypeError, ValueError):
        raise ValueError(f"mode must be one of {[m.value for m in RenderMode]}, got {mode!r}") from None
    try:
        headroom_db = float(headroom_db)
    except (TypeError, ValueError):
        raise ValueError(f"headroom_db must be a number of dB, got {headroom_db!r}") from None
    if not (0.0 <= headroom_db <= 60.0):
        raise ValueError(f"headroom_db must be in 0..60 dB, got {headroom_db!r}")
    onsets = _check_onsets(onsets, int(card.bar_samples))
    if beats_options is not None and not isinstance(beats_options, BeatsOptions):
        raise ValueError(f"beats_options must be a beats.BeatsOptions, got {beats_options!r}")

    sr = int(card.sample_rate)
    n_out = output_samples(card, tempo, bars, rate)
    if n_out > MAX_LOOP_S * rate:
        raise ValueError(f"{bars} bars of {card.beats_per_bar} beats at {tempo:g} bpm last "
                         f"{n_out / rate:.0f} s; render() makes at most {MAX_LOOP_S:.0f} s "
                         "(card.beats_per_bar too large?)")
    # Every mode works on the bar at unit peak, DC removed, subnormals flushed: no level the
    # input may have (1e-40, 1e38) reaches a filter; the level is put back (or set) at the end.
    x, level = _unit_level(x, sr)
    if level == 0.0:                 # silence (or DC, or subnormal dust) in: silence out
        return np.zeros((x.shape[0], n_out), dtype=np.float32)
    # A bar in output samples as the file holds it: `bars` of them fill the n_out samples exactly,
    # so the loop wraps like any two neighbouring samples (within half a sample a file of
    # beats_per_bar * 60 / tempo * rate; see "Level and seam" in docs/render.md).
    bar_out = n_out / bars
    x = _close_seam(x, sr)

    if mode is RenderMode.REPITCH:
        y = _repitch(x, bars, n_out)
    elif mode is RenderMode.BEATS:
        cuts, anchors = _slices(x, card, onsets)
        y = _repitch(beats_bar(x, sr, cuts, anchors, frames(card.beats_per_bar, tempo, sr),
                               beats_options), bars, n_out)
    else:
        y = _stretch(x, sr, tempo / float(card.tempo_bpm), bars, n_out)

    return _set_level(y, level, headroom_db if normalize else None)


def beats_slices(bar: np.ndarray, card, onsets: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(cuts, anchors): the slices beats mode cuts the bar into, in source samples (see
    beats.slice_points), as render() finds them; with beats.as_is_shift they say where each
    part of the bar is played. Raises ValueError for a bad card, bar or onsets."""
    _check_card(card)
    sr = int(card.sample_rate)
    x = _close_seam(_unit_level(_check_bar(bar, card), sr)[0], sr)
    return _slices(x, card, _check_onsets(onsets, int(card.bar_samples)))


def _slices(x: np.ndarray, card, onsets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """beats_slices of the prepared bar x (unit level, seam closed)."""
    sr, beats = int(card.sample_rate), int(card.beats_per_bar)
    if onsets is not None:
        return slice_points(onsets, x.shape[1], beats, sr)
    # The source's sixteenths: where a hit the detector misses most likely is.
    grid = grid_points(x.shape[1], STEPS_PER_BEAT * beats)
    starts, hits, *weak = detect_hits_near(x, sr, grid)
    return slice_points(starts, x.shape[1], beats, sr, hits, steps=STEPS_PER_BEAT,
                        weak=tuple(weak), cluster_s=DETECTED_CLUSTER_S)


# ---- the three modes: each takes the prepared loop bar x (C, B) and returns (C, n_out) ----

def _repitch(x: np.ndarray, bars: int, n_out: int) -> np.ndarray:
    import soxr

    b = x.shape[1]
    pad = min(RESAMPLE_PAD, b)
    ext = x[:, np.arange(-pad, bars * b + pad) % b]              # loop context both sides
    # One polyphase conversion by n_out / (bars * b): the file's n_out samples hold exactly
    # `bars` bars, so its last sample runs into its first as any two samples do. (The exact bar,
    # beats * 60 / tempo * rate samples, is rarely whole; fitting bars * b into it instead would
    # leave up to half a sample's jump at the wrap. The tempo moves by under one sample a file.)
    r = n_out / (bars * b)
    y = soxr.resample(ext.T, bars * b, n_out, quality="HQ").T
    return _take(y, int(round(pad * r)), n_out)


def _stretch(x: np.ndarray, sr: int, speed: float, bars: int, n_out: int) -> np.ndarray:
    import pedalboard

    b = x.shape[1]
    pad = min(int(STRETCH_PAD_S * sr), b)
    ext = np.ascontiguousarray(x[:, np.arange(-pad, b + pad) % b], dtype=np.float32)
    too_short = ValueError(f"the bar ({b} samples at {sr} Hz) is too short for the stretcher; "
                           "use mode='repitch'")
    if ext.shape[1] <= ext.shape[0]:  # pedalboard could not tell samples from channels
        raise too_short
    st = pedalboard.time_stretch(ext, float(sr), stretch_factor=speed,
                                 high_quality=True, transient_mode="crisp")
    # One bar is stretched (with loop context) and then repeated, so Rubber Band's timing drift
    # (a few ms, see docs/render.md) does not add up over bars.
    scale = st.shape[1] / ext.shape[1]
    start = int(round(pad * scale))
    n_st = int(round(b * scale))
    if n_st < 1:  # Rubber Band returns nothing for a few dozen samples (a card's bar at ~5 Hz)
        raise too_short
    loop = st[:, start:start + n_st].copy()
    # The stretched bar's end does not quite run into its start (the stretcher saw the two at
    # different moments): crossfade the end into what the stretcher made just before the start,
    # which does. The downbeat at the start stays as it is.
    f = min(int(round(SEAM_RAMP_S * sr)), n_st // 4, start)
    if f > 0:
        w = _fade_in(f)
        loop[:, -f:] = loop[:, -f:] * w[::-1] + st[:, start - f:start] * w
    return _repitch(loop, bars, n_out)       # n_st samples -> n_out / bars: seamless


# ---- helpers ----

def _check_card(card) -> None:
    """A ValueError naming the field unless card has a usable sample_rate, tempo_bpm,
    beats_per_bar and bar_samples (a ModelCard is checked when it is read; any other object here)."""
    from beatgan.generator.config import check_card_fields

    names = ("sample_rate", "tempo_bpm", "beats_per_bar", "bar_samples")
    values, missing = [], []
    for k in names:
        try:
            values.append(getattr(card, k))
        except AttributeError:
            missing.append(k)
        except ArithmeticError as e:  # a computed field (a config's bar length) that fails
            raise ValueError(f"card.{k} cannot be computed ({e})") from None
    if missing:
        raise ValueError(f"card has no {', '.join(missing)} (pass the model's ModelCard)")
    if values[-1] is None:  # check_card_fields takes None as "not given"; a renderer needs it
        raise ValueError("card.bar_samples must be a positive integer, got None")
    try:
        check_card_fields(*values)
    except ValueError as e:
        raise ValueError(f"card.{e}") from None


def _check_bar(bar, card) -> np.ndarray:
    """The bar as float32 (C, card.bar_samples), finite, or a ValueError that says what it is."""
    want = int(card.bar_samples)
    shape_error = (f"expected a bar of shape (channels, {want}) at {card.sample_rate} Hz, "
                   f"got {{}}")
    try:
        a = np.asarray(bar)
    except (TypeError, ValueError):  # ragged nesting: numpy cannot make one array of it
        raise ValueError(shape_error.format("a ragged sequence")) from None
    if a.dtype.kind not in "biuf":
        raise ValueError(f"the bar must hold real numbers, got {a.dtype} samples")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != want or a.shape[0] < 1:
        raise ValueError(shape_error.format(tuple(np.shape(bar))))
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError("the bar contains NaN or infinite samples")
    with np.errstate(over="ignore"):
        x = a.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("the bar has samples beyond float32's range (|x| > 3.4e38)")
    return x


def _unit_level(x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """(C, B) float32 at sr -> the bar with its DC removed and its peak at 1, and the peak it had.

    The mean is taken in float64, so a constant bar (even 1e-30) leaves exactly nothing; what is
    left below float32's smallest normal number (1.2e-38) is flushed to zero, so a subnormal bar
    is silence rather than a NaN after normalising. A level of 0.0 means silence.

    The DC removed is the level each channel rests at (`_rest_level`), not its mean: hits whose
    samples carry DC of their own (an 808's) average above 0, and the silence between them,
    moved down by the mean, sat at an offset, which a slowed slice's body stretched and raised
    with its tail (the corpus's 808 loop: -20 dB re the peak where the source is silent), and
    the hits, centred, came out up to 1 dB louder than their source plays after
    normalising."""
    d = x.astype(np.float64)
    d -= d.mean(axis=1, keepdims=True)
    d -= _rest_level(d, sr)
    # Silence that rests at the level taken out is left as rounding dust, and Rubber Band's
    # output moves with dust: it is silence again. The loudest sample is never flushed
    # (REST_DUST < 1), so it is the level unless everything is under float32's smallest normal.
    top = float(np.max(np.abs(d))) if d.size else 0.0
    tiny = float(np.finfo(np.float32).tiny)
    d[np.abs(d) < max(tiny, REST_DUST * top)] = 0.0
    level = top if top >= tiny else 0.0
    if level == 0.0:
        return np.zeros_like(x), 0.0
    return (d / level).astype(np.float32), level


def _rest_level(d: np.ndarray, sr: int) -> np.ndarray:
    """(C, 1): the level each channel of the loop bar d (C, B) rests at, the median of the means
    of its REST_WINDOW_S frames whose variance is among the lowest REST_QUIET of the bar: its
    silences, or its quietest sound. A constant added to a channel moves its level by just
    that. (Frames, not a window at every sample: 0.13 ms a bar instead of 0.8. A bar silent in a
    tenth of its frames or more rests at its silence wherever it is cut.)"""
    c, b = d.shape
    k = max(1, int(round(REST_WINDOW_S * sr)))
    n = b // k
    if n < 4:
        return np.zeros((c, 1))
    frames = d[:, :n * k].reshape(c, n, k)
    mean = frames.mean(axis=2)
    var = np.square(frames - mean[:, :, None]).mean(axis=2)
    quiet = max(1, int(REST_QUIET * n))
    order = np.argsort(var, axis=1, kind="stable")[:, :quiet]
    return np.median(np.take_along_axis(mean, order, axis=1), axis=1, keepdims=True)


def _set_level(y: np.ndarray, level: float, headroom_db: float | None) -> np.ndarray:
    """The rendered loop y (made at unit input peak) at its final level, float32.

    headroom_db None: the input's own level (level). Otherwise the loudest sample lands at
    -headroom_db dBFS, but the loop is never raised more than MAX_GAIN_DB above the input's
    level, so a near-silent bar stays near silent."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if headroom_db is None:
        gain = level
    elif peak > 0.0:
        gain = min(10.0 ** (-headroom_db / 20.0) / peak, level * 10.0 ** (MAX_GAIN_DB / 20.0))
    else:
        gain = 0.0
    f32 = np.finfo(np.float32)
    if not peak * gain <= f32.max:
        raise ValueError(f"the loop's level (peak {peak * gain:.3g}) is beyond float32's range; "
                         "render with normalize=True")
    out = np.ascontiguousarray(y, dtype=np.float32)
    out *= np.float32(gain)
    out[np.abs(out) < f32.tiny] = 0.0                        # no subnormals in the file
    return out


def _check_onsets(onsets, b: int) -> np.ndarray | None:
    """None, or the onsets as sorted unique int64 source positions in 0..b-1 (a position past
    the bar or before it wraps, as in a loop); a ValueError unless they are finite real numbers
    in a sequence (or a single number)."""
    if onsets is None:
        return None
    try:
        a = np.asarray(onsets)
    except (TypeError, ValueError):  # ragged nesting
        raise ValueError("onsets must be a sequence of sample positions, got a ragged one") from None
    if a.dtype.kind not in "biuf" or a.ndim > 1:
        raise ValueError(f"onsets must be a 1-D sequence of sample positions, got {a.dtype} "
                         f"of shape {a.shape}")
    a = a.astype(np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError("onsets must be finite sample positions, got NaN or infinity")
    return np.unique(np.mod(np.round(a), b).astype(np.int64) % b)


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

    The ramp is added only where the loop does click: where the jump from the last sample to
    the first is more than SEAM_JUMP_STEPS of the largest steps on either side. The lines
    alone cannot tell: on a hit that sounds across the seam (a stroke played just before the
    bar line, a tom ringing through it) they extrapolate its swings to a "step" while the
    wrap is a step like its neighbours, and a ramp there reshaped the hit (on one djembe loop
    it pushed the bar's peak up 1 dB, so the whole loop came out 1 dB quieter).
    """
    c, b = x.shape
    k = max(3, min(int(round(SEAM_FIT_S * sr)), b // 4))
    m = max(2, min(int(round(SEAM_RAMP_S * sr)), b // 2))
    if b < 2 * k:  # too few samples to fit a line on each side (a card's bar of under 6)
        return x
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
    jump = np.abs(x[:, 0].astype(np.float64) - x[:, -1])
    around = np.maximum(np.abs(np.diff(x[:, :k], axis=1)).max(axis=1),
                        np.abs(np.diff(x[:, -k:], axis=1)).max(axis=1))
    excess[jump <= SEAM_JUMP_STEPS * around] = 0.0
    if not np.any(excess > 0.0):
        return x
    y = x.copy()
    y[:, -m:] += (np.sign(step) * excess).astype(np.float32)[:, None] * _fade_in(m)[None, :]
    return y


def _fade_in(n: int) -> np.ndarray:
    """Raised-cosine 0 -> 1 over n samples; with its reverse it sums to exactly 1."""
    return (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)


def _take(y: np.ndarray, start: int, n: int) -> np.ndarray:
    out = y[:, start:start + n]
    if out.shape[1] < n:  # the resampler may round its length down by a sample
        out = np.concatenate([out, np.zeros((y.shape[0], n - out.shape[1]), y.dtype)], axis=1)
    return out
