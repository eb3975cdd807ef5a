"""Figures of a rendered loop against its source, measured in the output (docs/render.md).

    from beatgan.training.loop_figures import hit_displacement_ms, added_silence, loudness_db, seam_step

All functions are pure: they take audio (float `(channels, samples)` with its rate) and what is
known about the source, and trust nothing the renderer says about itself.

- **Hit displacement**: where each hit's attack lands in the output, against its host-grid time
  (its source time x model tempo / host tempo: the grid moves, the hit keeps its place in
  musical time). The template is the source itself from 1 ms before the attack to 4 ms after
  it (shorter when the next hit's attack lands sooner at the host tempo, never under 2 ms),
  played at its own speed and resampled to the output rate: the attack, which any renderer
  that keeps transients reproduces, not the decay, which a time-stretch may change. The
  search is made with templates 2, 3 and 4 ms long and the middle reading counts: a 4 ms one
  can run into a squeezed body after an attack played as it is, a short one can lock onto a
  like attack nearby, and rarely do two of them fail at once (against the renderer's own map
  of where it plays each hit, `beats.as_is_shift`: 7 of 4110 placements off by over 0.5 ms,
  against 16 with 4 ms alone; corpus seeds 0-3, every tempo and rate). It is
  searched for within +-30 ms of where it belongs by least squares at one gain for the whole
  loop (so a loud hit nearby, even the same drum 10 ms later in a flam, does not pass for a
  weak one), to a fraction of a sample. Template and output are both first differenced
  (+6 dB an octave), so the attack, not a kick's low tail under it, decides. Content that is
  not cut at a hit plays on at its own speed inside the slice before it and shows up
  displaced; a slice started at the hit puts it on the grid.
  Checked three ways (tests/test_render_beats.py): a `repitch` render (exact by construction)
  reads under 0.1 ms, the same render shifted by 2 ms reads 2.0 ms, and a beats render cut at
  the true attacks reads at most 2 ms. With 10 ms templates that last check failed: at 70 bpm a
  correctly placed weak hit whose slice is stretched after 6 ms read up to 24 ms off, because
  least squares preferred a quiet stretch to the hit with a stretched decay after it.
- **Added silence**: the share of the loop whose 5 ms frames are more than 60 dB under its
  peak, less the share of the source that is.
- **Loudness**: RMS over the whole loop, its DC left out (no one hears it), in dB relative to
  its peak sample as it is (so it reads the same before and after peak normalisation, as a
  loop plays); a loop's loudness change is this minus the source's, the source as it is
  resampled to the output rate first (its peak between 14.7 kHz samples counts). The source's
  mean was once taken out before its peak was read: a loop whose hits carry DC (the corpus's
  808) then read as loud as a render that centres those hits, which lowers their peak and, after
  normalising, plays them up to 1 dB louder than the source does.
- **Seam step**: the jump from the loop's last sample to its first, in units of the RMS
  sample-to-sample step of the whole loop (1.0 = a typical step). **Seam roughness**: the same
  jump against the steps of the 1 ms around the seam (1.0 = as rough as its surroundings). A
  bar that starts inside a hat has steps of 3-4 typical ones there, so where the seam falls
  is a lottery for the first; a near-silent seam makes the second a lottery. A click stands
  out by both: `LoopFigures.seam_click` is the smaller one.

- **Buried hits**: a hit whose own attack, in the stretch the displacement template is cut
  from (first differenced, all channels), has under a quarter of the power the rest of the
  loop has there (`attack_contrast_db` < BURIED_DB): a closed hat under a crash, a ghost note
  on a snare's decay. No detector finds such a hit by its rise, and its reading is mostly the
  other hits': the summary gives the share over 3 ms of the other hits apart.

`summarize` folds the figures of many loops (several tempos, rates, corpus seeds) into the
row that docs/render.md and bench/render.py print: median, share over 3 ms (of all hits and
of the hits not buried), largest, worst added silence, loudness range, worst seam.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SEARCH_MS = 30.0          # how far from its grid time a hit is looked for, ms
TEMPLATE_MS = (2.0, 3.0, 4.0)  # stretches of source after a hit that are matched, ms (the
                          # attack); the middle reading of the three counts
TEMPLATE_MIN_MS = 2.0     # shortest (hits closer than this are matched together), ms
PRE_MS = 1.0              # source before the attack that is part of the template, ms
SAME_HIT_MS = 1.5         # attacks closer than this are matched together
FRAME_MS = 5.0            # frame for the silence figure, ms
SILENCE_DB = -60.0        # a frame this far under the loop's peak is silent
SEAM_AROUND_MS = 1.0      # the seam's roughness is measured against the steps this close, ms
BURIED_DB = -6.0          # a hit's attack this far under the rest of the loop there is buried


def host_time(t_src: np.ndarray | float, sample_rate: int, model_bpm: float, host_bpm: float,
              rate: int) -> np.ndarray:
    """Output sample of a source sample at the host tempo: t / sr * model / host * rate."""
    return np.asarray(t_src, dtype=np.float64) / sample_rate * (model_bpm / host_bpm) * rate


def hit_displacement_ms(y: np.ndarray, rate: int, bar: np.ndarray, sample_rate: int,
                        times: np.ndarray, model_bpm: float, host_bpm: float, *,
                        speed: float = 1.0, search_ms: float = SEARCH_MS) -> np.ndarray:
    """Signed displacement of each hit in one bar of the output y from its host-grid time, ms.

    y: (C, n) the output, one bar of it from its start (n = the bar at host_bpm and rate).
    bar: (C, B) the source bar at sample_rate; times: (H,) the source samples where the hits'
        attacks start.
    speed: how fast the output plays the source's content (1 for beats and stretch modes,
        host / model for repitch). Positive = late. A hit found at the edge of the search
        (+-search_ms) is reported there: it is at least that far off.
    """
    import soxr

    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(bar, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    c, b = x.shape
    assert y.shape[0] == c, f"expected {c} channels in the output, got {y.shape[0]}"
    times = np.mod(np.asarray(times, dtype=np.int64), b)
    n = y.shape[1]
    u = rate / sample_rate / speed          # output samples per source sample of content
    pad = b // 2
    xr = soxr.resample(x[:, np.arange(-pad, b + pad) % b].T, sample_rate, rate / speed,
                       quality="HQ").T                                   # (C, ~(b + 2 pad) u)
    xr = np.diff(xr, axis=1, prepend=xr[:, :1])                          # pre-emphasis
    y = np.diff(y, axis=1, prepend=y[:, -1:])
    srt = np.unique(times)
    w = int(round(search_ms * 1e-3 * rate))
    pre = int(round(PRE_MS * 1e-3 * rate))

    def templates(longest_ms: float) -> tuple[list, list]:
        tpls, starts = [], []
        for t in times.tolist():
            later = srt[(srt - t) % b > SAME_HIT_MS * 1e-3 * sample_rate]
            gap = ((later - t) % b).min() if later.size else b
            # Until the next attack lands at the host tempo (sooner when faster): after that
            # the output holds the next hit, whatever the source does.
            gap_ms = gap / sample_rate * 1e3 * min(1.0, model_bpm / host_bpm) - PRE_MS
            length_ms = min(longest_ms, max(TEMPLATE_MIN_MS, gap_ms))
            j0 = int(round((t + pad) * u)) - pre                       # template start in xr
            tpls.append(xr[:, j0:j0 + pre + int(round(length_ms * 1e-3 * rate))])
            # Where the template's first sample belongs in y: the hit's host-grid time, and the
            # template's start relative to the hit at the content's own speed.
            starts.append(float(host_time(t, sample_rate, model_bpm, host_bpm, rate))
                          + (j0 - (t + pad) * u))
        return tpls, starts

    def locate(tpls: list, starts: list, gain: float) -> tuple[np.ndarray, np.ndarray]:
        out, fits = [], []
        for tpl, p in zip(tpls, starts):
            q0 = int(math.floor(p)) - w
            m = tpl.shape[1]
            seg = y[:, (q0 + np.arange(2 * w + m + 1)) % n]
            win = np.lib.stride_tricks.sliding_window_view(seg, m, axis=1)      # (C, 2w+2, m)
            cross = np.einsum("cqm,cm->q", win, tpl)
            energy = np.einsum("cqm,cqm->q", win, win)
            err = energy - 2.0 * gain * cross + gain * gain * float(np.sum(tpl * tpl))
            k = int(np.argmin(err))
            frac = 0.0
            if 0 < k < err.size - 1:                                  # parabola through 3 points
                den = err[k - 1] - 2.0 * err[k] + err[k + 1]
                frac = 0.5 * (err[k - 1] - err[k + 1]) / den if den > 0 else 0.0
            out.append((q0 + k + frac - p) / rate * 1e3)
            fits.append((cross[k], float(np.sum(tpl * tpl))))
        return np.asarray(out), np.asarray(fits)

    # One gain for the whole loop: start from the peak ratio, then take the median of each
    # template's own least-squares gain where it was found (a few lost hits do not move it).
    # Then look with each template length and take the middle reading.
    longest = templates(TEMPLATE_MS[-1])
    gain = float(np.max(np.abs(y))) / max(float(np.max(np.abs(xr))), 1e-30)
    _, fits = locate(*longest, gain)
    ok = fits[:, 1] > 0
    if np.any(ok) and np.median(fits[ok, 0] / fits[ok, 1]) > 0:
        gain = float(np.median(fits[ok, 0] / fits[ok, 1]))
    d = np.median([locate(*(longest if ms == TEMPLATE_MS[-1] else templates(ms)), gain)[0]
                   for ms in TEMPLATE_MS], axis=0)
    return np.clip(d, -search_ms, search_ms)


def _frame_db(z: np.ndarray, rate: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[None, :]
    f = max(1, int(round(FRAME_MS * 1e-3 * rate)))
    k = z.shape[1] // f
    ms = (z[:, :k * f] ** 2).reshape(z.shape[0], k, f).mean(axis=(0, 2))
    peak = float(np.max(np.abs(z))) ** 2
    return 10.0 * np.log10(np.maximum(ms, 1e-300) / max(peak, 1e-300))


def silent_share(z: np.ndarray, rate: int, floor_db: float = SILENCE_DB) -> float:
    """Share (0..1) of the FRAME_MS frames of z whose RMS is below floor_db re z's peak."""
    return float(np.mean(_frame_db(z, rate) < floor_db))


def added_silence(y: np.ndarray, rate: int, bar: np.ndarray, sample_rate: int,
                  floor_db: float = SILENCE_DB) -> float:
    """Share of the output below floor_db re its peak, less the source's share (0..1)."""
    return silent_share(y, rate, floor_db) - silent_share(bar, sample_rate, floor_db)


def loudness_db(z: np.ndarray) -> float:
    """RMS over all samples and channels, each channel's mean left out, dB re the peak sample
    as it is."""
    z = np.asarray(z, dtype=np.float64)
    peak = float(np.max(np.abs(z)))
    if peak == 0.0:
        return -math.inf
    ac = z - z.mean(axis=-1, keepdims=True)
    return 10.0 * math.log10(max(float(np.mean(ac * ac)), 1e-300) / peak ** 2)


def seam_step(y: np.ndarray) -> float:
    """|last sample - first| (largest channel) / RMS of all sample-to-sample steps."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    step = float(np.max(np.abs(y[:, 0] - y[:, -1])))
    typical = math.sqrt(float(np.mean(np.diff(y, axis=1) ** 2)))
    return step / typical if typical > 0 else (0.0 if step == 0 else math.inf)


def seam_roughness(y: np.ndarray, rate: int, around_ms: float = SEAM_AROUND_MS) -> float:
    """|last sample - first| (largest channel) / RMS of the other sample-to-sample steps within
    around_ms of the seam: 1.0 = the seam is as rough as the signal around it. A loop whose
    bar starts inside a hat or a clap has large steps there, which seam_step counts against
    the whole loop's."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    k = max(1, min(int(round(around_ms * 1e-3 * rate)), y.shape[1] // 2 - 1))
    d = np.diff(np.concatenate([y[:, -k - 1:], y[:, :k + 1]], axis=1), axis=1)   # seam: d[:, k]
    step = float(np.max(np.abs(d[:, k])))
    typical = math.sqrt(float(np.mean(np.delete(d, k, axis=1) ** 2)))
    return step / typical if typical > 0 else (0.0 if step == 0 else math.inf)


def attack_contrast_db(loop) -> np.ndarray:
    """(H,) for each hit of `loop` (a loop_corpus.CorpusLoop, whose bar is the sum of its hits'
    one-shots): the power of its own attack over that of the rest of the bar, dB, both first
    differenced and summed over the channels, from PRE_MS before its attack to the longest
    template after it (what the displacement figure matches). +inf where nothing else sounds."""
    bar = np.asarray(loop.bar, dtype=np.float64)
    b = bar.shape[1]
    sr = loop.card.sample_rate
    pre = int(round(PRE_MS * 1e-3 * sr)) + 1             # one more: the first difference
    post = int(round(max(TEMPLATE_MS) * 1e-3 * sr))
    out = np.empty(len(loop.hits))
    for i, h in enumerate(loop.hits):
        w = (h.attack + np.arange(-pre, post)) % b
        k = (w - h.time) % b                              # where in its one-shot, round the loop
        inside = k < h.shot.shape[1]
        own = np.zeros((bar.shape[0], w.size))
        own[:, inside] = np.asarray(h.shot, dtype=np.float64)[:, k[inside]]
        e_own = float(np.sum(np.diff(own, axis=1) ** 2))
        e_rest = float(np.sum(np.diff(bar[:, w] - own, axis=1) ** 2))
        out[i] = (math.inf if e_rest == 0.0 else
                  -math.inf if e_own == 0.0 else 10.0 * math.log10(e_own / e_rest))
    return out


@dataclass(frozen=True)
class LoopFigures:
    """The figures of one corpus loop rendered at one tempo and rate."""
    loop: str
    mode: str
    tempo_bpm: float
    rate: int
    displacement_ms: np.ndarray    # per hit, signed
    added_silence: float           # 0..1
    loudness_change_db: float      # loop's loudness - source's
    seam_step: float
    seam_roughness: float
    buried: np.ndarray | None = None   # per hit: its attack is buried (attack_contrast_db)

    @property
    def seam_click(self) -> float:
        """How far the seam stands out: the smaller of seam_step (against the whole loop) and
        seam_roughness (against the 1 ms around it). A click is large by both; 3 or less is
        none (a jump of a few typical steps, or one as rough as the hat it falls in)."""
        return min(self.seam_step, self.seam_roughness)

    @property
    def median_ms(self) -> float:
        return float(np.median(np.abs(self.displacement_ms)))

    @property
    def max_ms(self) -> float:
        return float(np.max(np.abs(self.displacement_ms)))


def loop_figures(y: np.ndarray, rate: int, loop, tempo_bpm: float, mode: str) -> LoopFigures:
    """All figures of y, one bar of `loop` (a loop_corpus.CorpusLoop) rendered at tempo_bpm."""
    card = loop.card
    speed = tempo_bpm / card.tempo_bpm if mode == "repitch" else 1.0
    d = hit_displacement_ms(y, rate, loop.bar, card.sample_rate, loop.attacks, card.tempo_bpm,
                            tempo_bpm, speed=speed)
    return LoopFigures(loop.name, mode, float(tempo_bpm), int(rate), d,
                       added_silence(y, rate, loop.bar, card.sample_rate),
                       loudness_db(y) - source_loudness_db(loop.bar, card.sample_rate, rate),
                       seam_step(y), seam_roughness(y, rate),
                       attack_contrast_db(loop) < BURIED_DB)


def source_loudness_db(bar: np.ndarray, sample_rate: int, rate: int) -> float:
    """loudness_db of the source bar as it is, as a loop resampled to `rate` (soxr HQ)."""
    import soxr

    x = np.asarray(bar, dtype=np.float64)
    b = x.shape[1]
    pad = min(256, b)
    y = soxr.resample(x[:, np.arange(-pad, b + pad) % b].T, sample_rate, rate, quality="HQ").T
    lo = int(round(pad * rate / sample_rate))
    return loudness_db(y[:, lo:lo + int(round(b * rate / sample_rate))])


@dataclass(frozen=True)
class Summary:
    """The figures of many renders in one row (`summarize`)."""
    renders: int                   # how many loop renders
    placements: int                # hit placements (hits x renders)
    median_ms: float               # median |displacement|
    share_over_3ms: float          # 0..1 of the placements more than 3 ms off
    largest_ms: float              # largest |displacement|
    worst_added_silence: float     # 0..1, the worst render's
    loudness_lo_db: float          # the lowest loudness change
    loudness_hi_db: float          # ... and the highest
    worst_seam_step: float
    worst_seam_click: float        # the largest LoopFigures.seam_click
    share_over_3ms_clear: float = math.nan  # 0..1 of the placements of hits not buried (nan:
                                            # not known, or none)
    largest_clear_ms: float = math.nan      # ... and the largest of them


def summarize(figures) -> Summary:
    """One Summary of an iterable of LoopFigures (at least one)."""
    rows = list(figures)
    assert rows, "expected at least one LoopFigures"
    d = np.abs(np.concatenate([f.displacement_ms for f in rows]))
    loud = [f.loudness_change_db for f in rows]
    clear = (np.abs(np.concatenate([f.displacement_ms[~f.buried] for f in rows]))
             if all(f.buried is not None for f in rows) else np.zeros(0))
    return Summary(len(rows), int(d.size), float(np.median(d)), float(np.mean(d > 3.0)),
                   float(d.max()), max(f.added_silence for f in rows), min(loud), max(loud),
                   max(f.seam_step for f in rows), max(f.seam_click for f in rows),
                   float(np.mean(clear > 3.0)) if clear.size else math.nan,
                   float(clear.max()) if clear.size else math.nan)
