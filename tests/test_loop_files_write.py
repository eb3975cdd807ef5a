"""How a loop's files reach the folder (issue 24's latency work): every file is written under a
temporary name, all are fsynced at once, then named; a failed fsync leaves nothing, a loop name
taken in the same millisecond still gives the MIDI track the loop's final name, and the daemon's
BEATGAN_TRACE_STAGES log names each stage of a request."""
from __future__ import annotations

import time

import mido
import pytest

import beatgan.bridge.loopfolder as lf_mod
from beatgan.bridge import worker as worker_mod
from beatgan.bridge.loop_parts import make_loops, write_loop_files
from beatgan.bridge.loopfolder import LoopFolder, LoopFolderError
from beatgan.bridge.requests import Generate, Origin
from beatgan.bridge.tempo import TempoReading
from beatgan.generator.engine import BeatGenerator

from dm_support import trained_drum_machine


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    gen = BeatGenerator.load(trained_drum_machine(tmp_path_factory))
    return make_loops(gen, [9], tempo_bpm=120, bars=1, rate=44100)[0]


def track_name(path) -> str:
    return next(m.name for m in mido.MidiFile(path).tracks[0] if m.type == "track_name")


def test_every_file_is_fsynced_before_any_is_named(made, tmp_path, monkeypatch):
    folder = LoopFolder(tmp_path)
    events: list[str] = []
    sync, publish = folder.sync_temp, folder._publish

    def logged_sync(tmp):
        sync(tmp)
        events.append("sync")

    def logged_publish(tmp, final):
        events.append("name")
        return publish(tmp, final)

    monkeypatch.setattr(folder, "sync_temp", logged_sync)
    monkeypatch.setattr(folder, "_publish", logged_publish)
    files = write_loop_files(folder, *made, 9, stems=True, midi=True)
    n = 1 + len(files.stems) + 1
    assert events == ["sync"] * n + ["name"] * n
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in [files.loop, *files.stems, files.midi])


def test_a_failed_fsync_leaves_nothing(made, tmp_path, monkeypatch):
    folder = LoopFolder(tmp_path)
    calls = []

    def failing(tmp):
        calls.append(tmp)
        if len(calls) == 3:
            raise LoopFolderError(5, "cannot write to loop folder x: input/output error")

    monkeypatch.setattr(folder, "sync_temp", failing)
    with pytest.raises(LoopFolderError, match="input/output error"):
        write_loop_files(folder, *made, 9, stems=True, midi=True)
    assert list(tmp_path.iterdir()) == []                 # no loop, no stem, no temporary file


def test_a_loop_name_taken_in_the_same_millisecond_renames_the_midi_track(made, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(lf_mod.time, "time", lambda: 1_750_000_000.123)
    folder = LoopFolder(tmp_path, fsync=False)
    first = write_loop_files(folder, *made, 9, stems=True, midi=True)
    second = write_loop_files(folder, *made, 9, stems=True, midi=True)
    assert second.loop.stem == first.loop.stem + "-2"
    assert second.midi.name == second.loop.stem + ".mid"
    assert track_name(first.midi) == first.loop.stem
    assert track_name(second.midi) == second.loop.stem
    assert not list(tmp_path.glob(".beatgan-*"))


def test_traced_stages_are_logged_in_order(monkeypatch):
    monkeypatch.setattr(worker_mod, "TRACE_STAGES", True)
    origin = Origin("/beatgan/generate", "osc test", time.perf_counter(), None)
    job = worker_mod.Job(Generate.from_osc([1]), 1, None, TempoReading(120.0, "request"),
                         "beats", origin)
    for stage in ("queued", "picked", "written"):
        job.mark(stage)
    words = job.stages().split()
    assert words[0::2] == ["queued", "picked", "written"]
    ms = [float(w) for w in words[1::2]]
    assert ms == sorted(ms) and 0.0 <= ms[0] < 1000.0
    monkeypatch.setattr(worker_mod, "TRACE_STAGES", False)
    job.mark("ignored")                                   # off: nothing is noted
    assert len(job.stamps) == 3
