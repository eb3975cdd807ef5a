"""bridge/jit.py: the compiled loops run where Numba is a dependency, and each gives what its
NumPy twin gives, to the bit (the twin runs without Numba, or with BEATGAN_NO_JIT=1)."""
import numpy as np
import pytest

from beatgan.bridge import retime
from beatgan.bridge.bar_parts import bar_parts
from beatgan.bridge.jit import jit_in_use
from beatgan.generator.engine import BeatGenerator

from dm_support import trained_drum_machine


def test_numba_is_in_use_where_it_is_a_dependency():
    """pyproject.toml asks for numba everywhere but on Intel Macs: the compiled loops must
    then be what runs, or the latency figures in docs/render.md are not this code's."""
    assert jit_in_use()
    assert retime._place_hits is not None


def place(fn, hits, lengths, vel, at, n):
    mono = np.zeros((hits.shape[0], n), np.float32)
    fn(hits, np.asarray(lengths, np.int64), vel, np.asarray(at, np.int64), mono)
    return mono


@pytest.mark.parametrize("n", [5000, 1200, 700])
def test_placing_hits_compiled_sums_what_numpy_sums(n):
    """Every voice, step and bar, zero velocities and a silent voice, hits that wrap round the
    loop end once, and (n = 700) hits longer than the loop that wrap round it again."""
    rng = np.random.default_rng(n)
    hits = rng.standard_normal((4, 1500)).astype(np.float32)
    lengths = [1500, 0, 900, 37]
    vel = rng.random((4, 16)).astype(np.float32)
    vel[:, ::3] = 0.0
    at = rng.integers(0, n, size=(2, 16))
    at[0, 5] = n - 1                                   # wraps after one sample
    want = place(retime._place_numpy, hits, lengths, vel, at, n)
    got = place(retime._place_hits, hits, lengths, vel, at, n)
    assert np.array_equal(got, want)
    assert np.abs(want).max() > 1.0                    # something was placed


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    gen = BeatGenerator.load(trained_drum_machine(tmp_path_factory), device="cpu")
    return bar_parts(gen, [0, 1, 2])


@pytest.mark.parametrize("tempo,bars,rate", [(125.0, 1, 44100), (70.0, 2, 48000),
                                             (300.0, 4, 8000)])
def test_a_retimed_loop_is_the_same_compiled_or_not(dm, monkeypatch, tempo, bars, rate):
    for parts in dm:
        a = retime.retime(parts, tempo, bars, rate)
        with monkeypatch.context() as m:
            m.setattr(retime, "_place_hits", None)
            b = retime.retime(parts, tempo, bars, rate)
        assert np.array_equal(a.voices, b.voices) and np.array_equal(a.loop, b.loop)
