"""Tempo sources, precedence and MIDI clock smoothing (pure: time is passed in)."""
from __future__ import annotations

import numpy as np
import pytest

from beatgan.bridge.tempo import PPQN, ClockTempo, TempoState


def ticks(clock: ClockTempo, bpm: float, n: int, t0: float = 0.0, jitter_s: float = 0.0,
          seed: int = 0) -> float:
    """Feed n clock ticks at bpm (with uniform timing jitter); returns the time of the last."""
    rng = np.random.default_rng(seed)
    dt = 60.0 / (bpm * PPQN)
    t = t0
    for i in range(n):
        t = t0 + i * dt
        clock.tick(t + (rng.uniform(-jitter_s, jitter_s) if jitter_s else 0.0))
    return t


@pytest.mark.parametrize("bpm", [60.0, 98.5, 125.0, 174.0, 300.0])
def test_steady_clock_reads_its_tempo(bpm):
    clock = ClockTempo()
    t = ticks(clock, bpm, 200)
    assert clock.tempo_bpm(t) == pytest.approx(bpm, abs=0.01)


@pytest.mark.parametrize("bpm", [90.0, 128.0, 140.0])
def test_jittery_clock_is_smoothed(bpm):
    """2 ms of jitter per tick (a busy USB host) on ~20 ms ticks: the reading stays within
    0.2 bpm and barely moves from tick to tick."""
    clock = ClockTempo()
    dt = 60.0 / (bpm * PPQN)
    t = ticks(clock, bpm, 96, jitter_s=0.002)
    readings = []
    rng = np.random.default_rng(1)
    for i in range(96, 96 * 4):
        clock.tick(i * dt + rng.uniform(-0.002, 0.002))
        readings.append(clock.tempo_bpm(i * dt))
    assert max(abs(r - bpm) for r in readings) < 0.2
    assert len(set(readings)) < len(readings) / 4, "hysteresis should hold a steady value"
    assert t > 0


def test_tempo_change_is_followed_within_a_beat():
    clock = ClockTempo()
    t = ticks(clock, 120.0, 200)
    dt = 60.0 / (150.0 * PPQN)
    for i in range(1, 30):  # a little over one beat at the new tempo
        clock.tick(t + i * dt)
    assert clock.tempo_bpm(t + 29 * dt) == pytest.approx(150.0, abs=0.5)


def test_silent_clock_stops_counting_and_gap_restarts_window():
    clock = ClockTempo(timeout_s=1.0)
    t = ticks(clock, 120.0, 100)
    assert clock.tempo_bpm(t + 0.5) == pytest.approx(120.0, abs=0.01)
    assert clock.tempo_bpm(t + 1.5) is None
    # After the gap the old ticks must not bend the new tempo.
    t2 = ticks(clock, 90.0, 50, t0=t + 5.0)
    assert clock.tempo_bpm(t2) == pytest.approx(90.0, abs=0.01)


def test_too_few_ticks_give_no_tempo():
    clock = ClockTempo()
    clock.tick(0.0)
    clock.tick(0.02)
    assert clock.tempo_bpm(0.02) is None


def test_start_stop_and_song_position_give_beat_position():
    clock = ClockTempo()
    dt = 60.0 / (120.0 * PPQN)
    ticks(clock, 120.0, 48)               # clock running, transport stopped
    assert clock.beat_position(48 * dt) is None
    clock.start()                          # the next clock is the downbeat
    base = 48 * dt
    for i in range(PPQN * 4 + 7):          # the downbeat, then one 4/4 bar and a sixteenth
        clock.tick(base + i * dt)
    last = base + (PPQN * 4 + 6) * dt
    assert clock.beat_position(last) == pytest.approx(4.25, abs=1e-9)
    # Between ticks the position moves on, but never past the next tick.
    assert clock.beat_position(last + dt / 2) == pytest.approx(4.25 + 0.5 / PPQN, abs=1e-6)
    assert clock.beat_position(last + 0.5) == pytest.approx(4.25 + 1.0 / PPQN, abs=1e-6)
    clock.stop()
    assert clock.beat_position(last) is None
    clock.song_position(32)                # sixteenth 32 = beat 8
    clock.resume()
    clock.tick(last + dt)
    assert clock.beat_position(last + dt) == pytest.approx(8.0, abs=1e-9)


def test_precedence_request_osc_midi_link_model():
    clock = ClockTempo()
    link_bpm = [None]
    state = TempoState(125.0, clock, lambda: link_bpm[0])
    assert (state.current(0.0).tempo_bpm, state.current(0.0).source) == (125.0, "model")
    link_bpm[0] = 97.0
    assert state.current(0.0).source == "link"
    t = ticks(clock, 110.0, 100)
    r = state.current(t)
    assert (r.tempo_bpm, r.source) == (pytest.approx(110.0, abs=0.01), "midi")
    state.set_osc(133.0)
    assert (state.current(t).tempo_bpm, state.current(t).source) == (133.0, "osc")
    r = state.current(t, request_bpm=90.0)
    assert (r.tempo_bpm, r.source) == (90.0, "request")
    state.set_osc(None)                    # /beatgan/tempo 0 forgets the OSC tempo
    assert state.current(t).source == "midi"
    assert state.current(t + 5.0).source == "link"   # the clock went silent
    link_bpm[0] = None
    assert state.current(t + 5.0).source == "model"


@pytest.mark.parametrize("seed", range(5))
def test_bursts_of_late_ticks_do_not_move_the_tempo(seed):
    """A busy machine: ticks leave on time but now and then stall up to 60 ms and then arrive
    together; every tick is also delivered on a 5.8 ms audio-period grid (JACK MIDI). Late is
    the only direction, so the reading stays on the true tempo."""
    bpm, dt, period = 100.0, 60.0 / (100.0 * PPQN), 256 / 44100
    rng = np.random.default_rng(seed)
    clock = ClockTempo()
    readings, stall_until = [], -1.0
    for i in range(24 * 8):
        due = i * dt
        if rng.random() < 0.03:
            stall_until = due + rng.uniform(0.02, 0.06)
        sent = max(due, stall_until)
        arrives = np.ceil(sent / period) * period        # delivered at the next period start
        clock.tick(arrives)
        if i >= 48:
            readings.append(clock.tempo_bpm(arrives))
    assert max(abs(r - bpm) for r in readings) < 0.3, max(readings, key=lambda r: abs(r - bpm))
