"""bridge/pcm_pack.py: the compiled pass and the NumPy passes give the same bytes, and both are
checked against an independent reader (soundfile)."""
import hashlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge import pcm_pack
from beatgan.bridge.pcm_pack import NOT_FINITE, pack_frames
from beatgan.bridge.wavfile import write_loop_wav


def awkward(channels: int, frames: int, dtype, seed: int = 0) -> np.ndarray:
    """Noise with every edge case in its first samples: full scale both ways, beyond it, ties
    that round to even (0.5 and 1.5 LSB of 16 and 24 bits), and the smallest steps."""
    x = np.random.default_rng(seed).standard_normal((channels, frames)) * 0.6
    edges = [1.0, -1.0, 1.5, -1.5, 0.5 / 2 ** 23, 1.5 / 2 ** 23, -0.5 / 2 ** 23, 2.5 / 2 ** 15,
             -1.5 / 2 ** 15, 1.0 - 2.0 ** -24, -(1.0 - 2.0 ** -24), 0.0, -0.0, 1e-30]
    x[:, :len(edges)] = edges
    return x.astype(dtype)


def numpy_bytes(x: np.ndarray, subtype: str) -> bytes:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    out = bytearray(x.shape[0] * x.shape[1] * pcm_pack.SUBTYPES[subtype])
    pcm_pack._pack_numpy(x, subtype, out)
    return bytes(out)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_the_compiled_pass_writes_the_numpy_bytes(subtype, channels, dtype):
    x = awkward(channels, 1001, np.float64) * (3000 if dtype == np.int16 else 1)
    x = x.astype(dtype)
    assert bytes(pack_frames(x, subtype)) == numpy_bytes(x, subtype)


def test_views_of_a_bar_pack_like_the_bar():
    """Stems are made as views and products; a strided or reversed view packs as its copy."""
    x = awkward(2, 4000, np.float32)
    for view in (x[:, ::2], x[::-1], np.asfortranarray(x), x.T.copy().T):
        assert bytes(pack_frames(view, "PCM_24")) == numpy_bytes(np.ascontiguousarray(view),
                                                                "PCM_24")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_sample_that_is_not_a_number_is_refused(bad):
    x = awkward(2, 100, np.float32)
    x[1, 57] = bad
    with pytest.raises(ValueError, match=NOT_FINITE):
        pack_frames(x, "PCM_24")


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_an_independent_reader_reads_the_samples_back(subtype):
    """soundfile (libsndfile) reads the loop WAV: every sample is the float rounded to the
    format's step and clipped to its range."""
    x = awkward(2, 82688, np.float32, seed=3) * 0.9
    buf = io.BytesIO()
    write_loop_wav(buf, x, 44100, 128, 4, subtype=subtype)
    bits = 16 if subtype == "PCM_16" else 24
    y, rate = sf.read(io.BytesIO(buf.getvalue()), dtype="int32", always_2d=True)
    full = 2.0 ** (bits - 1)
    want = np.clip(np.rint((x.astype(np.float32) * np.float32(full))), -full, full - 1)
    assert rate == 44100
    np.testing.assert_array_equal(y.T >> (32 - bits), want.astype(np.int64))


def test_beatgan_no_jit_takes_the_numpy_passes_to_the_same_bytes():
    """BEATGAN_NO_JIT=1 (for comparing the two in bench/latency.py) turns the compiled pass
    off in a new process; the file is byte for byte the same."""
    x = awkward(2, 20000, np.float32, seed=5)
    code = ("import sys, hashlib, numpy as np; from beatgan.bridge import pcm_pack as p; "
            "from beatgan.bridge.jit import jit_in_use; "
            "x = np.load(sys.argv[1]); print(jit_in_use(), "
            "hashlib.sha256(bytes(p.pack_frames(x, 'PCM_24'))).hexdigest())")
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pcm-pack-{os.getpid()}.npy")
    np.save(path, x)
    try:
        out = {}
        for flag in ("1", ""):
            env = {**os.environ, "BEATGAN_NO_JIT": flag}
            r = subprocess.run([sys.executable, "-c", code, path], env=env, capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            out[flag] = r.stdout.split()
    finally:
        os.unlink(path)
    assert out["1"][0] == "False" and out[""][0] == "True"
    assert out["1"][1] == out[""][1] == hashlib.sha256(numpy_bytes(x, "PCM_24")).hexdigest()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
@pytest.mark.parametrize("gains", [[0.7071], [1.3, 0.2], [0.0, 1.0], [0.5, 0.25, 2.0]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gains_pack_a_panned_voice_as_its_channels(subtype, gains, dtype):
    """A stem is packed from its voice and pan gains: the bytes of the channels NumPy would
    have made (gains[:, None] * voice, in its own type)."""
    voice = awkward(1, 3001, dtype, seed=7)
    g = np.asarray(gains, dtype)
    assert bytes(pack_frames(voice, subtype, g)) == numpy_bytes(g[:, None] * voice[0], subtype)


def test_gains_refuse_more_than_one_signal_and_products_that_overflow():
    with pytest.raises(ValueError, match="one signal"):
        pack_frames(awkward(2, 100, np.float32), "PCM_24", np.ones(2, np.float32))
    voice = np.full((1, 100), 3e38, np.float32)
    with pytest.raises(ValueError, match=NOT_FINITE):
        pack_frames(voice, "PCM_24", np.array([0.5, 2.0], np.float32))
    from beatgan.bridge.wavfile import encode_loop_wav
    with pytest.raises(ValueError, match="one signal"):
        encode_loop_wav(awkward(2, 82688, np.float32), 44100, 128, 4, gains=np.ones(2))
