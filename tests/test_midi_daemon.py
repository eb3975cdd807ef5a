"""MIDI into the real daemon through a real backend: python-rtmidi over a JACK dummy server.

Why JACK and not ALSA: CI machines and containers have no /dev/snd/seq, so rtmidi's ALSA API
cannot even be constructed there; rtmidi's JACK API works against `jackd -d dummy`, which the
fixture starts under a unique server name. The daemon gets the same server through
JACK_DEFAULT_SERVER and finds the JACK API by itself (its default backend falls back to it).
"""
from __future__ import annotations

import time

import mido
import pytest
import soundfile as sf

from serve_support import DaemonProcess, JackServer

BACKEND = "mido.backends.rtmidi/UNIX_JACK"
KEYS = "TestKeys"


@pytest.fixture(scope="module")
def jack():
    why = JackServer.missing()
    assert why is None, why
    server = JackServer().start()
    with pytest.MonkeyPatch.context() as mp:
        # rtmidi in this process reaches the same server as the daemon
        for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER"):
            mp.setenv(k, server.env()[k])
        yield server
    server.stop()


@pytest.fixture(scope="module")
def backend(jack):
    return mido.Backend(BACKEND, load=True)


@pytest.fixture(scope="module")
def keys(backend):
    """A virtual output port of ours (a keyboard, or loopMIDI on Windows); the daemon opens it
    by name with --midi-in."""
    port = backend.open_output(KEYS, virtual=True)
    holder = {"port": port}
    yield holder
    holder["port"].close()


@pytest.fixture(scope="module")
def daemon(jack, keys, tiny_model, tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("midi_daemon"), tiny_model, "--no-audio",
                      "--midi-in", KEYS, env=jack.env()).start()
    wait_connected(jack, KEYS)
    yield d
    assert d.stop() == 0, d.log()


def wait_connected(jack: JackServer, port: str, timeout: float = 10.0) -> None:
    """Until the daemon's input is connected to our port in the JACK graph, events sent to it
    go nowhere (JACK applies a new connection at its next cycle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = jack.connections().splitlines()
        for i, line in enumerate(lines):
            if line.endswith(":" + port) and i + 1 < len(lines) and lines[i + 1].startswith(" "):
                time.sleep(0.1)
                return
        time.sleep(0.05)
    raise AssertionError(f"the daemon never connected to {port}:\n{jack.connections()}")


def note(keys, n, velocity=100):
    keys["port"].send(mido.Message("note_on", note=n, velocity=velocity))
    keys["port"].send(mido.Message("note_off", note=n))


def test_summary_names_the_port(daemon):
    midi = daemon.line("midi")
    assert KEYS in midi and "jack" in midi.lower() and "36-47" in midi, midi


def test_notes_trigger_loops_answered_on_the_reply_port(daemon, keys):
    with daemon.client() as osc:
        note(keys, 36, velocity=1)                  # empty slot 0: a fresh seed, kept
        address, args = osc.recv(timeout=20)
        assert address == "/beatgan/done", (address, args)
        seed = args[1]
        assert sf.info(args[0]).frames > 0
        note(keys, 36, velocity=1)                  # same key: the same seed again
        assert osc.recv(timeout=20)[1][1] == seed
        note(keys, 36, velocity=64)                 # velocity = variation amount
        address, args = osc.recv(timeout=20)
        assert address == "/beatgan/done" and args[1] == seed and "_var050_" in args[0]
        note(keys, 60)                              # any other note: a random seed
        address, args = osc.recv(timeout=20)
        assert address == "/beatgan/done" and args[1] != seed


def test_sustain_pedal_saves_the_last_seed_into_a_slot(daemon, keys):
    with daemon.client() as osc:
        note(keys, 72)
        last = osc.recv(timeout=20)[1][1]
        keys["port"].send(mido.Message("control_change", control=64, value=127))
        note(keys, 40)
        keys["port"].send(mido.Message("control_change", control=64, value=0))
        assert osc.recv(timeout=20) == ("/beatgan/slot", [4, last])
        note(keys, 40, velocity=1)
        assert osc.recv(timeout=20)[1][1] == last


def test_midi_clock_sets_the_host_tempo(daemon, keys):
    with daemon.client() as osc:
        assert osc.ask("/beatgan/status")[1][2:4] == [125.0, "model"]
        port = keys["port"]
        bpm = 100.0
        tick = 60.0 / (bpm * 24)
        port.send(mido.Message("start"))
        t0 = time.perf_counter()
        for i in range(24 * 4):                     # one bar of clock, paced by the clock
            while time.perf_counter() < t0 + i * tick:
                time.sleep(0.0005)
            port.send(mido.Message("clock"))
        _, status = osc.ask("/beatgan/status")
        assert status[3] == "midi" and status[2] == pytest.approx(bpm, abs=0.5), status
        note(keys, 61)
        address, args = osc.recv(timeout=20)
        assert address == "/beatgan/done" and args[2] == pytest.approx(bpm, abs=0.5)
        assert osc.ask("/beatgan/tempo", 140.0)[1] == [140.0, "osc"]   # OSC outranks MIDI
        assert osc.ask("/beatgan/tempo", 0)[1][1] == "midi"
        port.send(mido.Message("stop"))
        time.sleep(1.3)                             # clock silent > 1 s: no longer counts
        assert osc.ask("/beatgan/status")[1][2:4] == [125.0, "model"]


def test_vanished_port_is_reopened_when_it_comes_back(daemon, keys, backend, jack):
    keys["port"].close()
    deadline = time.monotonic() + 10
    while "vanished" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "vanished" in daemon.log()
    with daemon.client() as osc:
        assert osc.ping(7)
        keys["port"] = backend.open_output(KEYS, virtual=True)
        deadline = time.monotonic() + 10
        while "is back" not in daemon.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "is back" in daemon.log()
        wait_connected(jack, KEYS)
        note(keys, 62)
        assert osc.recv(timeout=20)[0] == "/beatgan/done"
        assert daemon.leftovers() == []


def test_default_is_a_virtual_port_named_beatgan(jack, backend, tiny_model, tmp_path):
    d = DaemonProcess(tmp_path / "virtual", tiny_model, "--no-audio", env=jack.env()).start()
    try:
        assert "virtual input 'BeatGAN'" in d.line("midi")
        names = [n for n in backend.get_output_names() if "BeatGAN" in n]
        assert names, backend.get_output_names()
        with backend.open_output(names[0]) as out, d.client() as osc:
            wait_connected(jack, "BeatGAN")
            out.send(mido.Message("note_on", note=50, velocity=90))
            assert osc.recv(timeout=20)[0] == "/beatgan/done"
    finally:
        assert d.stop() == 0, d.log()
