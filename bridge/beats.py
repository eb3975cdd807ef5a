"""Beats mode: one bar cut at its hits and laid out again at the host tempo, each slice at its own
speed, with no holes and the bar's loudness kept.

    starts, hits, *weak = detect_hits_near(x, sr, sixteenths)     # bridge/onsets.py
    cuts, anchors = slice_points(starts, B, beats, sr, hits, steps=4, weak=tuple(weak),
                                 cluster_s=DETECTED_CLUSTER_S)
    loop = beats_bar(x, sr, cuts, anchors, host_samples)           # (C, host_samples) at sr

x is the prepared loop bar (C, B) at the model rate sr; host_samples is one bar at the host
tempo in samples of sr. The caller resamples the result once to the output rate, so no filter
ever sees a cut.

1. Slices. Each hit's slice starts EARLY_S before its attack (so no part of the attack is left
   in the slice before) and is anchored at its hit, the sample that must land on the host grid
   (its source time x host_samples / B). Hits closer than CLUSTER_S (detected ones:
   DETECTED_CLUSTER_S) are one slice anchored at their middle. Every beat with no hit near it
   gets a cut too, and so does every sixteenth of the source bar with no detected hit near
   it (at a weak hit just before it, if the detector found one there with a lower threshold):
   a hit the detector missed is most likely near one, and then lands near its grid time.
2. Each slice plays at its own speed, so its hit keeps its pitch and attack. Its first ATTACK_S
   (less for a short slice) is played as it is; the rest, its body, is stretched (slower tempo)
   or squeezed (faster) to its slot by overlap-adding 20 ms grains of it: the pitch stays, the
   slice rings on instead of leaving a hole, and the next slice starts exactly on its time.
   Grain crossfades keep the power whatever the grains' correlation; the slice fades out under
   the next slice's 3 ms lead-in.
3. Loudness. Keeping the attacks and stretching the bodies changes how much of the bar is
   attack, and so its loudness after peak normalisation. First each slowed slice's body is
   raised (by up to SLICE_GAIN_DB, the slice never above the bar's peak, both read between the
   samples too) until the slice has over its slot the mean power it has in the source (every
   channel counted): a slowed hit rings on as loud as it was.
   Then one gain for all the bodies (within +-BODY_GAIN_DB, the smallest that does it) gives
   the bar the source's RMS over peak again, the peak read between the samples too, as the
   output rate shows it. The attacks are untouched. (One gain alone could not lift a bar
   whose loudest body sample would become its peak: the djembe loop of the corpus stayed
   0.7 dB quiet at 70 bpm.)
   Sped up, a slice loses the end of its decay, and a bar of short slices (hand drums) has
   too little body left for that gain: when it still plays DECAY_TOL_DB louder than its
   source, the sped-up attack parts from DECAY_FROM_S after their cuts on get a gain of their
   own, down only.

`BeatsOptions` chooses other ways to fill a slot, for measuring them against each other
(bench/render.py): fill="loop" repeats the end of the body, "gap" leaves silence (the old beats
mode), squeeze="cut" shortens a sped-up slice instead of squeezing it. The options travel as a
value (render(..., beats_options=BeatsOptions(...))), so nothing is switched by assigning
module names and renders on several threads do not interfere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

XFADE_S = 0.003        # lead-in of a slice, which crossfades with the end of the one before, s
LEAD_RAMP_S = 0.0015   # ... over its first this much when the bar is slowed down, then at full
                       # level (the source just before a cut may be an attack found late), s
ATTACK_S = 0.040       # start of a slice played as it is (a short one: all but BODY_MIN_S), s
GRAIN_S = 0.020        # grain of the overlap-add stretch, seconds (hop: half of it)
GRAIN_MIN_S = 0.001    # shortest grain; a shorter body is not stretched (the slice fades), s
BODY_MIN_S = 0.003     # a short slice stretches only its last this much, seconds
GUARD_S = 0.003        # the last part before the next cut (its lead-in) is never stretched, s
TAIL_S = 0.002         # how far a slice rings past its slot when sped up, seconds (a
                       # longer ring sums with the next attack: at 8 ms a djembe lost 1.2 dB)
PERIOD_S = (0.0015, 0.025)  # periods looked for in a pitched body (40..670 Hz), seconds
PERIOD_LOOK_S = 0.05   # how much of a body the period is measured on, seconds
PITCHED = 0.6          # a body is pitched when its autocorrelation reaches this at its period
BODY_GAIN_DB = 6.0     # the most the bodies' gain moves to keep the bar's loudness, dB
GAIN_TOL_DB = 0.05     # a loudness this close to the source's counts as kept, dB
PEAK_TOL_DB = 0.1      # ... and, read from the samples alone, is read again between them, dB
DECAY_TOL_DB = 0.1     # sped up, a bar still louder than its source by this after the bodies'
DECAY_FROM_S = 0.020   # ... gain gets a gain for its slices' attack parts from this long after
DECAY_FADE_S = 0.005   # ... their cuts (fading in over this much before), seconds
PEAK_OVER = 2          # peaks are looked for at this many points between two samples (the
                       # output rate, 3x the model's, shows two) ...
PEAK_TAPS = 16         # ... interpolated from this many samples on either side, next to the
PEAK_RISE = 2.0 ** 0.5  # samples within this factor of the peak (in 480 bars of the corpus
                       # the highest point lies next to a sample at most 2.3 dB under it)

EARLY_S = 0.0005       # a slice starts this long before its attack's first sample, seconds
CLUSTER_S = 0.005      # onsets closer than this to the first of a group are one slice, s
DETECTED_CLUSTER_S = 0.0075  # ... detected ones (a start this soon after another may be the
                             # rest of its attack, a snare's second burst: cut there, the
                             # attack's first ms would be stretched), s
STEPS_PER_BEAT = 4     # grid steps (sixteenths) that get a cut when no onset is near
STEP_BEFORE_S = 0.010  # a step is covered by an onset this long before it, seconds ...
STEP_AFTER_S = 0.004   # ... or this long after it
STEP_ANCHOR_S = 0.002  # an uncovered step's slice lands this long after its cut on the grid, s
WEAK_BEFORE_S = 0.006  # an uncovered step's cut is at a weak hit this long before it, s, ...
WEAK_AFTER_S = 0.001   # ... or this long after it, else on the step
WEAK_AFTER_HIT_S = 0.015  # a weak hit this soon after a detected one is a cut too (the span in
                          # which the detector takes a weaker hit for the rest of the one
                          # before, onsets.REFRACT_S), seconds
WEAK_BEFORE_HIT_S = (0.010, 0.020)  # ... and so is one that starts this long before a detected
                                    # hit (a flam's first stroke, a hat leading a clap), s
FILL = "stretch"       # slowed slice: "stretch" (the body), "loop" (its end) or "gap"
SQUEEZE = "stretch"    # sped-up slice: "stretch" (squeeze the body) or "cut" (ring TAIL_S)
SQUEEZE_FROM = 0.9     # ... but only cut while the slot is at least this share of the slice
KEEP_LOUDNESS = True   # one gain for the bodies keeps the bar's RMS over peak
DECAY_GAIN = True      # ... helped, sped up, by one for the decays (when the bodies cannot)
KEEP_TAILS = True      # ... and a gain down leaves the quiet parts of the loop as they are:
QUIET_DB = (-58.0, -45.0)  # it acts fully where the loop's 5 ms RMS is over the second (dB re
                           # its peak), not at all under the first, in proportion between ...
TAILS_FROM_DB = 1.0    # ... when the bodies' gain is down by this much or more, dB (less moves
                       # a tail by less than that: not worth finding the gain again, 1 ms)
SLICE_GAIN_DB = 12.0   # each slowed slice's body is first raised (by up to this, dB) to keep the
                       # slice's mean power over its slot; 0 turns it off
FILLS = ("stretch", "loop", "gap")
SQUEEZES = ("stretch", "cut")


@dataclass(frozen=True)
class BeatsOptions:
    """How beats mode fills a slot; the defaults are the renderer's (the constants above)."""
    fill: str = FILL                    # slowed slice: "stretch" (the body), "loop" or "gap"
    squeeze: str = SQUEEZE              # sped-up slice: "stretch" or "cut" (ring on TAIL_S)
    keep_loudness: bool = KEEP_LOUDNESS  # one gain for the bodies keeps the RMS over peak
    decay_gain: bool = DECAY_GAIN       # sped up, the decays get one too when needed
    keep_tails: bool = KEEP_TAILS       # a gain down spares the quiet parts (QUIET_DB)
    slice_gain_db: float = SLICE_GAIN_DB  # most a slowed body is raised first, dB (0: off)

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")
        if self.squeeze not in SQUEEZES:
            raise ValueError(f"squeeze must be one of {SQUEEZES}, got {self.squeeze!r}")
        if not 0.0 <= float(self.slice_gain_db) <= 60.0:
            raise ValueError(f"slice_gain_db must be in 0..60 dB, got {self.slice_gain_db!r}")


def grid_points(b: int, n: int) -> np.ndarray:
    """n evenly spaced source samples of a bar of b, from 0 (its beats, or its steps), int64."""
    return np.round(np.arange(n) * b / n).astype(np.int64)


def slice_points(onsets: np.ndarray, b: int, beats: int, sr: int,
                 hits: np.ndarray | None = None, *, steps: int = 0,
                 weak: tuple[np.ndarray, np.ndarray] | None = None,
                 cluster_s: float = CLUSTER_S) -> tuple[np.ndarray, np.ndarray]:
    """(cuts, anchors) in source samples: where the slices start (int64, sorted, in [0, b)) and
    the sample of each that lands on the host grid (float64, >= its cut, may pass b).

    onsets: where the attacks start (source samples); hits: where each lands on the grid (the
    onsets themselves when None). A slice starts EARLY_S before its onset. Onsets within
    cluster_s of the first of a group are one slice, cut at the first (an attack is never cut
    in two) and anchored at the middle of the group's hits, so of two hits a few ms apart (a
    kick and a hat played nearly together) neither is off its grid time by more than half the
    group's span x (stretch - 1). A beat with no onset within half a sixteenth gets a cut, so a
    sustained sound is still anchored to the grid.

    steps: grid steps a beat (4: sixteenths) that get a cut of their own when no onset is near
    (`step_points`: a hit the detector missed is most likely on one); weak: (starts, hits) the
    detector found only with smaller rises near the steps (`onsets.detect_hits_near`), used
    for those cuts. 0 (the default) for onsets that are all the hits there are.
    cluster_s: CLUSTER_S, or DETECTED_CLUSTER_S for detected onsets."""
    onsets = np.mod(np.asarray(onsets, dtype=np.int64), b)
    hits = onsets if hits is None else np.mod(np.asarray(hits, dtype=np.int64), b)
    if steps > 0:
        s_on, s_hit = step_points(onsets, b, beats * steps, sr, weak)
        onsets, hits = np.concatenate([onsets, s_on]), np.concatenate([hits, s_hit])
    lead = (hits - onsets) % b
    early = int(round(EARLY_S * sr))
    hits = onsets + np.where(lead <= int(round(cluster_s * sr)), lead, 0)
    onsets = np.mod(onsets - early, b)                       # hits now `lead + early` after
    onsets, first = np.unique(onsets, return_index=True)
    hits = hits[first]
    grid = grid_points(b, beats)
    tol = b / beats / 8.0
    if onsets.size:
        d = np.abs(grid[:, None] - onsets[None, :])
        d = np.minimum(d, b - d).min(axis=1)
        grid = grid[d > tol]
    points = np.concatenate([onsets, grid])
    lead_of = dict(zip(points.tolist(),
                       np.concatenate([(hits - onsets) % b, np.zeros_like(grid)]).tolist()))
    points = np.unique(points)
    span = int(round(cluster_s * sr))
    # Group from the first point after the widest gap, so a group never straddles the wrap.
    gaps = np.diff(np.append(points, points[0] + b))
    start = (int(np.argmax(gaps)) + 1) % points.size
    order = np.roll(points, -start)
    order = np.where(np.arange(order.size) >= order.size - start, order + b, order) \
        if start else order

    def hit(p: int) -> int:
        return p + lead_of[p % b]

    cuts, anchors = [], []
    first = int(order[0])
    lo = hi = hit(first)
    for p in order[1:].tolist():
        if p - first < span:
            lo, hi = min(lo, hit(p)), max(hi, hit(p))
            continue
        cuts.append(first)
        anchors.append(0.5 * (lo + hi))
        first = p
        lo = hi = hit(p)
    cuts.append(first)
    anchors.append(0.5 * (lo + hi))
    cuts, anchors = np.asarray(cuts, dtype=np.int64), np.asarray(anchors, dtype=np.float64)
    anchors -= cuts - cuts % b
    cuts, k = np.unique(cuts % b, return_index=True)        # (a bar of a few samples repeats)
    return cuts, anchors[k]


def step_points(onsets: np.ndarray, b: int, steps: int, sr: int,
                weak: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(onsets, hits) to add: for the grid steps (`steps` a bar) that no onset covers, and the
    weak hits that start less than WEAK_AFTER_HIT_S after an onset.

    A step is covered when an onset starts STEP_BEFORE_S before it to STEP_AFTER_S after it:
    a hit on the step is then in that onset's slice, near its anchor. Humans play off the
    grid by a few ms, and the hits a detector misses (a hat pedal under a ringing crash, a
    soft tom while a loud one rings) are as likely on a step as any, so an uncovered step
    gets a slice of its own: a hit within a few ms of the step then lands within a few ms x
    (stretch - 1) of its grid time instead of the distance from the slice before. Where a
    weak hit starts from WEAK_BEFORE_S before the step to WEAK_AFTER_S after it, the slice
    starts there (the nearest; a cut on the step would split its attack) and lands halfway
    between that weak hit and STEP_ANCHOR_S after the step (a weak hit may be cymbal noise,
    and the hit the slice is for on the step: seed 0's hat pedal under the crash, 4.5 -> 2.4
    ms off at 70 bpm); otherwise the slice starts on the step itself, landing on the grid
    STEP_ANCHOR_S after it (the hit returned for it), since the hit it is for starts after
    the cut. A cut where no hit is costs little: it lies in a decay, under a crossfade.

    A weak hit that starts less than WEAK_AFTER_HIT_S after an onset is one the strict
    detector took for the rest of that onset's attack (a hat 4 ms after a kick, a snare 12 ms
    after a hat). Closer than the groups' span (slice_points' cluster_s), it joins the onset's
    group, which is anchored between the two: neither is off by more than half their distance
    x (stretch - 1), and if the weak hit is no hit at all, the real one is not off by more
    than that either. Later, it starts a slice of its own: the onset's slice keeps its first
    few ms as they are, and if the weak hit is no hit, the cut lies in a decay.

    A weak hit that starts 10-20 ms (WEAK_BEFORE_HIT_S) before an onset starts a slice too: a
    hat leading a clap, a flam's soft first stroke, which the onset's sixteenth covers, so no
    step cut is made for it; without a cut it plays inside the body of the slice before, which
    is stretched. Closer than 10 ms, a weak start before a hit is as often the hit's own first
    rise (0-20 ms put 5.8 % of seed 0's hits over 3 ms at 70 bpm, against 5.0 %)."""
    onsets = np.mod(np.asarray(onsets, dtype=np.int64), b)
    g = np.unique(grid_points(b, steps) % b)
    if onsets.size:
        d = (g[:, None] - onsets[None, :]) % b                   # from each onset to each step
        covered = np.any((d <= STEP_BEFORE_S * sr) | (b - d <= STEP_AFTER_S * sr), axis=1)
        g = g[~covered]
    # A hit the slice is for starts after its cut (one before it is in the slice before), so
    # the slice lands not at its cut but a little after, between the cut and where such a hit
    # may be: one 4 ms after the step lands 2 ms x (stretch - 1) off, not 4. (Corpus seeds
    # 0-3 at 70 bpm, hits over 3 ms: 7.2 % with 0 ms, 7.0 % with 1, 6.5 % with 1.5, 6.1 % with
    # 2, 6.5 % with 2.5, 6.7 % with 3 ms, which also misses more at 128 and 174 bpm.)
    out_on, out_hit = g.copy(), g + int(round(STEP_ANCHOR_S * sr))
    if weak is None or len(weak[0]) == 0:
        return out_on, out_hit
    ws = np.mod(np.asarray(weak[0], dtype=np.int64), b)
    wh = np.mod(np.asarray(weak[1], dtype=np.int64), b)
    if g.size:
        d = (ws[None, :] - g[:, None] + b // 2) % b - b // 2     # (G, W) weak start - step
        ok = (d >= -WEAK_BEFORE_S * sr) & (d <= WEAK_AFTER_S * sr)
        j = np.argmin(np.where(ok, np.abs(d), b), axis=1)        # the nearest allowed
        use = ok[np.arange(g.size), j]
        # The weak look also takes cymbal noise and the rests of attacks for hits, so the hit
        # this slice is for may be the weak one or one on the step: it lands halfway between
        # the weak hit and where the step's own slice would, and either is off by at most
        # half their distance x (stretch - 1).
        w = wh[j[use]]
        out_on[use] = ws[j[use]]
        out_hit[use] = (w + ((out_hit[use] - w + b // 2) % b - b // 2) // 2) % b
    if onsets.size:
        d = (ws[:, None] - onsets[None, :]) % b                  # (W, H) onset -> weak start
        lo, hi = (v * sr for v in WEAK_BEFORE_HIT_S)
        near = np.any((d > 0) & (d < WEAK_AFTER_HIT_S * sr)      # just after an onset, or
                      | (d > b - hi) & (d < b - lo), axis=1)      # (lo, hi) before one
        out_on, out_hit = np.append(out_on, ws[near]), np.append(out_hit, wh[near])
    return out_on, out_hit


def beats_bar(x: np.ndarray, sr: int, cuts: np.ndarray, anchors: np.ndarray, host_samples: int,
              options: BeatsOptions | None = None) -> np.ndarray:
    """(C, B) loop bar -> (C, host_samples) float32: the slices between cuts laid out at the host
    tempo, each placed so that its anchor lands on the host grid (see `slice_points`). The
    result is a loop (what runs past its end is folded onto its start). options: how slots are
    filled (None: the defaults)."""
    opt = BeatsOptions() if options is None else options
    fill, squeeze, keep_loudness = opt.fill, opt.squeeze, opt.keep_loudness
    c, b = x.shape
    cuts = np.asarray(cuts, dtype=np.int64)
    assert cuts.size >= 1 and np.all(np.diff(cuts) > 0) and 0 <= cuts[0] and cuts[-1] < b, \
        f"expected sorted cuts in 0..{b - 1}, got {cuts}"
    xf, ramp = _lead(sr, host_samples, b)
    lead_in = _lead_in(xf, ramp)
    tail = int(round(TAIL_S * sr))
    pos = _slice_starts(cuts, anchors, host_samples, b)
    shift = int(min(0, pos[0]))
    pos -= shift                                            # the first slice starts at >= 0
    ends = np.append(cuts[1:], cuts[0] + b)
    # The loop with context before and after, so any slice reads it without wrapping.
    ext = x[:, np.arange(-xf - 1, 2 * b + xf + tail + 2) % b]
    off = xf + 1                                            # ext index of source sample 0
    margin = xf + 1
    acc = np.zeros((2, c, 2 * margin + int(pos[-1]) + tail + xf), dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    peak_between = _peak(x)                                 # as the output rate shows it
    sped_up = []                                            # (where, attack part) of each
    for i, (o, e) in enumerate(zip(cuts.tolist(), ends.tolist())):
        slot = max(1, int(pos[i + 1] - pos[i]))
        att, body = _slice(ext, off + o, e - o, slot, sr, lead_in, fill, squeeze)
        if keep_loudness and opt.slice_gain_db > 0 and slot > e - o:
            body = body * np.float32(_slice_gain(att, body, ext[:, off + o:off + e], xf, slot,
                                                 peak_between, opt.slice_gain_db))
        at = margin + int(pos[i]) - xf
        acc[0, :, at:at + att.shape[1]] += att
        acc[1, :, at:at + body.shape[1]] += body
        if slot < e - o:
            sped_up.append((at, att))
    a, bd = _fold(acc[0], margin - shift, host_samples), _fold(acc[1], margin - shift, host_samples)
    if not keep_loudness:
        return a + bd
    power = float(np.mean(np.square(x, dtype=np.float64)))
    crest, crest_samples = (power / p ** 2 if p > 0.0 else 0.0 for p in (peak_between, peak))
    g, crest_y = _body_gain(a, bd, crest, crest_samples)
    if g <= 10.0 ** (-TAILS_FROM_DB / 20.0) and opt.keep_tails:
        # The loudness is the loud parts': turned down, the bodies' quiet ends keep their level
        # instead of sinking under the silence they were just above (corpus seed 4's break
        # at 174 bpm: 3.2 % of the loop under -60 dB that was not).
        keep = (1.0 - _loud(a + bd, sr)) * bd
        g, crest_y = _body_gain(a + keep, bd - keep, crest, crest_samples, up=False)
        a, bd = a + keep, bd - keep
    y = a + np.float32(g) * bd
    # Sped up, a slice loses the end of its decay and the bar gets denser and louder; when
    # the bodies alone cannot bring it back (too little of them left), the early decays of
    # the sped-up hits take part too: one more gain, down only, for their attack parts from
    # DECAY_FROM_S on (a hit's start stays as it is).
    if opt.decay_gain and sped_up and crest_y > crest * 10.0 ** (DECAY_TOL_DB / 10.0):
        dc = _fold(_decays(sped_up, acc.shape[1:], xf, sr), margin - shift, host_samples)
        if opt.keep_tails:
            dc = dc * _loud(y, sr)
        y = y + np.float32(_body_gain(y - dc, dc, crest, crest_samples, up=False)[0] - 1.0) * dc
    return y


def _loud(z: np.ndarray, sr: int) -> np.ndarray:
    """(1, n) float32: how much of a gain down acts at each sample of z (C, n), 0..1, from the
    RMS of z's 5 ms frames in dB re its peak sample (QUIET_DB), interpolated between frames."""
    n = z.shape[-1]
    f = max(1, int(round(0.005 * sr)))
    k = -(-n // f)
    p = np.zeros(k * f)
    p[:n] = np.mean(np.square(z, dtype=np.float64), axis=0)
    peak = float(np.max(np.abs(z)))
    if peak == 0.0:
        return np.zeros((1, n), dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(p.reshape(k, f).mean(axis=1), 1e-30) / peak ** 2)
    lo, hi = QUIET_DB
    w = np.clip((db - lo) / (hi - lo), 0.0, 1.0)
    return np.interp(np.arange(n), np.arange(k) * f + 0.5 * f, w).astype(np.float32)[None, :]


def _decays(parts: list, shape: tuple, xf: int, sr: int) -> np.ndarray:
    """The attack parts `parts` ((where, part) in a buffer of `shape`) from DECAY_FROM_S after
    their cuts on (their lead-in first), faded in over the DECAY_FADE_S before."""
    out = np.zeros(shape, dtype=np.float32)
    start = xf + int(round(DECAY_FROM_S * sr))
    f = max(1, min(start, int(round(DECAY_FADE_S * sr))))
    start -= f
    longest = max(p.shape[1] for _, p in parts)
    ramp = np.concatenate([_fade_in(f), np.ones(max(0, longest - start - f), dtype=np.float32)])
    for at, part in parts:
        n = part.shape[1] - start
        if n > 0:
            out[:, at + start:at + part.shape[1]] += part[:, start:] * ramp[:n]
    return out


def _slice_gain(att: np.ndarray, body: np.ndarray, natural: np.ndarray, xf: int, slot: int,
                peak: float, most_db: float) -> float:
    """The gain (up to most_db) for a slowed slice's body at which the slice has over its
    slot the mean power it has in the source over its own length, the slice (attack part and
    body together) staying under the bar's peak (`peak`: read between the samples too, as
    `_peak` reads it): a slowed hit rings on at the loudness it had, not quieter. Under 1 only
    where the body as stretched would pass the peak. att, body: the slice as `_slice` makes
    it; natural: its source samples (C, cut to next cut)."""
    top = float(np.max(np.abs(body)))
    if top <= 0.0:
        return 1.0
    # Energy over the slot, every channel: as the sums below count it.
    want = float(np.sum(np.square(natural, dtype=np.float64))) / natural.shape[1] * slot
    a = att[:, xf:xf + slot].astype(np.float64)
    bd = body[:, xf:xf + slot].astype(np.float64)
    aa, ab, bb = float(np.sum(a * a)), float(np.sum(a * bd)), float(np.sum(bd * bd))
    disc = ab * ab - bb * (aa - want)
    g = (-ab + np.sqrt(disc)) / bb if bb > 0.0 and want > 0.0 and disc > 0.0 else 1.0
    if g <= 1.0:
        # No raise wanted, but grains that add up can take a short body over the peak (corpus
        # seed 69's djembe at 70 bpm: a 3 ms body stretched to 1.23 x the peak, and the one
        # gain for all the bodies then came down 2 dB): that body alone is turned down.
        at_one = _bound(att.ravel(), body.ravel(), 1.0, peak)
        return 1.0 if at_one >= 1.0 else _under_peak(att, body, at_one, peak)
    # Only the gain wanted is checked against the peak: the slice needs no more.
    return _under_peak(att, body, min(g, 10.0 ** (most_db / 20.0), peak / top), peak)


def _under_peak(att: np.ndarray, body: np.ndarray, hi: float, peak: float) -> float:
    """The largest gain in 0..hi at which the slice as heard, att + g body, stays within
    `peak`, read at its samples and between them (as `_peak` reads a loop).

    Where the body fades in under the end of the attack part, the two add up (corpus seed 23's
    djembe at 70 bpm: 1.1 x the peak); and between the samples a sharp slice rises further
    than at them (seed 17's rock loop at 70 bpm: a short slice's body raised to the bar's peak
    at its samples read 1.097 x it between them, and the bodies' gain had to come down 0.8 dB,
    so the loop lost 0.5 dB). att + g body is linear in g at every point, so each point that
    reaches the peak bounds g: first the samples, then the points between the samples that
    come close to the peak at that gain (no other can pass it)."""
    hi = _bound(att.ravel(), body.ravel(), hi, peak)
    # The attack part alone is the source, within the peak, so the gains that keep a point
    # within it run from 0 to a bound: the points are read at hi, and apart only when one
    # passes the peak there.
    z = att + np.float32(hi) * body
    near = np.abs(z).max(axis=0) * PEAK_RISE >= peak
    if not np.any(near):
        return hi
    idx = _near(near)
    if np.max(np.abs(_between(z, idx))) <= peak:
        return hi
    return _bound(_between(att, idx).ravel(), _between(body, idx).ravel(), hi, peak)


def _bound(a: np.ndarray, b: np.ndarray, hi: float, peak: float) -> float:
    """The largest g in 0..hi with |a + g b| <= peak at every point where |a| <= peak (where
    the attack part alone passes it, between the samples at a cut, no gain of the body helps)."""
    ok = np.abs(a) <= peak
    a, b = a[ok], b[ok]
    if not a.size or np.max(np.abs(a + np.float32(hi) * b)) <= peak:
        return hi
    on = b != 0.0
    s = np.sign(b[on])
    return min(hi, max(0.0, float(np.min((peak - a[on] * s) / (b[on] * s)))))


def _crest(z: np.ndarray) -> float:
    """Mean power over squared peak (0 for silence), the peak taken between the samples too
    (`_peak`)."""
    peak = _peak(z)
    return float(np.mean(np.square(z, dtype=np.float64))) / peak ** 2 if peak > 0.0 else 0.0


def _peak(z: np.ndarray) -> float:
    """The largest |z| of the band-limited loop z (C, N), between its samples too: what the
    output rate (3x the model's) shows after resampling, where a sharp attack's peak can lie
    0.77 dB over its largest sample (the source of corpus seed 7's break)."""
    m = np.abs(z).max(axis=0) if z.size else np.zeros(0)
    top = float(m.max()) if m.size else 0.0
    if top == 0.0:
        return 0.0
    return max(top, float(np.abs(_between(z, _near(m * PEAK_RISE >= top))).max()))


def _near(mask: np.ndarray) -> np.ndarray:
    """The sample intervals (by their first sample) that touch a sample where mask is true:
    the one before it and the one after (the loop wraps), sorted."""
    i = np.flatnonzero(mask)
    return np.unique(np.concatenate([i - 1, i]) % mask.size)


def _between(z: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(C, len(idx), PEAK_OVER) float64: the loop z (C, N) at PEAK_OVER points evenly inside
    the interval from each sample of idx to the next, by windowed-sinc interpolation."""
    k, w = _SINC
    seg = z[:, (idx[:, None] + k[None, :]) % z.shape[-1]].astype(np.float64)   # (C, I, K)
    return seg @ w.T


def _sinc_table(over: int, taps: int) -> tuple[np.ndarray, np.ndarray]:
    """(tap offsets (K,), weights (over, K)) of a Hann-windowed sinc that interpolates a
    band-limited signal at `over` points evenly inside (0, 1) after a sample."""
    at = np.arange(1, over + 1) / (over + 1)
    k = np.arange(-taps + 1, taps + 1)
    t = at[:, None] - k[None, :]
    return k, np.sinc(t) * (0.5 + 0.5 * np.cos(np.pi * t / (taps + 0.5)))


_SINC = _sinc_table(PEAK_OVER, PEAK_TAPS)   # a constant: computed once, never changed


def _body_gain(a: np.ndarray, bd: np.ndarray, crest: float, crest_samples: float | None = None,
               up: bool = True) -> tuple[float, float]:
    """(g, the crest of a + g bd): the gain g (within +-BODY_GAIN_DB; up=False:
    -BODY_GAIN_DB..0) for the bodies at which a + g bd has the given mean power over squared
    peak, i.e. the loudness the loop has after peak normalisation, its peak taken between the
    samples too (`_peak`: the output rate shows it).

    The power is a quadratic in g. The peak, for any g in range, is at one of the samples that
    reach the lowest g's peak at some g (no other can be loudest), usually a handful. g is
    first found from the samples alone (to crest_samples, the source's crest read from its
    samples, when given), and found again with the peaks between them (slower) only when those
    put its crest off by more than PEAK_TOL_DB."""
    if crest <= 0.0 or not np.any(bd):
        return 1.0, _crest(a + bd)
    g = 10.0 ** (np.linspace(-BODY_GAIN_DB, BODY_GAIN_DB if up else 0.0, 121 if up else 61)
                 / 20.0)                                                      # (G,)
    af, bf = a.ravel(), bd.ravel()
    aa, ab, bb = (float(np.dot(af, af)), float(np.dot(af, bf)), float(np.dot(bf, bf)))
    power = (aa + 2.0 * g * ab + g * g * bb) / af.size
    reach = np.abs(af) + np.float32(g[-1]) * np.abs(bf)         # the most each sample reaches
    cand = np.flatnonzero(reach >= np.max(np.abs(af + np.float32(g[0]) * bf)))
    peak = np.max(np.abs(af[cand][None, :].astype(np.float64) + g[:, None] * bf[cand][None, :]),
                  axis=1)
    i = _pick(power, peak, crest if crest_samples is None else crest_samples, g)
    got = power[i] / max(peak[i], _peak(a + np.float32(g[i]) * bd)) ** 2
    if abs(10.0 * math.log10(got / crest)) > PEAK_TOL_DB:
        peak = _peaks_between(a, bd, g, reach, peak)
        i = _pick(power, peak, crest, g)
        got = power[i] / peak[i] ** 2
    return float(g[i]), float(got)


def _pick(power: np.ndarray, peak: np.ndarray, crest: float, g: np.ndarray) -> int:
    """Of the gains g (with these powers and peaks), the nearest to 0 dB whose crest is within
    GAIN_TOL_DB of `crest`, else the closest to it: a larger change may make a body the bar's
    peak and so quieten everything else (corpus seed 4's rock loop at 174 bpm: +4.1 dB on its
    bodies for the same loudness as -2.1 dB). For the same reason a bar too loud at 0 dB gets
    no gain over it: raised bodies would quieten it only by becoming its peak (corpus seed
    109's djembe at 174 bpm: +6 dB, its decays' tails swelling 5 dB over the source's, and
    still 0.48 dB loud)."""
    err = np.log(np.maximum(power, 1e-300) / np.maximum(peak, 1e-300) ** 2 / crest)
    tol = GAIN_TOL_DB * math.log(10.0) / 10.0
    if err[int(np.argmin(np.abs(np.log(g))))] > tol:
        err = np.where(g > 1.0, np.inf, err)
    err = np.abs(err)
    ok = err <= tol
    return int(np.argmin(np.where(ok, np.abs(np.log(g)), np.inf) if np.any(ok) else err))


def _ends(u: np.ndarray, v: np.ndarray, g: np.ndarray) -> np.ndarray:
    """max over the gains g of |u + g v|: |u + g v| is convex in g, so its largest is at one
    end of the range (a point that does not reach a peak there reaches it nowhere)."""
    lo, hi = (u.dtype.type(e) for e in (g[0], g[-1]))
    return np.maximum(np.abs(u + lo * v), np.abs(u + hi * v))


def _peaks_between(a: np.ndarray, bd: np.ndarray, g: np.ndarray, reach: np.ndarray,
                   peak: np.ndarray) -> np.ndarray:
    """The peaks (G,) of a + g bd between its samples too, from its sample peaks `peak` and
    the most each sample reaches at any of the gains, `reach` (raveled, at least its `_ends`).
    Between two samples the peak rises at most PEAK_RISE over them, so it can only lie next to
    a sample that comes that close to the peak at some gain (looked at every 1 dB of gain, with
    1 dB to spare)."""
    af, bf = a.ravel(), bd.ravel()
    near = np.flatnonzero(reach * np.float32(PEAK_RISE) >= peak.min())
    coarse = np.abs(af[near][None, :] + g[::10, None] * bf[near][None, :])
    near = near[np.any(coarse * (PEAK_RISE * 10.0 ** (1.0 / 20.0)) >= peak[::10, None], axis=0)]
    close = np.zeros(a.shape[-1], dtype=bool)
    close[near % a.shape[-1]] = True
    at_a, at_b = (_between(z, _near(close)).ravel() for z in (a, bd))
    over = _ends(at_a, at_b, g) > peak.min()
    if not np.any(over):
        return peak
    at_a, at_b = at_a[over], at_b[over]
    return np.maximum(peak, np.max(np.abs(at_a[None, :] + g[:, None] * at_b[None, :]), axis=1))


def _slice(ext: np.ndarray, start: int, natural: int, slot: int, sr: int, lead_in: np.ndarray,
           fill: str, squeeze: str) -> tuple[np.ndarray, np.ndarray]:
    """One slice as placed, split into its attack and its body (the two add up to the slice):
    a lead-in (its gain over its samples: `lead_in`, see _lead_in), then `slot` samples that
    begin with the hit; the end fades out under the next slice's lead-in (or rings on for TAIL_S
    when sped up).

    ext[:, start] is the cut; natural = source samples to the next cut; slot = host samples to
    where the next slice starts."""
    xf = lead_in.shape[0]
    c = ext.shape[0]
    attack, guard, g, stretch = _plan(natural, slot, sr, fill, squeeze)
    body_len = natural - guard - attack                       # body: [attack, natural - guard)
    if not stretch:
        # As it is: up to the slot (sped up: ring on for TAIL_S, never past the next cut), or up
        # to the next cut (slowed down, nothing to stretch: fade out there).
        end, f = _as_is_end(natural, slot, sr, xf)
        seg = ext[:, start - xf:start + end].copy()
        seg[:, -f:] *= _fade_in(f)[::-1]
        seg[:, :xf] *= lead_in
        split = np.zeros(seg.shape[1], dtype=np.float32)       # 0 in the attack, 1 in the body
        if xf + attack < seg.shape[1]:
            h = max(1, min(int(round(0.5 * GRAIN_S * sr)), attack))
            split[xf + attack:] = 1.0
            split[xf + attack - h:xf + attack] = _fade_in(h)
        return seg * (1.0 - split), seg * split
    h = g // 2
    total = xf + slot
    att = np.zeros((c, total), dtype=np.float32)
    # Lead-in and attack as they are, fading out over grain 0's fade-in: grain 0 reads the same
    # samples there, so the two add back to the signal.
    att[:, :xf + attack] = ext[:, start - xf:start + attack]
    att[:, :xf] *= lead_in
    att[:, xf + attack - h:xf + attack] *= _fade_in(h)[::-1]
    # Grains every h samples from slice time attack - h; their read positions spread the slot's
    # [attack, slot) over the body [attack, natural - guard) ("stretch"), or follow the slice
    # and then cycle over the body's last 50 ms ("loop").
    k_n = int(math.ceil((slot - attack + h) / h)) + 1
    syn = attack - h + h * np.arange(k_n)
    last = natural - guard - g                                 # last read start
    if fill == "loop" and slot > natural:
        loop_len = max(g, min(body_len, int(round(0.050 * sr))))
        first = natural - guard - loop_len
        ana = syn.copy()
        over = ana > last
        ana[over] = first + (ana[over] - first) % max(1, loop_len - g + 1)
    else:
        ana = attack - h + np.round((syn - (attack - h)) * (last - (attack - h))
                                    / max(1, slot - h - g - (attack - h) + h))
        ana = np.minimum(ana, last)
        # A pitched body (a tone, a tom, a kick's boom): read each grain a whole number of
        # periods from where the slice would be at that moment, so grains join in phase.
        period = _period(ext[:, start + attack:start + natural - guard], sr)
        if period:
            lo_a, hi_a = attack - h, last
            ana = syn + np.round((ana - syn) / period) * period
            ana = np.where(ana > hi_a, ana - period * np.ceil((ana - hi_a) / period), ana)
            ana = np.where(ana < lo_a, ana + period * np.ceil((lo_a - ana) / period), ana)
            ana = np.clip(np.round(ana), lo_a, hi_a)
    ana = np.maximum(ana, attack - h).astype(np.int64)
    grains = ext[:, (start + ana)[:, None] + np.arange(g)[None, :]]          # (C, K, g)
    # Crossfades that keep the power: grain k + 1 fades in as f while grain k fades out as
    # w, with w^2 + f^2 + 2 rho w f = 1 for the correlation rho of the two where they overlap
    # (rho = 1: w = 1 - f, the plain crossfade of equal content; rho = 0: w^2 + f^2 = 1).
    tail_k, head_k = grains[:, :-1, h:], grains[:, 1:, :h]
    num = np.einsum("ckn,ckn->k", tail_k, head_k)
    den = np.sqrt(np.einsum("ckn,ckn->k", tail_k, tail_k) * np.einsum("ckn,ckn->k", head_k, head_k))
    rho = np.clip(np.divide(num, den, out=np.ones_like(num), where=den > 0), 0.0, 1.0)
    f = _fade_in(h)[None, :]                                  # (1, h)
    w_out = -rho[:, None] * f + np.sqrt(np.maximum(rho[:, None] ** 2 * f * f - f * f + 1.0, 0.0))
    win = np.ones((k_n, g), dtype=np.float32)
    win[1:, :h] = f
    win[0, :h] = _fade_in(h)                                  # against the attack: same content
    win[:-1, h:] = w_out
    grains = grains * win
    ola = np.zeros((c, (k_n + 1) * h), dtype=np.float32)
    even = grains[:, 0::2].reshape(c, -1)
    odd = grains[:, 1::2].reshape(c, -1)
    ola[:, :even.shape[1]] += even
    ola[:, h:h + odd.shape[1]] += odd
    body = np.zeros((c, total), dtype=np.float32)
    a0 = xf + attack - h                                       # grain 0 in slice samples
    n = min(total - a0, ola.shape[1])
    body[:, a0:a0 + n] = ola[:, :n]
    body[:, total - xf:] *= 1.0 - lead_in                      # under the next slice's lead-in
    return att, body


def _plan(natural: int, slot: int, sr: int, fill: str, squeeze: str
          ) -> tuple[int, int, int, bool]:
    """(attack, guard, grain, stretch) of a slice `natural` source samples long in a slot of
    `slot`: its attack part and guard (_attack_guard), the grain its body is stretched with,
    and whether it is (else it plays as it is, see _as_is_end)."""
    attack, guard = _attack_guard(natural, sr)
    g = min(int(round(GRAIN_S * sr)), natural - guard - attack) // 2 * 2
    stretch = (fill != "gap" if slot > natural
               else squeeze == "stretch" and slot < SQUEEZE_FROM * natural)
    stretch = stretch and g >= max(2, int(round(GRAIN_MIN_S * sr))) and slot >= attack + g
    return attack, guard, g, stretch


def _as_is_end(natural: int, slot: int, sr: int, xf: int) -> tuple[int, int]:
    """(end, fade) of a slice that is not stretched: it plays its first `end` samples as they
    are, the last `fade` of them fading out (under the next slice's lead-in, sped up: after
    ringing on for TAIL_S)."""
    end = min(natural, slot + int(round(TAIL_S * sr)))
    return end, xf + (end - slot) if end > slot else min(xf, end)


def _attack_guard(natural: int, sr: int) -> tuple[int, int]:
    """(attack, guard) of a slice `natural` samples long: how much of its start is played as it
    is, and how much of its end is never stretched. A short slice (a flam's first stroke) keeps
    all but its last BODY_MIN_S as it is."""
    guard = min(int(round(GUARD_S * sr)), natural // 4)
    attack = min(int(round(ATTACK_S * sr)),
                 max(natural // 2, natural - guard - int(round(BODY_MIN_S * sr))))
    return attack, guard


def as_is_shift(t: np.ndarray, cuts: np.ndarray, anchors: np.ndarray, b: int, host_samples: int,
                sr: int, options: BeatsOptions | None = None) -> np.ndarray:
    """Where beats_bar puts source samples t (of a bar of b) against their host-grid time
    t * host_samples / b, in samples of sr (positive: late): (anchor - t) x (stretch - 1) for
    a sample in the part of its slice that is played as it is, alone; NaN elsewhere (a
    stretched or squeezed body, a crossfade), where this map claims no single place. The
    parts played as they are: a slice's attack part (its whole length up to its fade-out when
    its body is not stretched) and, slowed down, the last LEAD_RAMP_S-short of XFADE_S before
    its cut (its lead-in at full level, the slice before faded out). The renderer's own map of
    its slices, which an independent measurement of the audio
    (training/loop_figures.hit_displacement_ms) can be checked against."""
    opt = BeatsOptions() if options is None else options
    t = np.mod(np.asarray(t, dtype=np.int64), b)
    cuts = np.asarray(cuts, dtype=np.int64)
    pos = _slice_starts(cuts, anchors, host_samples, b)
    xf, ramp = _lead(sr, host_samples, b)
    natural = np.diff(np.append(cuts, cuts[0] + b))
    as_is = np.zeros(cuts.size, dtype=np.int64)      # per slice: samples from its cut on
    for i, (n, slot) in enumerate(zip(natural.tolist(), np.diff(pos).tolist())):
        attack, _, _, stretch = _plan(n, max(1, slot), sr, opt.fill, opt.squeeze)
        end, fade = _as_is_end(n, max(1, slot), sr, xf)
        as_is[i] = attack if stretch else end - fade
    lead = xf - ramp                                 # the lead-in's part at full level
    # The slice each sample is heard in: its own, or the next one when it is in that one's
    # lead-in at full level.
    i = np.searchsorted(cuts, t, side="right") - 1            # -1: before the first cut
    nxt = i + 1
    to_next = np.append(cuts, cuts[0] + b)[nxt] - t
    in_lead = to_next <= lead
    k = np.where(in_lead, nxt, i)
    # Slices -1 (the last, a bar earlier) to S (the first, a bar later), at k + 1:
    u = t - np.concatenate([[cuts[-1] - b], cuts, [cuts[0] + b]])[k + 1]   # < 0: in its lead-in
    start = np.append(pos[-2] - host_samples, pos)[k + 1]
    shift = start + u - t * (host_samples / b)
    heard = in_lead | (u < as_is[k % cuts.size])
    return np.where(heard, shift, np.nan)


def _slice_starts(cuts: np.ndarray, anchors: np.ndarray, host_samples: int, b: int
                  ) -> np.ndarray:
    """(S + 1,) int64: where each slice starts on the host bar (in samples of the source's rate,
    before beats_bar shifts them all to start at >= 0): its anchor on the host grid less the
    natural-speed distance from its cut to its anchor. The last entry is the first slice one
    bar later."""
    anchors = np.asarray(anchors, dtype=np.float64)
    pos = np.round(anchors * (host_samples / b) - (anchors - cuts)).astype(np.int64)
    return np.append(pos, pos[0] + host_samples)


def _period(body: np.ndarray, sr: int) -> float | None:
    """The body's period in samples (fractional) when it is clearly pitched (normalised
    autocorrelation >= PITCHED at a lag of PERIOD_S), else None."""
    v = body[:, :int(PERIOD_LOOK_S * sr)].sum(axis=0).astype(np.float64)
    n = v.size
    lo, hi = int(PERIOD_S[0] * sr), min(int(PERIOD_S[1] * sr), n // 2)
    if hi <= lo + 2:
        return None
    v -= v.mean()
    spec = np.fft.rfft(v, 1 << int(math.ceil(math.log2(2 * n))))
    ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2)[:hi + 2]
    if ac[0] <= 0.0:
        return None
    ac = ac / (ac[0] * (n - np.arange(ac.size)) / n)          # unbiased, 1 at lag 0
    k = lo + int(np.argmax(ac[lo:hi]))
    if ac[k] < PITCHED:
        return None
    den = ac[k - 1] - 2.0 * ac[k] + ac[k + 1]
    return float(k + (0.5 * (ac[k - 1] - ac[k + 1]) / den if den < 0 else 0.0))


def _lead(sr: int, host_samples: int, b: int) -> tuple[int, int]:
    """(length, rise) of every slice's lead-in, in samples: XFADE_S long, rising over all of it
    when the bar is sped up or kept, over LEAD_RAMP_S when it is slowed down (_lead_in)."""
    xf = max(1, int(round(XFADE_S * sr)))
    return xf, max(1, min(xf, int(round(LEAD_RAMP_S * sr)))) if host_samples > b else xf


def _lead_in(n: int, ramp: int) -> np.ndarray:
    """A slice's lead-in gain over n samples: a raised-cosine rise over the first `ramp` of them,
    then 1; the body before it fades out as 1 minus this.

    Slowed down, the body that ends under the lead-in is the slice before stretched: other
    material than the source just before the cut, where an attack that the detector started
    late already rises. Rising over all of the 3 ms faded that attack's first ms in; rising
    over the first 1.5 ms keeps the last 1.5 ms before the cut whole (seeds 0-3 of the corpus,
    hits over 3 ms: 5.9 -> 5.8 % at 70 bpm, 1.3 -> 1.1 % at 97.3; a 1 ms ramp 5.9 and 1.1 %, a
    2 ms one as 1.5 ms). Sped up, the body is squeezed and the full 3 ms crossfade is kept (the
    short one there put 1.8 % of the hits over 3 ms at 174 bpm, against 1.3 %)."""
    f = np.ones(n, dtype=np.float32)
    ramp = max(1, min(n, ramp))
    f[:ramp] = _fade_in(ramp)
    return f


def _fade_in(n: int) -> np.ndarray:
    """Raised-cosine 0 -> 1 over n samples; with its reverse it sums to exactly 1."""
    return (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)


def _fold(acc: np.ndarray, margin: int, n: int) -> np.ndarray:
    """Wrap a buffer whose index a is output sample (a - margin) mod n onto n samples."""
    c, total = acc.shape
    k = -(-total // n)
    buf = np.zeros((c, k * n), dtype=acc.dtype)
    buf[:, :total] = acc
    return np.roll(buf.reshape(c, k, n).sum(axis=1), -margin, axis=1)
