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
