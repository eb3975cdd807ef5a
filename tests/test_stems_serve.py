"""Stems and MIDI end to end (issue 24): `beatgan generate --stems --midi` and `beatgan serve`
(flags and /beatgan/stems, /beatgan/midi over OSC) with a small drum-machine model trained for
real; a WaveGAN, or a drum machine in repitch mode, is refused in one line.

The loop a drum machine makes in `beats` mode is the re-timed pattern: the files are compared
with `retime` of the model's own parts, the MIDI notes with its pattern, the stems with the loop.
"""
from __future__ import annotations

import mido
import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge.bar_parts import bar_parts
from beatgan.bridge.cli import main as cli_main
from beatgan.bridge.midi_file import note_events
from beatgan.bridge.pattern import Pattern
from beatgan.bridge.retime import retime
from beatgan.generator.engine import BeatGenerator

from dm_support import trained_drum_machine
from serve_support import DaemonProcess

WAVEGAN_REFUSAL = ("stems and MIDI need a drum-machine model; the loaded model is a WaveGAN "
                   "(arch bar)")


@pytest.fixture(scope="module")
def dm_model(tmp_path_factory):
    return trained_drum_machine(tmp_path_factory)


def midi_notes(path) -> list[tuple[int, int, int]]:
    now, out = 0, []
    for m in mido.MidiFile(path).tracks[0]:
        now += m.time
        if m.type == "note_on" and m.velocity > 0:
            out.append((now, m.note, m.velocity))
    return out


def check_loop_files(loop, midi, stems, gen, seed, bpm, bars, rate):
    """The loop is the re-timed pattern of the seed's bar; the stems sum to it; the MIDI file's
    notes are its pattern; every file has the loop's length and rate."""
    x, sr = sf.read(loop, always_2d=True)
    parts = bar_parts(gen, [seed])[0]
    want = retime(parts, bpm, bars, rate).loop.T
    assert sr == rate and x.shape == want.shape
    assert np.abs(x - want).max() < 2e-6                   # 24-bit rounding only
    total = np.zeros_like(x)
    for path in stems:
        s, sr_s = sf.read(path, always_2d=True)
        assert s.shape == x.shape and sr_s == rate and "stem" in str(path)
        total += s
    assert len(stems) == parts.voices + 1
    assert np.abs(total - x).max() < 1e-4
    assert midi_notes(midi) == note_events(Pattern.from_parts(parts), bars)
    assert abs(mido.tempo2bpm([m for m in mido.MidiFile(midi).tracks[0]
                               if m.type == "set_tempo"][0].tempo) - bpm) < 1e-3


def test_generate_writes_each_loop_with_its_stems_and_midi(dm_model, tmp_path, capsys):
    out = tmp_path / "loops"
    assert cli_main(["generate", "-n", "2", "--seed", "5", "--bpm", "97.3", "--bars", "2",
                     "--rate", "48000", "--model", str(dm_model), "--out", str(out),
                     "--stems", "--midi"]) == 0
    printed = capsys.readouterr().out.split()
    gen = BeatGenerator.load(dm_model, device="cpu")
    loops = [p for p in out.glob("beatgan_97.3bpm_s*_2bar_*.wav") if "_stem" not in p.name]
    assert len(loops) == 2
    for loop, seed in zip(sorted(loops, key=lambda p: p.name), (5, 6)):
        assert f"_s{seed}_" in loop.name
        stems = sorted(out.glob(loop.stem + "_stem*.wav"), key=lambda p: p.name)
        stems = [p for p in stems if "floor" not in p.name] + [out / f"{loop.stem}_stem-floor.wav"]
        midi = loop.with_suffix(".mid")
        for path in (loop, midi, *stems):
            assert str(path) in printed                   # every file written is named
        check_loop_files(loop, midi, stems, gen, seed, 97.3, 2, 48000)


def test_a_drum_machine_loop_is_retimed_without_stems_too(dm_model, tmp_path):
    out = tmp_path / "loops"
    assert cli_main(["generate", "--seed", "3", "--bpm", "174", "--model", str(dm_model),
                     "--out", str(out)]) == 0
    (loop,) = out.glob("*.wav")
    gen = BeatGenerator.load(dm_model, device="cpu")
    x, _ = sf.read(loop, always_2d=True)
    assert np.abs(x - retime(bar_parts(gen, [3])[0], 174.0, 1, 44100).loop.T).max() < 2e-6


def test_generate_refuses_stems_for_a_wavegan_in_one_line(tiny_model, tmp_path, capsys):
    for flag in ("--stems", "--midi"):
        assert cli_main(["generate", "--model", str(tiny_model), "--out", str(tmp_path / "o"),
                         flag]) != 0
        err = capsys.readouterr().err.strip()
        assert err == f"beatgan generate: error: {WAVEGAN_REFUSAL}"
    assert not (tmp_path / "o").exists()


def test_generate_refuses_stems_outside_the_retimed_mode(dm_model, tmp_path, capsys):
    assert cli_main(["generate", "--model", str(dm_model), "--out", str(tmp_path / "o"),
                     "--mode", "repitch", "--stems"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("stems and MIDI come with the re-timed pattern (mode beats); the mode "
                        "is repitch")


def test_serve_writes_stems_and_midi_when_asked_over_osc(dm_model, tmp_path):
    d = DaemonProcess(tmp_path / "d", dm_model, "--no-midi", "--no-audio").start()
    try:
        with d.client() as c:
            assert c.ask("/beatgan/generate", 7, 120.0, 1)[0] == "/beatgan/done"
            address, args = c.ask("/beatgan/generate", 7, 120.0, 1)
            assert len(args) == 5, "parts are listed only when asked for"
            assert c.ask("/beatgan/stems", 1) == ("/beatgan/stems", [1])
            assert c.ask("/beatgan/midi", 1) == ("/beatgan/midi", [1])
            address, args = c.ask("/beatgan/generate", 7, 174.0, 2)
            assert address == "/beatgan/done", args
            path, seed, bpm, bars, latency, midi, *stems = args
            assert (seed, bars) == (7, 2) and abs(bpm - 174.0) < 1e-4
            gen = BeatGenerator.load(dm_model, device="cpu")
            check_loop_files(path, midi, stems, gen, 7, 174.0, 2, 44100)
            # a variation and a morph come with their parts too
            address, args = c.ask("/beatgan/variation", 7, 0.3, 120.0, 1)
            assert address == "/beatgan/done" and len(args) == 5 + 1 + gen.card.config.voices + 1
            assert c.ask("/beatgan/midi", 0) == ("/beatgan/midi", [0])
            address, args = c.ask("/beatgan/morph", 1, 2, 0.5, 120.0, 1)
            assert args[5] == "" and len(args) == 5 + 1 + gen.card.config.voices + 1
            # stems in repitch mode: the request fails, saying why
            assert c.ask("/beatgan/mode", "repitch") == ("/beatgan/mode", ["repitch"])
            address, args = c.ask("/beatgan/generate", 1, 120.0, 1)
            assert address == "/beatgan/error" and "mode beats" in args[1]
    finally:
        d.stop()


def test_serve_flags_turn_stems_and_midi_on_and_a_wavegan_refuses_them(dm_model, tiny_model,
                                                                      tmp_path):
    d = DaemonProcess(tmp_path / "d", dm_model, "--no-midi", "--no-audio", "--stems",
                      "--midi").start()
    try:
        with d.client() as c:
            address, args = c.ask("/beatgan/generate", 2, 120.0, 1)
            assert address == "/beatgan/done" and args[5].endswith(".mid") and len(args) > 7
    finally:
        d.stop()
    w = DaemonProcess(tmp_path / "w", tiny_model, "--no-midi", "--no-audio").start()
    try:
        with w.client() as c:
            assert c.ask("/beatgan/stems", 1) == ("/beatgan/error",
                                                   ["/beatgan/stems", WAVEGAN_REFUSAL])
            assert c.ask("/beatgan/midi", 0) == ("/beatgan/midi", [0])   # off is always fine
    finally:
        w.stop()
