"""Onset detection for one loop bar: where each hit's attack starts, to the sample.

    starts = detect_onsets(bar, 14700)              # (H,) int64, sorted
    starts, hits = detect_hits(bar, 14700)          # and where each lands on the grid

The bar is a loop (circular): a hit on the downbeat has the end of the bar as its past, as it
sounds when the loop plays. Every step is a function of each sample and its circular
neighbours, so the onsets of a rotated bar are the rotated onsets (to the sample), and the DC
offset is removed first, so adding one changes nothing.

1. Candidates. The bar is split into three views: low (a 2.7 ms moving average, the kick),
   the rest, and its first difference (a cheap high-pass: hats, clicks). In each view the
   energy of the last 12 ms is compared with that of 4 ms earlier; a candidate is a local
   maximum (+-4 ms) of the largest rise that lifts some view by RISE_DB and is no more than
   LEVEL_DB under that view's loudest moment. A sharp rise of the high-passed signal alone
   (FINE_DB within 1 ms: a hat on a kick's tail, a flam's second stroke) is a candidate too.
2. Attack start. Near each candidate, the rise of the 1 ms power over the 4 ms before it is
   followed back from its steepest point to where it was last under START_DB: that sample
   starts the attack. The hit (what lands on the grid) is the middle of three estimates of
   where the attack is heard to start: that start, which runs early over a noisy decay; where
   the rise first reaches half its steepest, which runs late on a slow rise; and where the
   high-passed signal first reaches LANDING_SHARE of its largest swing in the attack. On the
   corpus (seeds 0-3) it is within 0.20 ms of the true attack (median) and 4.0 ms at most,
   against 0.34 and 6.0 ms for the half-steepest point alone. Each view (raw, high-passed,
   low) whose rise there reaches VIEW_DB gives its own start, so a kick 3 ms before a crash is
   not started at the crash (the kick rises in the low view, the crash in the high-passed
   one). Starts within SAME_S of each other are one attack: it starts at the first, and its
   half-steepest point is the steepest view's. A run of such starts, each under SAME_S from
   the one before, is cut where one rises SPLIT_DB or more within 1 ms at least SAME_S after
   the run's first: the views' starts of a kick, 1-2 ms apart, chained into those of a hat
   3.5-5 ms after it, which was taken for the rest of the kick's attack (at 70 bpm it then
   landed 3.5 ms early). A hand drum's body rising sharply 3 ms after its slap is cut too,
   and the two land on either side of the stroke (1.2 ms at 70 bpm).
3. New or not. A candidate within REFRACT_S of the one before is a new hit only if it gets
   louder than anything since that one by NEW_DB (a flam's second stroke does; the rest of a
   slow attack, or a clap's second burst, does not), or if, high-passed, that hit has decayed
   by DECAYED_DB from its loudest and the candidate rises OVER_DB over the decay (its mean
   power over the DECAY_S before the candidate's start): a hat or a ride a few ms after a
   snare, which rises over the snare's decay without getting louder than the snare was.
   (Judged so in the raw view too, it takes a clap's later bursts and the second transient
   of a slap for hits.)

4. Weak hits (`detect_hits_near`). Within PRIOR_S of where the caller expects a hit (the
   source's sixteenth grid), a rise of PRIOR_RISE_DB (PRIOR_FINE_DB high-passed) is a
   candidate too, and steps 2-3 run again with them, a candidate within REFRACT_S of a hit
   being new when PRIOR_NEW_DB louder: the hits found only then are returned apart, as weak
   hits (a hat under a ringing crash, a soft tom while a loud one rings, a kick 4 ms after a
   hat, but also some rests of attacks and cymbal noise). The caller decides where to use
   one (`beats.step_points`: on a sixteenth no hit covers, or up to 15 ms after a hit).

Everything is vectorised numpy except the last pass over the onsets (a few dozen); a 2 s bar
at 14.7 kHz takes about 2.5 ms, and 0.5 ms more with the weak hits.
"""
from __future__ import annotations

import numpy as np

WINDOW_S = 0.012      # energy window for the candidates, seconds
LAG_S = 0.004         # compared with the window this much earlier, seconds
RISE_DB = 6.0         # a candidate lifts some view's energy by this much
LEVEL_DB = -45.0      # ... and is no more than this under the view's loudest window
PEAK_S = 0.004        # a candidate is the largest rise within +-this, seconds
FINE_DB = 8.0         # a 1 ms rise of the high-passed signal this large is a candidate too
FINE_LEVEL_DB = -40.0  # ... if no more than this under its loudest millisecond
FINE_PEAK_S = 0.002   # ... and the largest within +-this, seconds
LOW_S = 0.0027        # moving average that makes the low view (first null at 370 Hz), seconds
ENVELOPE = 16         # samples of power for the attack start (1.1 ms at 14.7 kHz)
PAST = 64             # ... compared with the samples before those (4.4 ms)
VIEW_DB = 6.0         # a view whose 1 ms power rises this much near a candidate gives a start
SAME_S = 0.0025       # starts closer than this are one attack, seconds ...
SPLIT_DB = 10.0       # ... but one whose 1 ms rise is this steep starts a new one SAME_S after
                      # the first start of the one before (a hat 4 ms after a kick)
START_DB = 2.0        # the attack starts where its rise was last under this
SEARCH_S = 0.002      # the attack start is looked for up to LAG_S + this before a candidate
REFRACT_S = 0.015     # a candidate this soon after a hit must be louder than it by NEW_DB
NEW_DB = 6.0
DECAYED_DB = 3.0      # ... or, high-passed, where that hit has decayed by this (dB) ...
OVER_DB = 6.0         # ... rise this much over its decay (the level just before the candidate)
DECAY_S = 0.003       # the decay's level: mean 1 ms power over this much before the start, s
LOOK_S = 0.005        # how far after a candidate its loudness is taken, seconds
FLOOR_DB = -70.0      # power floor relative to the loudest moment: quieter is "silence"
PRIOR_S = 0.012       # within this of an expected hit (detect_hits_near), seconds, ...
PRIOR_RISE_DB = 3.0   # ... a candidate needs only this rise of some view's 12 ms energy
PRIOR_FINE_DB = 5.0   # ... or this 1 ms rise of the high-passed signal,
PRIOR_NEW_DB = 3.0    # ... and one soon after a hit is new when this much louder (not NEW_DB)
LANDING_SHARE = 0.2   # where a hit lands (_landing), one estimate: where the high-passed signal
LANDING_PRE_S = 0.001  # reaches this share of its largest swing, looked for from this long
LANDING_POST_S = 0.003  # before the start to this long after the half-steepest point, seconds


def detect_onsets(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sample positions where the hits' attacks start in a loop bar, sorted, each in [0, len).

    audio: (samples,) or (channels, samples) float; channels are summed.
    Returns an int64 array; empty for silence.
    """
    return detect_hits(audio, sample_rate)[0]


def detect_hits(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, hits): where each attack starts and where it lands on the grid (int64, the same
    length, hits[i] >= starts[i] up to the wrap). See the module's docstring."""
    return detect_hits_near(audio, sample_rate, None)[:2]


def detect_hits_near(audio: np.ndarray, sample_rate: int, prior: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(starts, hits, weak_starts, weak_hits): `detect_hits`, and the hits that only a smaller
    rise finds near where hits are expected (module docstring, 4.).

    prior: sample positions where hits are expected (the source's sixteenth grid), or None
    (no weak hits). The prior is a position like any other: a rotated bar with a rotated prior
    gives rotated hits, and the strict hits do not depend on it."""
    x = np.asarray(audio, dtype=np.float64)
    mono = x if x.ndim == 1 else x.sum(axis=0)
    n = mono.shape[-1]
    none = (np.zeros(0, dtype=np.int64),) * 4
    if n < 4 * (ENVELOPE + PAST):
        return none
    mono = mono - mono.mean()
    peak = float(np.max(np.abs(mono)))
    if peak == 0.0:
        return none
    mono /= peak
    sr = sample_rate
    low = _box(mono, max(1, int(round(LOW_S * sr))))
    high = np.diff(mono, prepend=mono[-1])

    # 1. Candidates: the largest energy rise of the three views, and sharp high-passed rises.
    # Rises are kept as power ratios (a dB figure is 10 log10 of one) until the few windows
    # around the candidates, which saves a logarithm of every sample.
    w, lag = int(round(WINDOW_S * sr)), int(round(LAG_S * sr))
    rise = np.zeros(n)
    strong = np.zeros(n, dtype=bool)
    for v in (low, mono - low, high):
        e = _box(v * v, w)
        e_max = float(e.max())
        e = e + e_max * 10.0 ** (FLOOR_DB / 10.0)
        r = e / _shift(e, lag)
        np.maximum(rise, r, out=rise)
        strong |= (r >= 10.0 ** (RISE_DB / 10.0)) & (e >= e_max * 10.0 ** (LEVEL_DB / 10.0))
    top = rise >= _max_filter(rise, int(round(PEAK_S * sr)))     # a local maximum
    cand = np.flatnonzero(strong & top)
    fine_raw, _ = _rise(mono)
    fine_high, e_high = _rise(high)
    fine_top = ((fine_high >= _max_filter(fine_high, int(round(FINE_PEAK_S * sr))))
                & (e_high >= e_high.max() * 10.0 ** (FINE_LEVEL_DB / 10.0)))
    sharp = np.flatnonzero((fine_high >= 10.0 ** (FINE_DB / 10.0)) & fine_top)
    cand = np.unique(np.concatenate([cand, (sharp + lag) % n]))
    views = (_box(mono * mono, ENVELOPE), fine_raw, fine_high, _rise(low)[0], e_high)
    starts, hits = _attacks(cand, views, sr)
    hits = _landing(starts, hits, high, sr)
    if prior is None or len(prior) == 0:
        return starts, hits, none[0], none[1]

    # 4. Near an expected hit, a smaller rise is a candidate too: a hat under a ringing crash,
    # a soft tom while a loud one rings. Run with them, the hits that were not there before
    # are the weak ones. The rest of an attack or a cymbal's noise may be among them, so they
    # are returned apart and never taken for hits as they are (see beats.step_points).
    k = int(round(PRIOR_S * sr))
    near = np.zeros(n, dtype=bool)
    at = np.asarray(prior, dtype=np.int64) % n
    near[(at[:, None] + np.arange(-k, k + 1)[None, :]) % n] = True
    weak = np.flatnonzero(near & top & (rise >= 10.0 ** (PRIOR_RISE_DB / 10.0)))
    weak_sharp = np.flatnonzero(near & fine_top & (fine_high >= 10.0 ** (PRIOR_FINE_DB / 10.0)))
    w_starts, w_hits = _attacks(np.unique(np.concatenate([cand, weak, (weak_sharp + lag) % n])),
                                views, sr, PRIOR_NEW_DB, split=False)
    new = ~np.isin(w_starts, starts)
    w_starts, w_hits = w_starts[new], w_hits[new]
    return starts, hits, w_starts, _landing(w_starts, w_hits, high, sr)


def _landing(starts: np.ndarray, hits: np.ndarray, high: np.ndarray, sr: int) -> np.ndarray:
    """Where each attack lands on the grid (int64): the middle one of three estimates of where
    it starts, which err in different ways. The attack start runs early over a noisy decay; the
    half-steepest point (`hits` here) runs late on a slow rise (a brushed hat, a clap's first
    burst); the first sample, from LANDING_PRE_S before the start on, at which the high-passed
    signal reaches LANDING_SHARE of its largest swing from the start to LANDING_POST_S after
    the half-steepest point, runs early or late with the noise under it."""
    n = high.shape[-1]
    if starts.size == 0:
        return hits
    lead = (hits - starts) % n
    pre, post = int(round(LANDING_PRE_S * sr)), int(round(LANDING_POST_S * sr))
    cols = np.arange(pre + int(lead.max()) + post)[None, :]
    seg = np.abs(high[(starts[:, None] - pre + cols) % n])             # (H, W)
    inside = cols < (pre + lead + post)[:, None]
    top = np.max(np.where(inside & (cols >= pre), seg, 0.0), axis=1, keepdims=True)
    first = np.argmax(inside & (seg >= LANDING_SHARE * top), axis=1) - pre  # from the start
    return (starts + np.median(np.stack([np.zeros_like(lead), lead, first]), axis=0)
            .astype(np.int64)) % n


def _attacks(cand: np.ndarray, views: tuple, sr: int, new_db: float = NEW_DB,
             split: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2 and 3 of the module's docstring: (starts, hits) of the candidates `cand`, a
    candidate soon after a hit being new when new_db louder; split: a sharp start splits a
    run of views' starts (`_runs`).
    views: at every sample, the 1 ms power of the bar, the 1 ms rises (`_rise`) of the bar,
    of its first difference and of its low view, and the 1 ms power of the first difference."""
    p_raw, fine_raw, fine_high, fine_low, e_high = views
    n = p_raw.shape[-1]
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    lag = int(round(LAG_S * sr))
    if cand.size == 0:
        return none
    cand = cand[np.append(True, np.diff(cand) > 1)]          # one per plateau

    # 2. Attack start and hit: walk back from the steepest 1 ms rise near each candidate,
    # in every view that rises by VIEW_DB there (and in the one that rises most).
    span = lag + int(round(SEARCH_S * sr))
    first = cand - span
    idx = (first[:, None] + np.arange(span + 1)[None, :]) % n                  # (P, span+1)
    r_all = 10.0 * np.log10(np.stack([fine_raw[idx], fine_high[idx], fine_low[idx]]))  # (3,P,S)
    m = r_all.max(axis=2)                                                   # (3, P)
    use = (m >= VIEW_DB) | (m >= m.max(axis=0, keepdims=True))
    vi, pi = np.nonzero(use)
    r = r_all[vi, pi]                                                       # (Q, span+1)
    first = first[pi]
    top = np.argmax(r, axis=1)
    cols = np.arange(span + 1)[None, :]
    below = (r < START_DB) & (cols <= top[:, None])
    last_below = np.where(below.any(axis=1), span - np.argmax(below[:, ::-1], axis=1), 0)
    starts = (first + last_below + 1) % n
    steep = r[np.arange(r.shape[0]), top][:, None]
    hits = (first + np.argmax((cols > last_below[:, None]) & (r >= 0.5 * steep), axis=1)) % n
    order = np.lexsort((-steep[:, 0], starts))                # by start, steepest first
    starts, hits, steep = starts[order], hits[order], steep[order, 0]
    # Starts closer than SAME_S are the views' starts of one attack: it starts at the first of
    # the run and its hit is the steepest view's. Runs split where the loop's gap from one
    # start to the one before is wider (so a rotation changes nothing), and at a sharp start.
    same = max(1, int(round(SAME_S * sr)))
    gaps = (starts - np.roll(starts, 1)) % n                # from the start before, round the loop
    new_run = gaps >= same
    if split and np.any(new_run):
        new_run = _runs(starts, gaps, steep, same, n)
    if starts.size > 1 and np.any(new_run):
        run = np.cumsum(new_run) - 1
        run[run < 0] = run.max()                                # the run that wraps the end
        best = np.lexsort((-steep, run))                        # steepest first in each run
        best = best[np.append(True, np.diff(run[best]) != 0)]   # (R,) one per run, by run
        starts, hits = starts[new_run], hits[best]
    else:
        starts, keep = np.unique(starts, return_index=True)
        hits = hits[keep]

    # 3. New or not, in loop order from the widest gap (so a rotation changes nothing).
    return _new_hits(starts, hits, (p_raw, e_high), sr, new_db)


def _runs(starts: np.ndarray, gaps: np.ndarray, steep: np.ndarray, same: int, n: int
          ) -> np.ndarray:
    """Which sorted starts begin an attack: those whose gap from the start before (`gaps`) is
    SAME_S or more, and those that rise SPLIT_DB (their 1 ms rise, `steep`) SAME_S or more
    after the first start of their run: a new attack inside a run of views' starts, each
    under SAME_S from the one before. Walked in loop order from the widest gap, so a rotation
    changes nothing.

    Only the strict pass: with the weak hits' smaller threshold for new (PRIOR_NEW_DB), the
    rest of a djembe's or a clap's attack split off this way passed for a new hit."""
    out = gaps >= same
    sharp = steep >= SPLIT_DB
    if not np.any(sharp & ~out):
        return out
    k = starts.size
    i0 = int(np.argmax(gaps))
    first = int(starts[i0])
    for j in range(1, k):
        i = (i0 + j) % k
        if not out[i] and sharp[i] and (int(starts[i]) - first) % n >= same:
            out[i] = True
        if out[i]:
            first = int(starts[i])
    return out


def _new_hits(starts: np.ndarray, hits: np.ndarray, power: tuple, sr: int,
              new_db: float = NEW_DB) -> tuple[np.ndarray, np.ndarray]:
    """Drop the candidates that are the rest of an attack (see the module's docstring, 3.);
    power: (the 1 ms power of the bar, that of its first difference) at every sample."""
    n = power[0].shape[-1]
    if starts.size < 2:
        return starts.astype(np.int64), hits.astype(np.int64)
    gaps = np.diff(np.append(starts, starts[0] + n))
    order = np.roll(np.arange(starts.size), -((int(np.argmax(gaps)) + 1) % starts.size))
    refract, look = int(round(REFRACT_S * sr)), int(round(LOOK_S * sr)) + ENVELOPE
    ratio = 10.0 ** (new_db / 10.0)
    decayed, over = 10.0 ** (-DECAYED_DB / 10.0), 10.0 ** (OVER_DB / 10.0)
    before = -1 - ENVELOPE * np.arange(max(1, int(round(DECAY_S * sr / ENVELOPE))))
    kept: list[int] = []
    for i in order.tolist():
        if kept:
            p = int(starts[kept[-1]])
            s = int(starts[i])
            gap = (s - p) % n
            if gap < refract:
                since = (p + np.arange(gap + 1)) % n
                ahead = (s + np.arange(look)) % n
                decay = (s + before[:max(1, gap // ENVELOPE)]) % n  # 1 ms powers, p..s
                # Louder than anything since that hit (raw or high-passed), or, high-passed,
                # rising over its decay (a hat while a kick or a snare rings).
                new = any(e[ahead].max() >= ratio * e[since].max() for e in power)
                e = power[1]
                top, level = e[since].max(), e[decay].mean()
                new = new or (level <= decayed * top and e[ahead].max() >= over * level)
                if not new:
                    continue
        kept.append(i)
    kept_arr = np.sort(np.asarray(kept, dtype=np.int64))
    return starts[kept_arr].astype(np.int64), hits[kept_arr].astype(np.int64)


def _box(v: np.ndarray, k: int) -> np.ndarray:
    """Mean of v over the k samples up to and including each sample (the loop wraps)."""
    c = np.cumsum(np.concatenate([v[-k:], v]))
    return (c[k:] - c[:-k]) / k


def _shift(v: np.ndarray, k: int) -> np.ndarray:
    """v delayed by k samples round the loop: out[t] = v[t - k]."""
    return np.concatenate([v[-k:], v[:-k]]) if k else v


def _rise(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At every sample: (power of v in the last ENVELOPE samples over the power in the PAST
    samples before those, that power), the loop wrapping; a power floor FLOOR_DB under the
    loudest ENVELOPE keeps silence at a ratio of 1."""
    lead = ENVELOPE + PAST
    c = np.cumsum(np.concatenate([v[-lead:], v]) ** 2)
    now = (c[lead:] - c[lead - ENVELOPE:-ENVELOPE]) / ENVELOPE
    past = (c[lead - ENVELOPE:-ENVELOPE] - c[:-lead]) / PAST
    floor = float(np.max(now)) * 10.0 ** (FLOOR_DB / 10.0)
    return (now + floor) / (past + floor), now


def _max_filter(r: np.ndarray, k: int) -> np.ndarray:
    """Largest value of r within +-k samples of each sample (the loop wraps)."""
    if k <= 0:
        return r
    out = np.concatenate([r[-k:], r, r[:k]])
    w = 1                                   # out[i] is the max of the padded r[i .. i + w - 1]
    while w < 2 * k + 1:
        step = min(w, 2 * k + 1 - w)
        out = np.maximum(out[:-step], out[step:])
        w += step
    return out
