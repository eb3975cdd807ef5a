"""Stems, MIDI and the re-timed render of a drum-machine bar (issue 24), as pure functions:

- the voice map gives hand-made kicks, snares, claps, hats and toms their General MIDI notes;
- the pattern keeps the hits at or above the threshold, in audible voices;
- the MIDI file opens in mido and its notes are the pattern's hits (tick, note, velocity);
- a re-timed render puts every hit on the host grid to the sample at 70/97.3/174 bpm, 44.1 and
  48 kHz (an impulse hit, a trained model's hits found by cross-correlation), equals the model's
  bar at the model tempo, sums its stems to the loop, wraps tails and has nothing above 7.35 kHz;
- stems and MIDI land next to the loop with the loop's tags;
- a WaveGAN is refused in one line.
"""
from __future__ import annotations

from dataclasses import replace

import mido
import numpy as np
import pytest
import soundfile as sf
import torch

from beatgan.bridge.bar_parts import BarParts, NotADrumMachine, bar_parts, require_drum_machine
from beatgan.bridge.loop_parts import FLOOR_NAME, make_loops, write_loop_files
from beatgan.bridge.loopfolder import LoopFolder
from beatgan.bridge.midi_file import CHANNEL, PPQ, note_events, pattern_midi, velocity_127
from beatgan.bridge.pattern import THRESHOLD, Pattern
from beatgan.bridge.retime import retime
from beatgan.bridge.voice_map import gm_note, measure
from beatgan.bridge.wavfile import read_chunk_ids
from beatgan.generator.engine import BeatGenerator

from conftest import make_tiny_model
from dm_support import trained_drum_machine

SR = 14700
TEMPOS = (70.0, 97.3, 174.0)
RATES = (44100, 48000)


@pytest.fixture(scope="module")
def trained_dm(tmp_path_factory):
    return BeatGenerator.load(trained_drum_machine(tmp_path_factory), device="cpu")


# ---- hand-made hits -----------------------------------------------------------------------

def _decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / SR / tau_s)


def _noise(n: int, lo_hz: float, hi_hz: float, seed: int = 0) -> np.ndarray:
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    return np.fft.irfft(spec * ((f >= lo_hz) & (f < hi_hz)), n)


def _sine(n: int, hz: float) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(n) / SR)


N = 8192
HAND_MADE = {
    # name: (hit, tonal part, expected GM note)
    "kick (55 Hz sine)": (_sine(N, 55) * _decay(N, 0.15), _sine(N, 55) * _decay(N, 0.15), 36),
    "kick (low noise band)": (_noise(N, 40, 120) * _decay(N, 0.2), None, 36),
    "closed hat": (_noise(N, 5000, 7300) * _decay(N, 0.015), None, 42),
    "open hat": (_noise(N, 5000, 7300) * _decay(N, 0.25), None, 46),
    "snare": (_noise(N, 800, 5000) * _decay(N, 0.07) + 0.6 * _sine(N, 190) * _decay(N, 0.08),
              0.6 * _sine(N, 190) * _decay(N, 0.08), 38),
    "clap": (_noise(N, 700, 3000) * _decay(N, 0.02), None, 39),
    "electric snare (long noise)": (_noise(N, 700, 3000) * _decay(N, 0.2), None, 40),
    "low tom": (_sine(N, 165) * _decay(N, 0.2), _sine(N, 165) * _decay(N, 0.2), 45),
    "low-mid tom": (_sine(N, 220) * _decay(N, 0.2), _sine(N, 220) * _decay(N, 0.2), 47),
    "high-mid tom": (_sine(N, 300) * _decay(N, 0.2), _sine(N, 300) * _decay(N, 0.2), 48),
    "high tom": (_sine(N, 500) * _decay(N, 0.2), _sine(N, 500) * _decay(N, 0.2), 50),
}


@pytest.mark.parametrize("name", list(HAND_MADE))
def test_voice_map_gives_hand_made_hits_their_general_midi_note(name):
    hit, tone, note = HAND_MADE[name]
    f = measure(hit, tone, SR)[0]
    assert gm_note(f) == note, f
    assert measure(hit, tone, SR) == measure(hit, tone, SR)          # deterministic


def hand_parts(hits, velocity, offset_steps=None, pan=None, tone=None) -> BarParts:
    """A BarParts from hand-set hits and pattern, no floor, at the model's 125 bpm / 14.7 kHz."""
    hits = np.atleast_2d(np.asarray(hits, np.float32))
    k = hits.shape[0]
    velocity = np.asarray(velocity, np.float32).reshape(k, -1)
    s = velocity.shape[1]
    return BarParts(SR, 125.0, 4, 28224, hits,
                    np.zeros_like(hits) if tone is None else np.asarray(tone, np.float32),
                    velocity, np.zeros(s, np.float32) if offset_steps is None
                    else np.asarray(offset_steps, np.float32),
                    np.ones((2, k), np.float32) if pan is None else np.asarray(pan, np.float32),
                    np.zeros((2, 28224), np.float32), 0.0, 1.0)


def test_pattern_keeps_hits_at_or_above_the_threshold_in_audible_voices():
    kick = HAND_MADE["kick (55 Hz sine)"]
    hat = HAND_MADE["closed hat"]
    vel = np.zeros((3, 16), np.float32)
    vel[0, [0, 8]] = 1.0
    vel[0, 4] = THRESHOLD * 0.99                                    # below: not a hit
    vel[1, ::2] = [0.5, 0.1, 0.7, 0.3, 0.6, 0.2, 0.9, 0.4]
    vel[2, :] = 1.0                                                 # a voice nobody can hear
    hits = np.stack([kick[0], hat[0], 1e-4 * hat[0]])
    tone = np.stack([kick[1], np.zeros(N), np.zeros(N)])
    off = np.linspace(-0.2, 0.2, 16)
    p = Pattern.from_parts(hand_parts(hits, vel, off, tone=tone))
    kick_v, hat_v, quiet = p.voices
    assert (kick_v.note, kick_v.name, hat_v.note, hat_v.name) == (36, "kick", 42, "hat")
    assert [h.step for h in kick_v.hits] == [0, 8]
    assert [h.step for h in hat_v.hits] == list(range(0, 16, 2))
    assert [h.velocity for h in hat_v.hits] == pytest.approx(vel[1, ::2])
    assert [h.offset_steps for h in hat_v.hits] == pytest.approx(off[::2])
    assert quiet.hits == () and quiet.level_db < -40
    assert p.stem_names() == ["stem0-kick", "stem1-hat", "stem2-hat"]


def test_midi_file_opens_in_mido_and_its_notes_are_the_hits(tmp_path):
    vel = np.zeros((2, 16), np.float32)
    vel[0, [0, 6, 10]] = [1.0, 0.8, 0.55]
    vel[1, ::2] = 0.5
    off = np.zeros(16, np.float32)
    off[6], off[0] = 0.2, -0.1            # pushed late; the downbeat pulled before the bar start
    parts = hand_parts(np.stack([HAND_MADE["kick (55 Hz sine)"][0], HAND_MADE["closed hat"][0]]),
                       vel, off, tone=np.stack([HAND_MADE["kick (55 Hz sine)"][1], np.zeros(N)]))
    pattern = Pattern.from_parts(parts)
    bars = 2
    path = tmp_path / "p.mid"
    path.write_bytes(pattern_midi(pattern, 97.3, bars))
    mid = mido.MidiFile(path)
    assert (mid.type, mid.ticks_per_beat, len(mid.tracks)) == (0, PPQ, 1)
    tempo = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempo == [mido.bpm2tempo(97.3)] and abs(mido.tempo2bpm(tempo[0]) - 97.3) < 1e-3
    now, ons = 0, []
    for m in mid.tracks[0]:
        now += m.time
        if m.type == "note_on" and m.velocity > 0:
            assert m.channel == CHANNEL == 9
            ons.append((now, m.note, m.velocity))
        if m.type == "end_of_track":
            assert now == bars * 4 * PPQ                            # the clip is exactly 2 bars
    want = []
    total = bars * 16 * 120
    for j in range(bars):
        for k, note in ((0, 36), (1, 42)):
            for s in np.nonzero(vel[k] >= THRESHOLD)[0]:
                want.append((int(round((j * 16 + s + off[s]) * 120)) % total, note,
                             max(1, round(127 * float(vel[k, s])))))
    assert sorted(ons) == sorted(want)
    assert (total - 12, 36, 127) in ons                             # -0.1 step wrapped to the end
    assert sorted(ons) == note_events(pattern, bars)


def test_two_voices_on_one_note_and_tick_make_one_note_at_the_louder_velocity():
    kick = HAND_MADE["kick (55 Hz sine)"]
    vel = np.zeros((2, 16), np.float32)
    vel[0, [0, 8]] = [0.5, 1.0]
    vel[1, [0, 4]] = [0.9, 0.3]
    p = Pattern.from_parts(hand_parts(np.stack([kick[0], kick[0]]), vel,
                                      tone=np.stack([kick[1], kick[1]])))
    assert [v.note for v in p.voices] == [36, 36]
    assert note_events(p) == [(0, 36, 114), (480, 36, 38), (960, 36, 127)]


# ---- re-timed renders -------------------------------------------------------------------

def impulse_parts(steps_on, offset_steps=None) -> BarParts:
    """One voice whose hit is a unit impulse, on the given steps at velocity 1."""
    hit = np.zeros(N, np.float32)
    hit[0] = 1.0
    vel = np.zeros((1, 16), np.float32)
    vel[0, list(steps_on)] = 1.0
    return hand_parts(hit, vel, offset_steps)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("tempo", TEMPOS)
def test_every_hit_lands_on_the_host_grid_to_the_sample(tempo, rate):
    off = np.zeros(16, np.float32)
    off[[3, 7, 11]] = [0.13, -0.21, 0.05]                           # micro-timing is kept too
    bars = 2
    r = retime(impulse_parts(range(16), off), tempo, bars=bars, rate=rate, normalize=False)
    step_out = 4 * 60 * rate / tempo / 16
    assert r.loop.shape == (2, round(bars * 4 * 60 / tempo * rate))
    x = r.loop[0]
    for j in range(bars):
        for s in range(16):
            exact = (j * 16 + s + off[s]) * step_out                # host grid + offset, samples
            lo = int(exact) - int(step_out / 3)
            window = x[np.arange(lo, lo + int(2 * step_out / 3)) % len(x)]
            found = lo + int(np.abs(window).argmax())
            assert abs(found - exact) <= 1.0, (j, s, found, exact)
            assert found == r.positions[j, s]


def test_retimed_render_at_the_model_tempo_and_rate_is_the_models_bar(tmp_path):
    """Known positions from the model: with micro-timing off, re-timing at 125 bpm and 14.7 kHz
    rebuilds decode(z) itself (every velocity, pan and the model's level)."""
    gen = BeatGenerator.load(make_tiny_model(tmp_path / "dm", name="drum-machine", model_size=1),
                             device="cpu")
    with torch.no_grad():
        gen.net.timing_head.weight.zero_()
        gen.net.timing_head.bias.zero_()
    parts = bar_parts(gen, [5, 6], exact_level=True)
    bars = gen.generate([5, 6])
    for p, bar in zip(parts, bars):
        assert np.abs(p.offset_steps).max() == 0.0
        r = retime(p, 125.0, bars=1, rate=SR, normalize=False)
        assert np.abs(r.loop - bar).max() < 1e-5 * max(1.0, np.abs(bar).max() * 10)
        assert np.abs(r.stems.sum(0) + r.floor - r.loop).max() < 1e-6


def test_a_seeds_parts_do_not_depend_on_its_batch(trained_dm):
    alone, batched = bar_parts(trained_dm, [5])[0], bar_parts(trained_dm, [4, 5, 6])[1]
    assert np.abs(alone.hits - batched.hits).max() < 1e-6


def test_tone_part_is_the_hit_with_its_noise_bands_silent(trained_dm):
    from beatgan.bridge.bar_parts import tone_part

    net = trained_dm.net
    with torch.inference_mode():
        p = net.parameters_for(torch.randn(3, net.cfg.latent_dim))
        p["tone_gain"] = p["tone_gain"] + 0.5                       # trained tones start silent
        want = net.hits({**p, "band_gain": torch.zeros_like(p["band_gain"])})
        assert torch.allclose(tone_part(net, p), want, atol=1e-6)


def test_a_trained_models_hits_land_on_the_grid_by_cross_correlation(trained_dm):
    """For each voice, keep one step's hit: the lag of the stem against the hit (resampled on its
    own by soxr) is that step's host-grid time plus the model's offset, to the sample."""
    import soxr

    gen = trained_dm
    parts = bar_parts(gen, [11])[0]
    for tempo, rate in ((70.0, 44100), (97.3, 48000), (174.0, 44100)):
        step_out = 4 * 60 * rate / tempo / 16
        for k, s in ((0, 0), (3, 5), (5, 10), (7, 15)):
            vel = np.zeros_like(parts.velocity)
            vel[k, s] = 1.0
            r = retime(replace(parts, velocity=vel), tempo, bars=1, rate=rate, normalize=False)
            stem = r.stems[k, 0].astype(np.float64)
            # The hit resampled on its own, with 294 zeros (20 ms) of lead-in for the filter.
            hit = soxr.resample(np.pad(parts.hits[k].astype(np.float64), (294, 294)), SR, rate,
                                quality="HQ")[rate // 50:]
            spec = np.fft.rfft(stem) * np.conj(np.fft.rfft(hit, len(stem)))
            lag = int(np.argmax(np.fft.irfft(spec, len(stem))))
            exact = (s + float(parts.offset_steps[s])) * step_out
            off = (lag - exact) % len(stem)       # a hit pulled before the downbeat wraps
            assert min(off, len(stem) - off) <= 1.0, (tempo, rate, k, s, lag, exact)
            # The voice keeps its length and pitch: the placed hit is the hit, sample for sample
            # (the stem wraps round the loop end like the hit's tail does).
            placed = np.roll(stem, -lag)[:len(hit)] / parts.pan_gains[0, k]
            assert np.corrcoef(placed, hit)[0, 1] > 0.99999


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("tempo", TEMPOS)
def test_stems_sum_to_the_loop(trained_dm, tempo, rate):
    for parts in bar_parts(trained_dm, [1, 2]):
        r = retime(parts, tempo, bars=2, rate=rate)
        assert r.stems.shape == (parts.voices, 2, r.loop.shape[1])
        assert np.abs(r.stems.sum(0) + r.floor - r.loop).max() < 1e-4
        # One gain for all: the loudest sample of the loop or of any stem is at -1 dBFS.
        peak = max(np.abs(r.loop).max(), np.abs(r.stems).max())
        assert peak == pytest.approx(10 ** (-1 / 20), rel=1e-5)


@pytest.mark.parametrize("kw, message", [
    ({"tempo_bpm": 30.0}, "outside 40..300"), ({"bars": 0}, "bars must be"),
    ({"rate": 1000}, "rate must be"), ({"headroom_db": -1.0}, "headroom_db")])
def test_retime_refuses_what_render_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        retime(impulse_parts([0]), **{"tempo_bpm": 120.0, **kw})


def test_tails_wrap_round_the_loop_end():
    hit = (_noise(N, 200, 4000) * _decay(N, 0.3)).astype(np.float32)
    vel = np.zeros((1, 16), np.float32)
    vel[0, 15] = 1.0
    r = retime(hand_parts(hit, vel), 174.0, bars=1, rate=44100, normalize=False)
    n = r.loop.shape[1]
    start = int(r.positions[0, 15])
    assert n - start < 3 * N                                        # the hit outlasts the bar end
    head = r.loop[0, : 3 * N - (n - start) - 400]                   # where the tail wrapped to
    assert np.abs(head).max() > 1e-3


def test_nothing_above_7_35_khz_in_a_retimed_render(trained_dm):
    """The model synthesises at 14.7 kHz: every voice ends at 7.35 kHz. Resampling a hit once
    (soxr HQ) adds nothing above it; measured here, and quoted in docs/render.md."""
    for rate in RATES:
        r = retime(bar_parts(trained_dm, [3])[0], 97.3, bars=1, rate=rate)
        spec = np.abs(np.fft.rfft(r.loop.astype(np.float64), axis=1)) ** 2
        f = np.fft.rfftfreq(r.loop.shape[1], 1 / rate)
        above_db = 10 * np.log10(spec[:, f > 7350].sum() / spec.sum() + 1e-300)
        print(f"{rate} Hz: energy above 7.35 kHz re total: {above_db:.1f} dB")
        assert above_db < -90


# ---- files ------------------------------------------------------------------------------

def test_stems_and_midi_land_next_to_the_loop_with_its_tags(trained_dm, tmp_path):
    folder = LoopFolder(tmp_path / "loops")
    (r, pattern), = make_loops(trained_dm, [9], tempo_bpm=97.3, bars=2, rate=48000)
    files = write_loop_files(folder, r, pattern, 9, stems=True, midi=True)
    assert files.loop.name.startswith("beatgan_97.3bpm_s9_2bar_")
    assert len(files.stems) == len(pattern.voices) + 1            # every voice, then the floor
    base = files.loop.stem
    for path, name in zip(files.stems, pattern.stem_names() + [FLOOR_NAME]):
        assert path.name == f"{base}_{name}.wav" and "stem" in path.name
    loop, rate = sf.read(files.loop, always_2d=True)
    total = np.zeros_like(loop)
    for path in files.stems:
        x, rate_s = sf.read(path, always_2d=True)
        assert x.shape == loop.shape and rate_s == rate == 48000
        assert [c[0] for c in read_chunk_ids(path)] == [c[0] for c in read_chunk_ids(files.loop)]
        total += x
    assert np.abs(total - loop).max() < 1e-4                        # after 24-bit rounding too
    mid = mido.MidiFile(files.midi)
    assert files.midi.name == f"{base}.mid"
    now, ons = 0, []
    for m in mid.tracks[0]:
        now += m.time
        if m.type == "note_on":
            ons.append((now, m.note, m.velocity))
    assert ons == note_events(pattern, 2) and len(ons) > 0
    assert not list(tmp_path.glob("loops/.beatgan-*"))              # no temporary file left


def test_a_failed_stem_publishes_no_stem_or_midi_file_and_leaves_no_temporary_file(
        trained_dm, tmp_path, monkeypatch):
    import threading

    from beatgan.bridge.loopfolder import LoopFolderError
    folder = LoopFolder(tmp_path / "loops")
    (r, pattern), = make_loops(trained_dm, [9], tempo_bpm=120, bars=1, rate=44100)
    write_temp, calls, lock = folder.write_temp, [0], threading.Lock()

    def failing(chunks, **kw):
        with lock:
            calls[0] += 1
            nth = calls[0]
        if nth == 4:                                  # a stem (the loop and MIDI file before it)
            raise LoopFolderError(28, "cannot write to loop folder x: the disk is full")
        return write_temp(chunks, **kw)

    monkeypatch.setattr(folder, "write_temp", failing)
    with pytest.raises(LoopFolderError, match="disk is full"):
        write_loop_files(folder, r, pattern, 9, stems=True, midi=True)
    left = sorted(p.name for p in (tmp_path / "loops").iterdir())
    assert len(left) <= 1 and all("stem" not in n and n.endswith(".wav") for n in left), left


def test_a_wavegan_is_refused_in_one_line(tiny_generator):
    with pytest.raises(NotADrumMachine) as e:
        require_drum_machine(tiny_generator)
    arch = tiny_generator.card.config.arch
    assert str(e.value) == ("stems and MIDI need a drum-machine model; the loaded model is a "
                            f"WaveGAN (arch {arch})")
    with pytest.raises(NotADrumMachine):
        bar_parts(tiny_generator, [1])


def test_velocity_maps_to_1_127():
    assert [velocity_127(v) for v in (0.0, 0.1, 0.5, 1.0, 1.2)] == [1, 13, 64, 127, 127]
