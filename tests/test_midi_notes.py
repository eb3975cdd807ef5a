"""The MIDI note map and port matching (pure; the real backend is in test_midi_daemon.py)."""
from __future__ import annotations

import itertools
import json

import mido
import pytest

from beatgan.bridge.midi_in import NoteMap, match_port, velocity_amount
from beatgan.bridge.requests import Generate, Slot, Variation
from beatgan.bridge.slots import SeedSlots


def note_map(tmp_path, base=36):
    seeds = itertools.count(1000)
    slots = SeedSlots(tmp_path / "slots.json")
    return NoteMap(slots, lambda: next(seeds), base_note=base, bars=2), slots


def on(note, velocity=1):
    return mido.Message("note_on", note=note, velocity=velocity)


def test_other_notes_ask_for_fresh_random_seeds(tmp_path):
    nm, _ = note_map(tmp_path)
    for note in (0, 35, 48, 60, 127):
        assert nm.translate(on(note, 100)) == Generate(seed=None, bars=2)


def test_empty_slot_gets_a_seed_that_is_kept_and_saved(tmp_path):
    nm, slots = note_map(tmp_path)
    assert nm.translate(on(36)) == Generate(seed=1000, bars=2)
    assert nm.translate(on(36)) == Generate(seed=1000, bars=2)   # same key, same bar
    assert nm.translate(on(47)) == Generate(seed=1001, bars=2)   # the 12th slot
    saved = json.loads((tmp_path / "slots.json").read_text())["seeds"]
    assert saved[0] == 1000 and saved[11] == 1001 and saved[1:11] == [None] * 10
    # A new daemon reads the same slots back.
    assert SeedSlots(tmp_path / "slots.json").all() == saved


def test_velocity_is_the_variation_amount(tmp_path):
    nm, _ = note_map(tmp_path)
    assert velocity_amount(1) == 0.0 and velocity_amount(127) == 1.0
    assert velocity_amount(64) == pytest.approx(63 / 126)
    req = nm.translate(on(40, 64))
    assert isinstance(req, Variation)
    assert (req.seed, req.amount, req.bars) == (1000, pytest.approx(63 / 126), 2)
    assert nm.translate(on(40, 127)).amount == 1.0


def test_sustain_pedal_turns_slot_keys_into_save(tmp_path):
    nm, _ = note_map(tmp_path)
    assert nm.translate(mido.Message("control_change", control=64, value=127)) is None
    assert nm.translate(on(38, 90)) == Slot(slot=2)
    assert nm.translate(on(60, 90)) == Generate(seed=None, bars=2)  # other keys still play
    nm.translate(mido.Message("control_change", control=64, value=0))
    assert isinstance(nm.translate(on(38, 90)), Variation)


def test_note_off_and_other_messages_do_nothing(tmp_path):
    nm, _ = note_map(tmp_path)
    for m in (on(36, 0), mido.Message("note_off", note=36),
              mido.Message("control_change", control=1, value=5),
              mido.Message("pitchwheel", pitch=100), mido.Message("program_change", program=3)):
        assert nm.translate(m) is None


def test_base_note_moves_the_slots(tmp_path):
    nm, _ = note_map(tmp_path, base=60)
    assert nm.translate(on(36)) == Generate(seed=None, bars=2)
    assert nm.translate(on(71)) == Generate(seed=1000, bars=2)


def test_damaged_slots_file_starts_empty(tmp_path):
    path = tmp_path / "slots.json"
    path.write_text('{"seeds": [1, 2]}')
    assert SeedSlots(path).all() == [None] * 12
    path.write_text("not json")
    assert SeedSlots(path).all() == [None] * 12


def test_unwritable_slots_file_keeps_slots_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    slots = SeedSlots(blocker / "slots.json")   # its parent is a file: nothing can be written
    slots.set(0, 5)
    assert slots.get(0) == 5


@pytest.mark.parametrize("names, want, expected", [
    (["RtMidiOut Client-01:TestKeys"], "TestKeys", "RtMidiOut Client-01:TestKeys"),
    (["TestKeys:TestKeys 128:0", "Other:Other 129:0"], "TestKeys", "TestKeys:TestKeys 128:0"),
    (["loopMIDI Port 0"], "loopMIDI Port 0", "loopMIDI Port 0"),
    (["IAC Driver Bus 1"], "iac", "IAC Driver Bus 1"),
    (["a:Keys", "b:Keys2"], "Keys", "a:Keys"),
    (["a:Pads"], "Keys", None),
    ([], "Keys", None),
])
def test_port_matching(names, want, expected):
    assert match_port(names, want) == expected
