"""Beats mode on real drums: the loop corpus (recorded one-shots, known hit times), the figures
that measure a render against it, the onset detector's stability, and the targets of
docs/render.md "Beats mode on real drums" at 70, 97.3, 128 and 174 bpm, 44.1 and 48 kHz."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from beatgan.bridge import beats
from beatgan.bridge.onsets import detect_hits, detect_hits_near, detect_onsets
from beatgan.bridge.render import render
from beatgan.training import loop_corpus
from beatgan.training.loop_figures import (BURIED_DB, added_silence, attack_contrast_db,
                                           hit_displacement_ms, loop_figures, loudness_db,
                                           seam_roughness, seam_step, silent_share, summarize)

pytestmark = pytest.mark.skipif(loop_corpus.available() is not None,
                                reason=str(loop_corpus.available()))

TEMPOS = [70.0, 97.3, 128.0, 174.0]
RATES = [44100, 48000]
OTHER_SEEDS = [1, 2, 3]      # the corpus recipes with other timing and flam gaps


@pytest.fixture(scope="module")
def loops():
    return loop_corpus.corpus(seed=0)


@pytest.fixture(scope="module")
def figures(loops):
    """Beats-mode figures of every corpus loop at every tempo and rate: {(name, tempo, rate)}."""
    return {(L.name, t, r): loop_figures(render(L.bar, L.card, t, rate=r), r, L, t, "beats")
            for L in loops for t in TEMPOS for r in RATES}


@pytest.fixture(scope="module")
def other_loops():
    """The corpus of OTHER_SEEDS: {seed: [CorpusLoop]}."""
    return {seed: loop_corpus.corpus(seed=seed) for seed in OTHER_SEEDS}


@pytest.fixture(scope="module")
def other_figures(other_loops):
    """The same figures for the corpus of OTHER_SEEDS: {(seed, name, tempo, rate)} (seed 0's
    are `figures`)."""
    return {(seed, L.name, t, r): loop_figures(render(L.bar, L.card, t, rate=r), r, L, t, "beats")
            for seed, ls in other_loops.items() for L in ls for t in TEMPOS for r in RATES}


# ---- the corpus ----

def test_corpus_has_loops_of_every_kind(loops):
    assert len(loops) >= 6
    assert {L.bar.shape[0] for L in loops} == {1, 2}                        # mono and stereo
    assert {L.card.tempo_bpm for L in loops} == {124.0, 125.0}
    for L in loops:
        assert L.bar.dtype == np.float32 and L.bar.shape[1] == L.card.bar_samples
        assert L.card.sample_rate == 14700 and np.max(np.abs(L.bar)) == pytest.approx(0.9)
        step = L.card.bar_samples / 16
        off_ms = (np.array([h.time for h in L.hits]) + step / 2) % step - step / 2
        assert np.max(np.abs(off_ms)) / 14.7 > 1.0, f"{L.name}: no hit is off the grid"
    long_hits = [h for L in loops for h in L.hits if h.shot.shape[1] > 14700]
    assert len(long_hits) >= 5                                               # sustained sounds
    flams = 0
    for L in loops:
        for h in L.hits:
            if not h.weak_lead:
                continue
            b = L.card.bar_samples
            nxt = min((g for g in L.hits if not g.weak_lead and 0 < (g.time - h.time) % b),
                      key=lambda g: (g.time - h.time) % b)
            assert 10.0 <= ((nxt.time - h.time) % b) / 14.7 <= 20.0
            assert h.level_db < nxt.level_db - 6.0
            flams += 1
    assert flams >= 6


def test_the_bar_is_its_hits_and_the_seed_decides(loops):
    for L in loops:
        b = L.card.bar_samples
        again = np.zeros(L.bar.shape)
        for h in L.hits:
            again[:, (h.time + np.arange(h.shot.shape[1])) % b] += h.shot
        np.testing.assert_allclose(again, L.bar, atol=1e-5)
    other = loop_corpus.corpus(seed=1, names=("rock",))[0]
    assert np.array_equal(loop_corpus.corpus(seed=0, names=("rock",))[0].bar, loops[0].bar)
    assert not np.array_equal(other.bar, loops[0].bar)


# ---- the figures measure what they say ----

def test_displacement_finds_a_known_shift(loops):
    L = loops[1]
    rate, tempo = 48000, 97.3
    y = render(L.bar, L.card, tempo, rate=rate, mode="repitch")      # every hit exact
    speed = tempo / L.card.tempo_bpm
    d0 = hit_displacement_ms(y, rate, L.bar, 14700, L.attacks, L.card.tempo_bpm, tempo,
                             speed=speed)
    d2 = hit_displacement_ms(np.roll(y, int(0.002 * rate), axis=1), rate, L.bar, 14700,
                             L.attacks, L.card.tempo_bpm, tempo, speed=speed)
    assert np.max(np.abs(d0)) < 0.1
    np.testing.assert_allclose(d2, 2.0, atol=0.1)


@pytest.mark.parametrize("tempo", TEMPOS)
def test_displacement_reads_a_render_cut_at_the_true_attacks_as_on_the_grid(loops, tempo):
    """Cut exactly at every hit's attack, beats mode puts each on its host-grid time by
    construction: the measure must read that, even for a weak stroke whose slice is stretched
    a few ms after its attack (with 10 ms templates such hits read up to 24 ms off)."""
    for L in loops:
        for rate in RATES:
            y = render(L.bar, L.card, tempo, rate=rate, onsets=L.attacks)
            d = hit_displacement_ms(y, rate, L.bar, 14700, L.attacks, L.card.tempo_bpm, tempo)
            assert np.max(np.abs(d)) <= 2.0, (L.name, rate, np.round(d, 1))


def test_silence_loudness_and_seam_figures():
    sr = 14700
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 147 * t)[None, :]                # 147 Hz: whole cycles in 1 s
    assert silent_share(tone, sr) == 0.0
    holed = tone.copy()
    holed[:, sr // 2:] = 0.0
    assert added_silence(holed, sr, tone, sr) == pytest.approx(0.5, abs=0.01)
    assert loudness_db(tone) == pytest.approx(-10 * math.log10(2), abs=0.01)
    # DC is not heard, but it moves the peak a loop is normalised to: 1.5 here, not 1.
    assert loudness_db(tone + 0.5) == pytest.approx(10 * math.log10(0.5 / 1.5 ** 2), abs=0.01)
    assert seam_step(tone) < 1.5                                # one step, as anywhere
    assert seam_step(tone[:, :sr // 3 + 25]) > 10                # cut a quarter cycle late
    assert seam_roughness(tone, sr) < 1.5
    assert seam_roughness(tone[:, :sr // 3 + 25], sr) > 10
    # A bar that starts inside a hiss: the seam is as rough as the hiss around it, however
    # large the hiss's steps are against the rest of the loop, which is a quiet tone.
    hiss = np.random.default_rng(0).standard_normal(int(0.004 * sr))
    bar = 0.01 * tone.copy()
    bar[0, :hiss.size // 2] += hiss[hiss.size // 2:]
    bar[0, -(hiss.size // 2):] += hiss[:hiss.size // 2]
    assert seam_step(bar) > 3 and seam_roughness(bar, sr) < 3


def test_attack_contrast_reads_each_hits_own_share():
    """A hit's attack against the rest of the bar in the same stretch: a burst and the same
    burst 20 dB down at the same time read +20 and -20 dB (the soft one is buried); the same
    soft burst alone elsewhere stands out whatever its level; and a hit whose one-shot wraps
    round the bar's end is read where it sounds."""
    card = loop_corpus.LoopCard()
    b = card.bar_samples
    burst = np.random.default_rng(1).standard_normal((1, 200)).astype(np.float32)
    burst[:, 0] = 1.0                                   # the attack starts at its first sample

    def hit(time, gain):
        return loop_corpus.Hit(time, "hat", "test", 20 * math.log10(gain), burst * gain)

    hits = (hit(1000, 1.0), hit(1000, 0.1), hit(9000, 0.1), hit(b - 50, 0.5))
    bar = np.zeros((1, b), dtype=np.float32)
    for h in hits:
        bar[:, (h.time + np.arange(burst.shape[1])) % b] += h.shot
    c = attack_contrast_db(loop_corpus.CorpusLoop("t", "t", "t", card, bar, hits))
    assert c[0] == pytest.approx(20.0, abs=1e-3) and c[1] == pytest.approx(-20.0, abs=1e-3)
    assert c[2] == math.inf and c[3] == math.inf
    assert list(c < BURIED_DB) == [False, True, False, False]


def test_buried_hits_are_the_ones_no_view_shows(loops):
    """Seed 0's hits that earlier releases found 15-55 dB under the rest in every band through
    their first 5 ms (crash-ride's hat 4, electro's open hat 21) are buried; the hats that
    do show (electro's hat 18, over the rest above 4 kHz; toms-stereo's hat 6, 4-5 ms after
    its start) are not. The summary counts the hits that are not buried apart."""
    by = {L.name: attack_contrast_db(L) for L in loops}
    assert by["crash-ride"][4] < BURIED_DB and by["electro-doubles"][21] < BURIED_DB
    assert by["electro-doubles"][18] > 0 and by["toms-stereo"][6] > 0
    L = next(L for L in loops if L.name == "crash-ride")
    f = loop_figures(render(L.bar, L.card, 70.0), 44100, L, 70.0, "beats")
    assert list(f.buried) == list(by["crash-ride"] < BURIED_DB)
    d = np.zeros_like(f.displacement_ms)
    d[4] = 9.0                                          # a buried hit 9 ms off ...
    s = summarize([dataclasses.replace(f, displacement_ms=d)])
    assert s.share_over_3ms > 0 and s.largest_ms == 9.0
    assert s.share_over_3ms_clear == 0.0 and s.largest_clear_ms == 0.0   # ... counts apart
    assert math.isnan(summarize([dataclasses.replace(f, buried=None)]).share_over_3ms_clear)


def test_the_old_gaps_are_caught(loops):
    """A render that leaves silence after slowed slices (the old beats mode, fill='gap') fails
    the silence figure: the measure can fail."""
    L = loops[0]
    y = render(L.bar, L.card, 70.0, beats_options=beats.BeatsOptions(fill="gap"))
    assert added_silence(y, 44100, L.bar, 14700) > 0.2
    assert beats.FILL == "stretch"                   # an option is a value, not module state
    assert added_silence(render(L.bar, L.card, 70.0), 44100, L.bar, 14700) < 0.02


def test_beats_options_are_checked():
    with pytest.raises(ValueError, match="fill"):
        beats.BeatsOptions(fill="holes")
    with pytest.raises(ValueError, match="squeeze"):
        beats.BeatsOptions(squeeze="stretch it")
    with pytest.raises(ValueError, match="slice_gain_db"):
        beats.BeatsOptions(slice_gain_db=-1.0)
    card = loop_corpus.LoopCard()
    with pytest.raises(ValueError, match="beats_options"):
        render(np.zeros(card.bar_samples), card, 97.3, beats_options={"fill": "gap"})


# ---- the onset detector ----

@pytest.mark.parametrize("shift", [1, 37, 1000, 12345])
def test_onsets_move_with_a_rotation_of_the_loop(loops, shift):
    for L in loops:
        b = L.card.bar_samples
        starts, hits = detect_hits(L.bar, 14700)
        s2, h2 = detect_hits(np.roll(L.bar, shift, axis=1), 14700)
        np.testing.assert_array_equal(np.sort((s2 - shift) % b), starts, err_msg=L.name)
        np.testing.assert_array_equal(np.sort((h2 - shift) % b), np.sort(hits), err_msg=L.name)


def sixteenths(b: int) -> np.ndarray:
    return np.round(np.arange(16) * b / 16).astype(np.int64)


@pytest.mark.parametrize("shift", [1, 37, 1000, 12345])
def test_weak_hits_move_with_a_rotation_of_the_loop_and_its_grid(loops, shift):
    """The weak hits (found with lower thresholds near the sixteenths) are as stable as the
    strict ones: rotate the bar and the grid together and they move with it, to the sample;
    the strict hits do not depend on the grid at all."""
    for L in loops:
        b = L.card.bar_samples
        s, h, ws, wh = detect_hits_near(L.bar, 14700, sixteenths(b))
        s2, h2, ws2, wh2 = detect_hits_near(np.roll(L.bar, shift, axis=1), 14700,
                                            sixteenths(b) + shift)
        np.testing.assert_array_equal(np.sort((ws2 - shift) % b), ws, err_msg=L.name)
        np.testing.assert_array_equal(np.sort((wh2 - shift) % b), np.sort(wh), err_msg=L.name)
        np.testing.assert_array_equal(np.sort((s2 - shift) % b), s, err_msg=L.name)
        np.testing.assert_array_equal(s, detect_hits(L.bar, 14700)[0], err_msg=L.name)
        assert not np.any(np.isin(ws, s)), L.name


def test_weak_hits_ignore_a_dc_offset(loops):
    for L in loops:
        b = L.card.bar_samples
        a = detect_hits_near(L.bar + 0.3, 14700, sixteenths(b))
        for x, y in zip(a, detect_hits_near(L.bar, 14700, sixteenths(b))):
            np.testing.assert_array_equal(x, y, err_msg=L.name)


def test_onsets_ignore_a_dc_offset(loops):
    for L in loops:
        np.testing.assert_array_equal(detect_onsets(L.bar + 0.3, 14700),
                                      detect_onsets(L.bar, 14700), err_msg=L.name)


def test_hits_land_where_their_attacks_start(loops):
    """The point of each hit that goes on the grid is the middle of three estimates of where
    its attack starts (onsets._landing). On the corpus (seed 0), where every hit's attack is
    known, it is within 0.25 ms of it (median) and 3.5 ms at most, which at 70 bpm is 2.75 ms
    on the grid. The half-steepest point alone, the old choice, was 0.34 ms (median) and up to
    4.2 ms late on slow attacks (a hat rising out of a ringing cymbal, a clap's first burst)."""
    err = []
    for L in loops:
        b = L.card.bar_samples
        s, h, ws, wh = detect_hits_near(L.bar, 14700, sixteenths(b))
        starts, hits = np.concatenate([s, ws]), np.concatenate([h, wh])
        for a in L.attacks:
            d = (starts - a + b // 2) % b - b // 2
            k = int(np.argmin(np.abs(d)))
            if abs(d[k]) <= 0.003 * 14700:                      # the detector found it
                err.append(abs((hits[k] - a + b // 2) % b - b // 2) / 14.7)
    assert len(err) > 0.9 * sum(len(L.hits) for L in loops)
    assert np.median(err) <= 0.25 and max(err) <= 3.5, (np.median(err), max(err))


def test_a_kick_3ms_before_a_crash_starts_at_the_kick(loops):
    """The crash-ride loop has a kick 3 ms before a louder crash: the attack starts at the kick
    (it rises in the low view), not at the crash (the old choice of the steepest view started
    it 3.1 ms late, and the kick then played inside the slice before, up to 14 ms off)."""
    L = next(L for L in loops if L.name == "crash-ride")
    b = L.card.bar_samples
    kick = next(h for h in L.hits if h.role == "kick" and any(
        g.role == "cymbal" and 0 < (g.time - h.time) % b < 0.005 * 14700 for g in L.hits))
    on = detect_onsets(L.bar, 14700)
    d = ((on - kick.attack + b // 2) % b - b // 2) / 14.7
    assert np.min(np.abs(d)) <= 1.0, np.round(d[np.abs(d) < 30], 1)


def test_a_hat_3_5ms_after_a_kick_is_a_hit_of_its_own(other_loops):
    """The rock loops of seeds 1 and 2 have a closed hat 3.5 ms after a kick, well over the rest
    in its first ms. The views' starts of the kick (0.9-1.6 ms apart) chained into the hat's,
    so the hat was taken for the rest of the kick's attack and no start was found within 3.4
    ms of it; each sharp start that far from the first of its run now starts an attack
    (onsets.SPLIT_DB)."""
    for seed, i in ((1, 10), (2, 1)):
        L = next(L for L in other_loops[seed] if L.name == "rock")
        b = L.card.bar_samples
        hat, kick = L.hits[i], L.hits[i - 1]
        assert hat.role == "closed_hat" and kick.role == "kick"
        assert 0.003 < (hat.attack - kick.attack) % b / 14700 < 0.004
        on = detect_onsets(L.bar, 14700)
        d = ((on - hat.attack + b // 2) % b - b // 2) / 14.7
        assert np.min(np.abs(d)) <= 1.1, (seed, np.round(d[np.abs(d) < 10], 2))


def test_both_strokes_of_every_flam_are_found(loops):
    """A weak stroke and the strong one 10-20 ms after it each start a slice (the old detector
    kept the first of onsets within 30 ms, so the strong stroke played inside the weak one's
    slice, off the grid)."""
    for L in loops:
        b = L.card.bar_samples
        on = detect_onsets(L.bar, 14700)
        for h in L.hits:
            if not h.weak_lead:
                continue
            main = min((g for g in L.hits if not g.weak_lead and 0 < (g.time - h.time) % b),
                       key=lambda g: (g.time - h.time) % b)
            for stroke in (h, main):
                d = ((on - stroke.attack + b // 2) % b - b // 2) / 14.7
                assert np.min(np.abs(d)) <= 3.5, (L.name, stroke.instrument, d[np.abs(d) < 30])


def test_a_hat_over_a_snares_decay_is_a_new_hit():
    """A hat 12 ms after a snare, no louder than the snare was but well over its decay (high-
    passed), is a hit of its own (the old test, 6 dB over anything since the snare, dropped
    it); with a DC offset and rotated the same."""
    sr = 14700
    rng = np.random.default_rng(0)
    x = np.zeros(2 * sr)
    t0, n, m = sr // 2, int(0.3 * sr), int(0.05 * sr)
    body = np.convolve(rng.normal(size=n), np.ones(8) / 8, "same")
    x[t0:t0 + n] += (0.5 * rng.normal(size=n) + body) * np.exp(-np.arange(n) / (0.005 * sr))
    hat = t0 + int(0.012 * sr)
    x[hat:hat + m] += 0.5 * rng.normal(size=m) * np.exp(-np.arange(m) / (0.006 * sr))
    starts = detect_onsets(x, sr)
    np.testing.assert_allclose((starts - t0) / sr * 1e3, [0.0, 12.0], atol=1.0)
    np.testing.assert_array_equal(detect_onsets(x + 0.2, sr), starts)
    np.testing.assert_array_equal(np.sort((detect_onsets(np.roll(x, 777), sr) - 777) % x.size),
                                  starts)


# ---- cuts on the sixteenths ----

def test_an_uncovered_sixteenth_gets_a_cut_on_it_or_at_a_weak_hit_before_it():
    """step_points: a sixteenth with a detected hit from 10 ms before it to 4 ms after it is
    covered; any other gets a slice of its own, on it, or at a weak hit up to 6 ms before it
    (so the cut does not split that hit's attack), landing on the grid 2 ms after its cut
    (a hit it is for comes after the cut), or, cut at a weak hit, halfway between the weak
    hit and 2 ms after the step (the weak hit may be cymbal noise); a weak hit up to 15 ms
    after a detected one is a cut too, grouped with it under 7.5 ms."""
    sr, b = 14700, 16 * 1764
    step = b // 16
    ms = sr // 1000
    onsets = np.array([0, 4 * step - 8 * ms, 8 * step + 3 * ms])          # steps 0, 4, 8 covered
    on, hit = beats.step_points(onsets, b, 16, sr)
    want = [k * step for k in range(16) if k not in (0, 4, 8)]
    np.testing.assert_array_equal(on, want)
    np.testing.assert_array_equal(hit, np.array(want) + round(beats.STEP_ANCHOR_S * sr))
    assert beats.STEP_ANCHOR_S == 0.002
    cuts, anchors = beats.slice_points(onsets, b, 4, sr, steps=4,
                                       cluster_s=beats.DETECTED_CLUSTER_S)
    k = int(np.flatnonzero(cuts == step - round(beats.EARLY_S * sr))[0])   # step 1's slice
    assert anchors[k] == step + 29                                        # 2 ms after the step
    weak_start = np.array([2 * step - 5 * ms, 6 * step - 9 * ms, 4 * ms, 4 * step + 4 * ms,
                           8 * step + 20 * ms])
    weak_hit = weak_start + 10
    on, hit = beats.step_points(onsets, b, 16, sr, (weak_start, weak_hit))
    assert 2 * step - 5 * ms in on and 2 * step not in on                 # the weak hit's
    landed = hit[list(on).index(2 * step - 5 * ms)]
    assert landed == (2 * step - 5 * ms + 10 + 2 * step + 29) // 2        # halfway
    assert 6 * step in on and 6 * step - 9 * ms not in on                 # too early: the step
    assert 4 * ms in on                                                   # joins the onset at 0
    assert 4 * step + 4 * ms in on                                        # 12 ms after one
    assert 8 * step + 20 * ms not in on                                   # 17 ms after: no
    cuts, anchors = beats.slice_points(onsets, b, 4, sr, steps=4, weak=(weak_start, weak_hit),
                                       cluster_s=beats.DETECTED_CLUSTER_S)
    first = int(np.argmin(np.abs((cuts + b // 2) % b - b // 2)))
    assert anchors[first] % b == pytest.approx(0.5 * (4 * ms + 10), abs=1)   # between the two


def test_a_weak_hit_10_to_20ms_before_a_hit_gets_a_cut():
    """step_points: a weak hit that starts 10-20 ms before a detected one (a hat leading a
    clap) gets a slice of its own, also across the loop's end; 5 or 25 ms before does not."""
    sr, b = 14700, 16 * 1764
    step, ms = b // 16, sr // 1000
    onsets = np.array([0, 5 * step])
    weak_start = np.array([5 * step - 15 * ms, 5 * step - 5 * ms, 5 * step - 25 * ms,
                           b - 12 * ms])
    on, _ = beats.step_points(onsets, b, 16, sr, (weak_start, weak_start + 10))
    assert 5 * step - 15 * ms in on and b - 12 * ms in on
    assert 5 * step - 5 * ms not in on and 5 * step - 25 * ms not in on


@pytest.mark.parametrize("tempo", TEMPOS)
def test_the_hat_leading_a_house_clap_lands_near_its_time(other_loops, tempo):
    """Seed 2's house loop: a -25 dB closed hat 17.5 ms before a clap and its kick, which the
    clap's sixteenth covers. Without its own cut it played in the stretched body of the slice
    before: 26, 6.5 and 25 ms off at 70, 97.3 and 174 bpm. Now within 3 ms at every tempo (an
    8 ms template, fitting to 0.98-0.99 there, reads the same)."""
    L = next(x for x in other_loops[2] if x.name == "house-openhats")
    assert L.hits[15].role == "closed_hat"
    for rate in RATES:
        d = loop_figures(render(L.bar, L.card, tempo, rate=rate), rate, L, tempo,
                         "beats").displacement_ms[15]
        assert abs(d) <= 3.0, (rate, d)


# ---- the targets ----

@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("tempo", TEMPOS)
def test_hits_land_on_the_host_grid_within_1ms_median(figures, loops, tempo, rate):
    d = np.concatenate([figures[L.name, tempo, rate].displacement_ms for L in loops])
    assert np.median(np.abs(d)) <= 1.0


@pytest.mark.parametrize("tempo", TEMPOS)
def test_most_hits_land_within_3ms(figures, loops, tempo):
    """What the corpus shows today (both rates): 2.9 % of the hits more than 3 ms off at 70 bpm
    (the old beats mode: 26 %; before the cuts on the sixteenths: 12 %; before their slices
    landed 2 ms after the cut: 5.8 %; before hits landed at the middle of three estimates:
    5.0 %; before a slice cut at a weak hit landed halfway to its sixteenth: 3.6 %), none at
    97.3, 128 and 174 bpm. At 70 bpm the misses are hits 4-7 ms after another that the
    detector does not find (a hat pedal or hat after a kick, an open hat after a closed one);
    every hit within 3 ms is not met there."""
    d = np.concatenate([figures[L.name, tempo, r].displacement_ms for L in loops for r in RATES])
    assert np.mean(np.abs(d) > 3.0) <= (0.04 if tempo < 80 else 0.01)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("tempo", TEMPOS)
def test_every_hit_lands_within_3ms_from_97_bpm(figures, loops, tempo, rate):
    """Issue 25's target, met at 97.3, 128 and 174 bpm (largest 2.3, 0.2 and 2.3 ms). At 70
    bpm a hit missed 4-7 ms after another plays that far x 0.79 off (largest 6.3 ms): it is
    held to 7 ms there, so that it does not get worse."""
    worst = {L.name: figures[L.name, tempo, rate].max_ms for L in loops}
    assert max(worst.values()) <= (7.0 if tempo < 80 else 3.0), worst


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("tempo", TEMPOS)
def test_no_holes_slower_or_faster(figures, loops, tempo, rate):
    for L in loops:
        assert figures[L.name, tempo, rate].added_silence < 0.02, L.name


@pytest.mark.parametrize("rate", RATES)
def test_loudness_stays_within_half_a_db_at_every_tempo(figures, loops, rate):
    for L in loops:
        change = [figures[L.name, t, rate].loudness_change_db for t in TEMPOS]
        assert max(abs(c) for c in change) <= 0.5, (L.name, np.round(change, 2))


HELD_OUT_SEEDS = [4, 5, 6, 7]  # corpus seeds no constant of the renderer was chosen on


@pytest.fixture(scope="module")
def held_out_figures():
    """Beats-mode figures of the corpus of HELD_OUT_SEEDS at every tempo and rate:
    {(seed, name, tempo, rate)}."""
    return {(seed, L.name, t, r): loop_figures(render(L.bar, L.card, t, rate=r), r, L, t, "beats")
            for seed in HELD_OUT_SEEDS for L in loop_corpus.corpus(seed=seed)
            for t in TEMPOS for r in RATES}


@pytest.mark.parametrize("tempo", TEMPOS)
def test_held_out_seeds_keep_the_loudness_and_the_median(held_out_figures, tempo):
    """Seeds no constant was chosen on: the loudness within +-0.5 dB of the source and the
    median within 1 ms at every tempo. At 174 bpm a slice loses the end of its decay, so the
    loop gets denser and louder; before the decays' gain and the peak between samples
    (beats._body_gain), two loops of seeds 4-7 came out 0.75 and 0.80 dB louder than their
    sources: a djembe whose bodies were 3 % of its power (their gain stopped at -6 dB), and a
    break whose source peaks 0.77 dB over its largest sample, between two samples. Seeds 0-3
    never showed it. No holes either: seed 4's breaks loop at 174 bpm had 2.4-3.2 % of added
    silence before its bodies, turned down, kept their quiet ends (beats.QUIET_DB). Not
    asserted: every hit within 3 ms (6.7 % over at 70 bpm); see docs/render.md."""
    s = summarize(f for k, f in held_out_figures.items() if k[2] == tempo)
    assert s.renders == len(HELD_OUT_SEEDS) * 8 * len(RATES)
    assert -0.5 <= s.loudness_lo_db and s.loudness_hi_db <= 0.5, s
    assert s.median_ms <= 1.0, s
    assert s.worst_added_silence < 0.02, s


def _loudness_change(seed: int, name: str, tempo: float, rate: int = 44100, **kw) -> float:
    """The loudness change of corpus seed `seed`'s loop `name` rendered in beats mode."""
    L = loop_corpus.corpus(seed=seed, names=(name,))[0]
    y = render(L.bar, L.card, tempo, rate=rate, **kw)
    return loop_figures(y, rate, L, tempo, "beats").loudness_change_db


def test_sped_up_a_djembe_needs_the_decays_gain():
    """Seed 4's djembe at 174 bpm: its bodies are 3 % of its power, so their gain alone leaves
    the loop 0.75 dB louder than its source (BeatsOptions(decay_gain=False)); the decays'
    gain brings it within 0.5 dB."""
    change = [_loudness_change(4, "djembe", 174.0, beats_options=opt)
              for opt in (beats.BeatsOptions(decay_gain=False), None)]
    assert change[0] > 0.5 and abs(change[1]) <= 0.5, change


@pytest.mark.parametrize("rate", RATES)
def test_slowed_a_djembe_keeps_its_loudness(rate):
    """Seed 23's djembe at 70 bpm (a seed first measured after the renderer's constants were
    chosen): its slowed bodies were raised until each one's own top reached the bar's peak, but
    where a body fades in under the end of its slice's attack part the two add up, to 1.1 x
    the peak. The bodies' gain then had to come down 1.1 dB and the loop came out 0.6 dB quiet.
    Each slice is now kept under the peak as heard: -0.34 dB."""
    change = _loudness_change(23, "djembe", 70.0, rate)
    assert abs(change) <= 0.5, change


def test_a_slowed_slice_is_raised_no_further_than_the_peak_as_heard():
    """beats._slice_gain: the body alone would allow twice its level, but where it overlaps the
    attack part the sum would then pass the peak; the gain stops where the sum reaches it,
    read between the samples too (there these steps ring over their samples: the samples
    alone would allow x1.6)."""
    att = np.zeros((1, 64), dtype=np.float32)
    body = np.zeros((1, 64), dtype=np.float32)
    att[0, :8] = 0.6
    body[0, 6:] = 0.5
    body[0, 6:8] = 0.25                         # fades in under the attack's last samples
    natural = np.full((1, 32), 0.9, dtype=np.float32)   # loud: the gain would go to the most
    g = beats._slice_gain(att, body, natural, 0, 64, 1.0, 12.0)
    heard = att + np.float32(g) * body
    assert beats._peak(heard) == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(heard)) < 1.0
    assert 1.0 < g < 1.55                        # the samples alone: 1.6; the body alone: 2.0
    assert beats._slice_gain(att, 0 * body, natural, 0, 64, 1.0, 12.0) == 1.0


def test_a_stereo_slice_is_raised_as_a_mono_one():
    """beats._slice_gain asks for the slice's energy over its slot, every channel counted, as
    its sums count it: a stereo slice (the same signal twice) gets the mono slice's gain. It
    had asked for one channel's worth, so a stereo slice never needed raising (corpus seed
    63's rock loop at 70 bpm: every slowed body at 0 dB, the loop 0.72-0.80 dB quiet)."""
    att = np.zeros((1, 64), dtype=np.float32)
    body = np.zeros((1, 64), dtype=np.float32)
    att[0, :8] = 0.5
    body[0, 8:] = 0.1
    natural = np.full((1, 32), 0.3, dtype=np.float32)
    mono = beats._slice_gain(att, body, natural, 0, 64, 1.0, 12.0)
    stereo = beats._slice_gain(*(np.repeat(z, 2, axis=0) for z in (att, body, natural)),
                               0, 64, 1.0, 12.0)
    assert 1.5 < mono < 4.0, mono                 # raised, not held at a limit
    assert stereo == pytest.approx(mono, rel=1e-9)
    g = np.float32(mono)
    assert np.sum(np.square(att + g * body, dtype=np.float64)) == pytest.approx(
        np.mean(np.square(natural, dtype=np.float64)) * 64, rel=1e-5)


@pytest.mark.parametrize("rate", RATES)
def test_slowed_a_stereo_rock_loop_keeps_its_loudness(rate):
    """Seed 63's rock loop (stereo; first measured after every constant was chosen) at
    70 bpm: 0.72 dB (44.1 kHz) and 0.80 dB (48 kHz) quiet while a stereo slice's gain counted
    one channel (test above); now within 0.1 dB."""
    change = _loudness_change(63, "rock", 70.0, rate)
    assert abs(change) <= 0.5, change


def test_a_stretched_body_over_the_peak_is_turned_down_alone():
    """beats._slice_gain: a slice already as loud as it was (no raise wanted) whose stretched
    body comes out over the bar's peak gets that body turned down to the peak, instead of one
    gain for every body of the bar coming down for it."""
    att = np.zeros((1, 64), dtype=np.float32)
    body = np.zeros((1, 64), dtype=np.float32)
    att[0, :16] = 0.9 * np.hanning(16)          # smooth, so the samples show the peaks
    body[0, 20:40] = np.hanning(20) * 1.25      # grains that added up: 1.25 x the peak
    natural = np.full((1, 32), 0.01, dtype=np.float32)   # quiet: no raise wanted
    g = beats._slice_gain(att, body, natural, 0, 64, 1.0, 12.0)
    assert 0.7 < g < 1.0, g
    assert beats._peak(att + np.float32(g) * body) == pytest.approx(1.0, abs=1e-6)
    # Within the peak, it is left as it is.
    assert beats._slice_gain(att, 0.5 * body, natural, 0, 64, 1.0, 12.0) == 1.0


@pytest.mark.parametrize("rate", RATES)
def test_slowed_a_djembe_with_a_short_loud_body_keeps_its_loudness(rate):
    """Seed 69's djembe (first measured after every constant was chosen) at 70 bpm: a 16 ms
    slice's 3 ms body, stretched, reached 1.23 x the bar's peak; the one gain for all the
    bodies came down 2 dB for it and the loop was 0.90 (44.1 kHz) and 0.95 dB (48 kHz) quiet.
    That body alone is turned down now: -0.08 / -0.11 dB."""
    change = _loudness_change(69, "djembe", 70.0, rate)
    assert abs(change) <= 0.5, change


@pytest.mark.parametrize("rate", RATES)
def test_sped_up_a_break_keeps_its_loudness_at_either_rate(rate):
    """Seed 85's break (first measured after every constant was chosen) at 174 bpm: +0.33 dB
    (44.1 kHz) and +0.503 dB (48 kHz, whose samples catch more of the source's peak) while the
    decays' gain waited for the bar to be 0.25 dB too loud; it acts from 0.1 dB now."""
    change = _loudness_change(85, "breaks-flams", 174.0, rate)
    assert abs(change) <= 0.5, change


def test_a_bar_too_loud_gets_no_body_gain_over_0_db():
    """beats._pick: a bar louder than its source at 0 dB may only have its bodies turned down.
    Raised, they quieten it only by becoming its peak (here +6 dB comes closest to the crest
    asked for, and was taken)."""
    g = 10.0 ** (np.array([-6.0, 0.0, 6.0]) / 20.0)
    crest = 0.1
    peak = np.array([1.0, 1.0, 1.6])
    power = crest * peak ** 2 * 10.0 ** (np.array([0.6, 0.8, 0.2]) / 10.0)   # dB over the crest
    assert beats._pick(power, peak, crest, g) == 0
    # Too quiet at 0 dB: either way may serve, the closest wins.
    power = crest * peak ** 2 * 10.0 ** (np.array([-0.6, -0.8, -0.2]) / 10.0)
    assert beats._pick(power, peak, crest, g) == 2


@pytest.mark.parametrize("rate", RATES)
def test_sped_up_a_djembe_is_turned_down_not_swollen(rate):
    """Seed 109's djembe (measured once after every other change of its release) at 174 bpm:
    its bodies were raised 6 dB, to quieten the bar by becoming its peak, and its decays then
    turned down 6 dB: tails swelling over the source's, and the loop still 0.48 dB loud. Its
    bodies now come down: within 0.1 dB."""
    change = _loudness_change(109, "djembe", 174.0, rate)
    assert abs(change) <= 0.1, change


@pytest.mark.parametrize("rate", RATES)
def test_turned_down_the_bodies_keep_their_quiet_ends(rate):
    """Seed 4's break at 174 bpm: sped up, the loop is denser and louder, and its bodies' gain
    goes down 6 dB. Over the whole body, that sank tails that were just over -60 dB under it:
    2.4 % (44.1 kHz) and 3.2 % (48 kHz) of the loop silent that was not (BeatsOptions(
    keep_tails=False)). The gain now spares the quiet parts (beats.QUIET_DB): none, with the
    loudness still within 0.5 dB of the source's and every attack as it was. (Since the bar
    rests at 0 rather than averaging 0, render._rest_level, the sunk tails are 1.4 % and 2.9 %
    of the loop: its mean, -66 dB re the peak, no longer props up the silence between hits.)"""
    L = loop_corpus.corpus(seed=4, names=("breaks-flams",))[0]
    f = [loop_figures(render(L.bar, L.card, 174.0, rate=rate, beats_options=opt), rate, L,
                      174.0, "beats")
         for opt in (beats.BeatsOptions(keep_tails=False), None)]
    assert f[0].added_silence > f[1].added_silence + 0.02 and f[1].added_silence < 0.005, \
        [g.added_silence for g in f]
    assert abs(f[1].loudness_change_db) <= 0.5, f[1].loudness_change_db
    np.testing.assert_allclose(f[1].displacement_ms, f[0].displacement_ms, atol=0.05)


def test_how_much_a_gain_down_acts_follows_the_level():
    """beats._loud: fully over -45 dB re the peak (5 ms RMS), not at all under -58 dB, in
    proportion between; silence is spared."""
    sr = 14700
    f = int(round(0.005 * sr))                          # beats._loud's frame
    z = np.ones((1, 4 * f), dtype=np.float32)
    z[0, f:2 * f] *= 10 ** (-51.5 / 20)                 # halfway between, in dB
    z[0, 2 * f:3 * f] *= 10 ** (-70 / 20)
    z[0, 3 * f:] = 0.0
    w = beats._loud(z, sr)[0]
    mid = np.arange(4) * f + f // 2
    np.testing.assert_allclose(w[mid], [1.0, 0.5, 0.0, 0.0], atol=0.01)
    assert not np.any(beats._loud(np.zeros((2, 100), dtype=np.float32), sr))


def test_the_peak_is_read_between_the_samples():
    """A tone at a quarter of the rate, sampled 45 degrees off its crests: every sample is at
    0.707 of its amplitude, and the output rate (three samples for each one here) shows
    cos(15 degrees) = 0.966 of it, a third of the way between two samples."""
    x = np.cos(0.5 * np.pi * np.arange(1024) + 0.25 * np.pi)[None, :].astype(np.float32)
    assert np.max(np.abs(x)) == pytest.approx(0.7071, abs=1e-4)
    assert beats._peak(x) == pytest.approx(math.cos(math.radians(15)), abs=0.01)
    assert beats._crest(x) == pytest.approx(0.5 / 0.966 ** 2, abs=0.02)  # the tone's power
    assert beats._peak(np.zeros((2, 64), dtype=np.float32)) == 0.0


def test_the_bodies_gain_is_the_smallest_change_that_keeps_the_loudness():
    """Bodies raised until one of their samples is the bar's peak can give the same loudness
    as bodies turned down a little, with every hit quieter after normalisation: the gain
    nearest 0 dB wins. Here the attack part is one click over a quiet bed, and the body a bed
    and a click of 0.9 later on: +4.2 dB on the body, where the body's click is the peak, and
    about -1.5 dB both give the crest asked for (the first exactly, on the gains' 0.1 dB
    grid)."""
    n = 4096
    a = np.full((1, n), 0.05, dtype=np.float32)
    a[0, 100] = 1.0
    bd = np.zeros((1, n), dtype=np.float32)
    bd[0, 2000:2400] = 0.2
    bd[0, 3000] = 0.9
    crest = beats._crest(a + np.float32(10 ** (4.2 / 20)) * bd)
    g, got = beats._body_gain(a, bd, crest)
    assert -1.7 <= 20 * np.log10(g) <= -1.3
    assert abs(10 * np.log10(got / crest)) <= beats.GAIN_TOL_DB
    assert got == pytest.approx(beats._crest(a + np.float32(g) * bd), rel=1e-3)


def test_the_seam_is_no_rougher_than_the_source(figures, loops, other_figures, other_loops):
    """In beats mode the wrap is a join like any other, on every seed of the corpus: no seam
    stands out as a click, by more than 3 typical steps of the loop and by more than 3 times
    the steps of the 1 ms around it (LoopFigures.seam_click). Either alone is a lottery: a bar
    that starts inside a hat has steps of 3-4 typical ones there (seed 2's electro loop reads
    3.3 at 97.3 bpm, where the output is the source sample for sample, moved by two samples),
    and a near-silent seam has tiny steps around it."""
    every = {(0, k[0], k[1], k[2]): f for k, f in figures.items()} | other_figures
    for seed, ls in {0: loops, **other_loops}.items():
        for L in ls:
            worst = max(every[seed, L.name, t, r].seam_click for t in TEMPOS for r in RATES)
            assert worst <= 3.0, (seed, L.name, worst)


def test_a_slowed_hit_keeps_its_attack_and_rings_on(loops):
    """At 70 bpm a slice starts with the source's own samples (its attack, up to where the
    stretched body fades in), and the body after them is not silent."""
    L = loops[0]
    x = L.bar - L.bar.mean(axis=1, keepdims=True)
    b = L.card.bar_samples
    cuts, anchors = beats.slice_points(detect_onsets(x, 14700), b, 4, 14700)
    host = round(b * L.card.tempo_bpm / 70.0)
    y = beats.beats_bar(x, 14700, cuts, anchors, host)
    i = int(np.argmax(np.diff(np.append(cuts, cuts[0] + b))[:-1]))   # the longest slice
    o = int(cuts[i])
    at = int(round(anchors[i] * host / b - (anchors[i] - o)))
    n = int((beats.ATTACK_S - beats.GRAIN_S / 2) * 14700)
    np.testing.assert_allclose(y[:, at:at + n], x[:, o:o + n], atol=1e-5)
    nxt = int(round(anchors[i + 1] * host / b - (anchors[i + 1] - cuts[i + 1])))
    body = y[:, at + n:nxt - int(beats.XFADE_S * 14700)]
    assert silent_share(body, 14700) == 0.0 and np.sqrt(np.mean(body ** 2)) > 1e-3


@pytest.mark.parametrize("tempo", TEMPOS)
def test_other_seeds_keep_the_median_no_holes_the_loudness_and_few_misses(figures,
                                                                         other_figures, tempo):
    """Seeds 0-3 of the corpus together (so nothing is tuned to seed 0): the median within
    1 ms, no holes and the loudness within +-0.5 dB of the source at every tempo (targets
    met); the share of hit placements more than 3 ms off held to what it is today (4.1 % at
    70 bpm, 4.8 % before onsets.SPLIT_DB; 0.7, 0.4 and 1.4 % at 97.3, 128 and 174 bpm). Not
    met on seeds 1-3, and so not asserted here: every hit within 3 ms (single hits 7-10 ms off
    at 70 bpm and up to 7.5 ms at 97.3: hits the detector does not find, or finds 2-6 ms late,
    a few ms before or after another); see docs/render.md."""
    rows = [f for k, f in other_figures.items() if k[2] == tempo]
    rows += [figures[k] for k in figures if k[1] == tempo]
    s = summarize(rows)
    assert s.renders == 4 * 8 * len(RATES)
    assert s.median_ms <= 1.0
    assert s.worst_added_silence < 0.02
    assert -0.5 <= s.loudness_lo_db and s.loudness_hi_db <= 0.5, s
    assert s.share_over_3ms <= (0.045 if tempo < 80 else 0.02), s


def clicks_land_where_mapped(x: np.ndarray, cuts, anchors, host: int, sr: int = 14700
                             ) -> np.ndarray:
    """Render the bar x of isolated clicks at `host` samples; every click is on the map
    (as_is_shift) and its peak is in the output where the map says, to the sample. Returns
    the map's shifts."""
    b = x.shape[1]
    clicks = np.flatnonzero(x[0])
    y = beats.beats_bar(x, sr, cuts, anchors, host,
                        beats.BeatsOptions(keep_loudness=False, slice_gain_db=0.0))[0]
    shift = beats.as_is_shift(clicks, cuts, anchors, b, host, sr)
    assert np.all(np.isfinite(shift)), shift
    for c, s in zip(clicks, shift):
        at = round(c * host / b + s)
        near = (at + np.arange(-40, 41)) % host
        assert near[np.argmax(np.abs(y[near]))] == at % host, c
    return shift


def test_as_is_shift_maps_a_slice_to_where_beats_bar_plays_it():
    """Isolated clicks, cut where they are, rendered at 70 bpm: each click is found in the
    output (its peak) where as_is_shift says, to the sample; a click in a stretched body, far
    past its cut's attack part, is NaN (no single place)."""
    sr, b = 14700, 28224                     # one 4-beat bar at 125 bpm
    host = round(b * 125.0 / 70.0)
    x = np.zeros((1, b), np.float32)
    clicks = np.array([1000, 8000, 8300, 15000, 27000])
    x[0, clicks] = [1.0, 0.9, 0.5, 0.8, 0.7]
    cuts = np.array([900, 7900, 14900, 26900])           # 8300 rides in 7900's slice, 27000 wraps
    anchors = np.array([1000.0, 8000.0, 15000.0, 27000.0])
    shift = clicks_land_where_mapped(x, cuts, anchors, host)
    assert abs(shift[0]) < 1 and abs(shift[2] + 300 * (host / b - 1)) < 1   # 300 samples in
    late = beats.as_is_shift(np.array([7900 + int(0.045 * sr)]), cuts, anchors, b, host, sr)
    assert np.isnan(late[0])                  # past the 40 ms played as they are: stretched
    same = beats.as_is_shift(clicks, cuts, anchors, b, b, sr)
    assert np.allclose(same, 0.0)             # at the model tempo nothing moves


@pytest.mark.parametrize("host_bpm", [70.0, 128.0])
def test_as_is_shift_maps_lead_ins_and_unsqueezed_slices(host_bpm):
    """The rest of the map. Slowed down, a click 1 ms before a cut is in that slice's lead-in
    at full level and lands with it; 2 ms before, it is in the lead-in's rise, a crossfade
    (NaN). A little faster (128 bpm: the slot is 98 % of the slice, which is not squeezed), a
    click 100 ms into a 400 ms slice plays as it is, and one 1 ms before a cut is in the
    lead-in's crossfade (NaN). Each mapped click is found where the map says, to the sample."""
    sr, b = 14700, 28224
    host = round(b * 125.0 / host_bpm)
    x = np.zeros((1, b), np.float32)
    cuts = np.array([1000, 4000, 10000, 20000])
    anchors = cuts.astype(np.float64) + 10
    if host > b:
        clicks, crossfaded = np.array([4000 - 15, 10000 - 15]), np.array([20000 - 30])
    else:
        clicks, crossfaded = np.array([4000 + int(0.1 * sr)]), np.array([10000 - 15])
    x[0, clicks] = 1.0
    clicks_land_where_mapped(x, cuts, anchors, host)
    assert np.all(np.isnan(beats.as_is_shift(crossfaded, cuts, anchors, b, host, sr)))


@pytest.mark.parametrize("tempo", [70.0, 174.0])
def test_the_displacement_figure_agrees_with_the_renderers_own_map(loops, figures, tempo):
    """Where a hit starts in the part of its slice that beats mode plays as it is, where it
    lands is known from the slices alone (beats.as_is_shift); the figure, which finds it in the
    audio, must read the same (bench/render.py prints this for every seed, tempo and rate)."""
    from beatgan.bridge.render import beats_slices
    from beatgan.generator.musical_time import frames

    diffs = []
    for L in loops:
        sr, b = L.card.sample_rate, L.bar.shape[-1]
        cuts, anchors = beats_slices(L.bar, L.card)
        known = beats.as_is_shift(L.attacks, cuts, anchors, b,
                                  frames(L.card.beats_per_bar, tempo, sr), sr) / sr * 1e3
        ok = np.isfinite(known)
        diffs.append(figures[(L.name, tempo, 44100)].displacement_ms[ok] - known[ok])
    d = np.abs(np.concatenate(diffs))
    assert d.size > 0.8 * sum(len(L.attacks) for L in loops)      # most hits are on the map
    assert np.median(d) < 0.02 and np.mean(d > 0.5) < 0.01, (np.median(d), np.sum(d > 0.5))


@pytest.mark.parametrize("host_bpm", [70.0, 174.0])
def test_slowed_down_the_last_1_5ms_before_a_cut_play_at_full_level(host_bpm):
    """An attack that begins 1 ms before its cut (the detector started it late) is in the
    slice's lead-in. Slowed down, the lead-in rises over its first 1.5 ms only, so that
    attack comes out whole; sped up, the lead-in keeps its 3 ms raised-cosine crossfade with
    the squeezed body before it (0.78 there)."""
    sr, b = 14700, 28224
    host = round(b * 125.0 / host_bpm)
    x = np.zeros((1, b), np.float32)
    cuts = np.array([1000, 10000])
    anchors = cuts.astype(np.float64)
    x[0, 10000 - 15] = 1.0                          # 1 ms before the cut
    y = beats.beats_bar(x, sr, cuts, anchors, host,
                        beats.BeatsOptions(keep_loudness=False, slice_gain_db=0.0))[0]
    want = 1.0 if host > b else float(np.sin(0.5 * np.pi * (44 - 15 + 0.5) / 44) ** 2)
    assert np.max(np.abs(y)) == pytest.approx(want, abs=1e-6)
    lead = beats._lead_in(44, 22)
    assert lead[0] < 0.01 and np.all(lead[22:] == 1.0) and np.all(np.diff(lead) >= 0)
