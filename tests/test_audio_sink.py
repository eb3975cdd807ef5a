"""The audio sink: the pure loop player, then the real daemon through a real PortAudio device
(JACK's dummy driver, captured by jack_rec, a JACK client we did not write)."""
from __future__ import annotations

import numpy as np
import pytest

from beatgan.bridge.audio_sink import LoopPlayer


def ramp(n: int, offset: float = 0.0, channels: int = 2) -> np.ndarray:
    """A loop whose every sample is distinct, so any gap, repeat or jump shows."""
    x = (np.arange(n, dtype=np.float32) + offset) / 100000.0
    return np.stack([x, -x][:channels])


def pull(player: LoopPlayer, frames: int, block: int) -> np.ndarray:
    """Whole device blocks until at least `frames` came out; returns all of them (channels, n)."""
    blocks = []
    while sum(len(b) for b in blocks) < frames:
        buf = np.empty((block, player.channels), np.float32)
        player.process(buf)
        blocks.append(buf)
    return np.concatenate(blocks).T


@pytest.mark.parametrize("block", [1, 64, 256, 1000, 4096])
def test_loops_gaplessly(block):
    a = ramp(1000)
    p = LoopPlayer(2)
    p.queue(a, beats=4)
    p.play()
    out = pull(p, 3500, block)[:, :3500]
    assert np.array_equal(out, np.concatenate([a, a, a, a[:, :500]], axis=1))


def test_silent_until_play_and_after_stop():
    p = LoopPlayer(2)
    p.queue(ramp(100), beats=4)
    assert not pull(p, 300, 64).any()
    p.play()
    assert pull(p, 50, 64).any()
    p.stop()
    assert not pull(p, 300, 64).any()
    p.play()                                   # starts again from the top of the loop
    assert np.array_equal(pull(p, 100, 100), ramp(100))


@pytest.mark.parametrize("block", [7, 256, 999, 2500])
def test_new_loop_starts_exactly_at_the_next_wrap(block):
    a, b, c = ramp(1000), ramp(600, offset=5000), ramp(800, offset=9000)
    p = LoopPlayer(2)
    p.queue(a, beats=4)
    p.play()
    first = pull(p, 1, block)                  # one block: the queue comes mid-loop
    p.queue(b, beats=4)                        # replaced before it plays: the latest bar wins
    p.queue(c, beats=4)
    out = np.concatenate([first, pull(p, 6000, block)], axis=1)[:, :6000]
    # The stream is whole `a` loops (the one playing, and any that ended within the first
    # block), then `c` over and over: no gap, no partial loop, never `b`.
    k = 1000 * (block // 1000 + 1)
    expected = np.concatenate([np.tile(a, (1, k // 1000)), np.tile(c, (1, 10))], axis=1)
    assert np.array_equal(out, expected[:, :6000])


def test_queue_while_stopped_replaces_now():
    a, b = ramp(100), ramp(100, offset=500)
    p = LoopPlayer(2)
    p.queue(a, beats=4)
    p.queue(b, beats=4)
    p.play()
    assert np.array_equal(pull(p, 100, 100), b)


def test_stop_promotes_the_waiting_loop():
    a, b = ramp(100), ramp(100, offset=500)
    p = LoopPlayer(2)
    p.queue(a, beats=4)
    p.play()
    pull(p, 10, 10)
    p.queue(b, beats=4)
    p.stop()
    p.play()
    assert np.array_equal(pull(p, 100, 100), b)


def test_play_aligns_to_the_host_song_position():
    a = ramp(1000)
    p = LoopPlayer(2)
    p.queue(a, beats=4)
    p.play(beat_position=9.0)                  # beat 1 of bar 3 -> a quarter into the loop
    assert np.array_equal(pull(p, 10, 10), a[:, 250:260])
    p.stop()
    p.queue(ramp(1000), beats=8)               # a 2-bar loop: beat 9 is in its first half
    p.play(beat_position=9.0)
    assert np.array_equal(pull(p, 10, 10), a[:, 125:135])
    p.stop()
    p.play(beat_position=9.0, ahead_frames=900)   # output latency: start further on, wrapped
    assert np.array_equal(pull(p, 10, 10), a[:, 25:35])


def test_channel_mismatch():
    mono = LoopPlayer(1)
    mono.queue(ramp(10), beats=4)
    mono.play()
    assert np.allclose(pull(mono, 10, 10)[0], 0.0)   # (x + -x) / 2
    stereo = LoopPlayer(2)
    stereo.queue(ramp(10, channels=1), beats=4)
    stereo.play()
    out = pull(stereo, 10, 10)
    assert np.array_equal(out[0], out[1])


# --- the real daemon on a real PortAudio device (JACK dummy driver) ---------------------------

import subprocess  # noqa: E402
import time  # noqa: E402

import soundfile as sf  # noqa: E402

from serve_support import DaemonProcess, JackServer  # noqa: E402

BPM = 300.0                              # a 4/4 bar = 0.8 s: several loops fit in a capture


@pytest.fixture(scope="module")
def jack():
    why = JackServer.missing()
    assert why is None, why              # CI installs jackd2; a missing tool is a failure
    server = JackServer(rate=44100).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def daemon(jack, tiny_model, tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("audio_daemon"), tiny_model, "--no-midi",
                      "--audio-device", "system", env=jack.env()).start()
    yield d
    assert d.stop() == 0, d.log()


def capture(jack: JackServer, seconds: float, path, during=None) -> np.ndarray:
    """Record the daemon's output ports with jack_rec (32-bit) while `during()` runs."""
    outs = sorted(p for p in jack.ports() if p.startswith("PortAudio") and ":out_" in p)
    assert len(outs) == 2, jack.ports()
    rec = subprocess.Popen(["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "32", *outs],
                           env=jack.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if during is not None:
            during()
        assert rec.wait(seconds + 20) == 0
    finally:
        if rec.poll() is None:
            rec.kill()
    x, rate = sf.read(str(path), dtype="float64", always_2d=True)
    assert rate == jack.rate
    return x.T


def find(x: np.ndarray, loop: np.ndarray, tol: float = 2e-7) -> int:
    """Index in x where `loop` starts (exactly, within PCM_24 rounding), or -1."""
    peak = int(np.argmax(np.abs(loop[0])))
    for i in np.flatnonzero(np.abs(x[0] - loop[0, peak]) < tol):
        k = i - peak
        if 0 <= k and k + loop.shape[1] <= x.shape[1] and \
                np.abs(x[:, k:k + loop.shape[1]] - loop).max() < tol:
            return int(k)
    return -1


def segments(x: np.ndarray, start: int, loops: dict[str, np.ndarray], tol: float = 2e-7) -> str:
    """Name each whole loop-length block of x from `start`: 'AAB..' ('?' = neither)."""
    names, i = [], start
    n = next(iter(loops.values())).shape[1]
    while i + n <= x.shape[1]:
        seg = x[:, i:i + n]
        names.append(next((k for k, v in loops.items() if np.abs(seg - v).max() < tol), "?"))
        i += n
    return "".join(names)


def test_summary_names_the_device(daemon):
    assert daemon.line("audio").startswith("system") and "44100 Hz" in daemon.line("audio")


def test_samples_reaching_the_device_are_the_rendered_bar(daemon, jack, tmp_path):
    """Play loops A gaplessly; B, made while A plays, takes over exactly on a bar line; stop
    gives silence. The captured samples equal the WAVs (which hold the same render) to within
    PCM_24 rounding."""
    with daemon.client() as osc:
        done_a = osc.ask("/beatgan/generate", 5, BPM)
        assert done_a[0] == "/beatgan/done", done_a
        a = sf.read(done_a[1][0], dtype="float64", always_2d=True)[0].T
        replies = {}

        def play_then_switch():
            time.sleep(0.4)
            replies["play"] = osc.ask("/beatgan/play")
            time.sleep(1.3)
            replies["b"] = osc.ask("/beatgan/generate", 6, BPM)

        x = capture(jack, 4.5, tmp_path / "cap.wav", play_then_switch)
        assert replies["play"] == ("/beatgan/playing", [1])
        assert replies["b"][0] == "/beatgan/done", replies
        b = sf.read(replies["b"][1][0], dtype="float64", always_2d=True)[0].T
        assert a.shape == b.shape == (2, int(round(4 * 60 * 44100 / BPM)))

        k = find(x, a)
        assert k >= 0, "the first loop never reached the device intact"
        assert not x[:, :k].any(), "something played before /beatgan/play"
        blocks = segments(x, k, {"A": a, "B": b})
        # A at least twice (gapless wrap), then only B (switched on a bar line), nothing else.
        assert blocks.startswith("AA") and "B" in blocks and "?" not in blocks, blocks
        assert blocks == "A" * blocks.index("B") + "B" * (len(blocks) - blocks.index("B"))
        tail = x[:, k + len(blocks) * a.shape[1]:]
        assert np.abs(tail - b[:, :tail.shape[1]]).max() < 2e-7   # still B, mid-loop

        assert osc.ask("/beatgan/stop") == ("/beatgan/playing", [0])
        time.sleep(0.1)
        silent = capture(jack, 1.0, tmp_path / "stopped.wav")
        assert not silent.any()
        assert "stopped" in osc.ask("/beatgan/status")[1][7]
        # REAPER's transport toggle: /beatgan/play 1.0 and 0.0
        assert osc.ask("/beatgan/play", 1.0) == ("/beatgan/playing", [1])
        assert "playing" in osc.ask("/beatgan/status")[1][7]
        assert osc.ask("/beatgan/play", 0.0) == ("/beatgan/playing", [0])
        assert "stopped" in osc.ask("/beatgan/status")[1][7]


def test_device_at_another_rate_gets_a_render_at_its_rate(tiny_model, tiny_generator,
                                                           tmp_path):
    """JACK at 48 kHz, WAVs at 44.1 kHz: the device gets its own render at 48 kHz, which
    equals the bar rendered here at 48 kHz (same seed, same renderer)."""
    from beatgan.bridge.render import render
    server = JackServer(rate=48000).start()
    d = None
    try:
        d = DaemonProcess(tmp_path / "d48", tiny_model, "--no-midi", env=server.env()).start()
        assert "48000 Hz" in d.line("audio")
        with d.client() as osc:
            done = osc.ask("/beatgan/generate", 9, BPM)
            assert done[0] == "/beatgan/done" and sf.info(done[1][0]).samplerate == 44100
            assert osc.ask("/beatgan/play") == ("/beatgan/playing", [1])
            x = capture(server, 2.0, tmp_path / "cap48.wav")
        bar = tiny_generator.generate([9])[0]
        want = render(bar, tiny_generator.card, BPM, rate=48000).astype(np.float64)
        assert want.shape[1] == int(round(4 * 60 * 48000 / BPM))
        k = find(x, want, tol=1e-5)
        assert k >= 0 and segments(x, k, {"A": want}, tol=1e-5).startswith("A")
    finally:
        if d is not None:
            assert d.stop() == 0, d.log()
        server.stop()
