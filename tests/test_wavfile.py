"""Loop WAV writer: read back by readers we did not write (libsndfile via soundfile, wavinfo)."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
from soundfile import _ffi, _snd
from wavinfo import WavInfoReader
from wavinfo.riff_parser import parse_chunk

from beatgan.bridge.render import render
from beatgan.bridge.wavfile import write_loop_wav
from beatgan.generator import ModelCard, named_config

# libsndfile's sf_command codes and structs (sndfile.h)
SFC_GET_INSTRUMENT = 0x10D0
SFC_GET_LOOP_INFO = 0x10E0
SF_LOOP_NONE, SF_LOOP_FORWARD = 800, 801
SIZEOF_SF_LOOP_INFO = 44        # short, short, int, int, float, int, int[6]
SIZEOF_SF_INSTRUMENT = 272      # int, 6 x char (+2 pad), int, 16 x {int, uint, uint, uint}


def loop_audio(frames: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.95, 0.95, (channels, frames)).astype(np.float32)


def libsndfile_loop_info(path) -> dict | None:
    """What libsndfile (wav_read_acid_chunk) makes of the acid chunk."""
    with sf.SoundFile(path) as f:
        buf = _ffi.new("char[]", SIZEOF_SF_LOOP_INFO)
        if not _snd.sf_command(f._file, SFC_GET_LOOP_INFO, buf, SIZEOF_SF_LOOP_INFO):
            return None
        num, den, mode, beats, bpm, root = struct.unpack("<hhiifi", bytes(_ffi.buffer(buf))[:20])
    return dict(time_sig=(num, den), loop_mode=mode, num_beats=beats, bpm=bpm, root_key=root)


def libsndfile_loops(path) -> list[tuple[int, int, int]]:
    """(mode, start, end exclusive) of each loop libsndfile reads from the smpl chunk."""
    with sf.SoundFile(path) as f:
        buf = _ffi.new("char[]", SIZEOF_SF_INSTRUMENT)
        if not _snd.sf_command(f._file, SFC_GET_INSTRUMENT, buf, SIZEOF_SF_INSTRUMENT):
            return []
        raw = bytes(_ffi.buffer(buf))
    count = struct.unpack("<i", raw[12:16])[0]
    return [struct.unpack("<iII", raw[16 + 16 * i:28 + 16 * i]) for i in range(count)]


def chunk_order(path) -> list[bytes]:
    with open(path, "rb") as f:
        riff = parse_chunk(f)
    assert riff.signature == b"WAVE"
    return [c.ident for c in riff.children]


@pytest.mark.parametrize("tempo,beats", [(128.0, 16), (97.3, 4), (174.0, 8), (70.0, 2)])
def test_pcm24_loop_reads_back_with_tempo_beats_and_loop_points(tmp_path, tempo, beats):
    frames = round(beats * 60 / tempo * 44100)
    audio = loop_audio(frames)
    path = tmp_path / "loop.wav"
    write_loop_wav(path, audio, 44100, tempo, beats)

    data, rate = sf.read(path, dtype="float64", always_2d=True)
    info = sf.info(path)
    assert (rate, info.channels, info.subtype, info.frames) == (44100, 2, "PCM_24", frames)
    expected = np.clip(np.rint(audio.T.astype(np.float64) * 2 ** 23), -2 ** 23, 2 ** 23 - 1)
    np.testing.assert_array_equal(data * 2 ** 23, expected)

    acid = libsndfile_loop_info(path)
    assert acid["num_beats"] == beats and acid["loop_mode"] == SF_LOOP_FORWARD
    assert acid["bpm"] == pytest.approx(tempo, abs=1e-4) and acid["time_sig"] == (4, 4)
    assert libsndfile_loops(path) == [(SF_LOOP_FORWARD, 0, frames)]

    w = WavInfoReader(str(path))
    assert (w.fmt.audio_format, w.fmt.channel_count, w.fmt.sample_rate,
            w.fmt.bits_per_sample) == (1, 2, 44100, 24)
    assert w.data.frame_count == frames
    (lp,) = w.smpl.sample_loops
    assert (lp.loop_type, lp.start, lp.end) == (0, 0, frames - 1)   # smpl's end is inclusive
    assert w.smpl.sample_period_ns == round(1e9 / 44100)


def test_acid_and_smpl_come_before_data(tmp_path):
    path = tmp_path / "loop.wav"
    write_loop_wav(path, loop_audio(82688), 44100, 128, 4)
    order = chunk_order(path)
    assert order == [b"fmt ", b"acid", b"smpl", b"data"]
    # and libsndfile's own log lists them in that order too
    log = sf.info(path).extra_info
    assert log.index("acid :") < log.index("smpl :") < log.index("data :")


def test_float_files_are_exact_and_have_a_fact_chunk(tmp_path):
    path = tmp_path / "loop.wav"
    audio = loop_audio(92160) * 1.5          # float may exceed full scale: kept, not clipped
    write_loop_wav(path, audio, 48000, 125, 4, subtype="FLOAT")
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 48000 and sf.info(path).subtype == "FLOAT"
    np.testing.assert_array_equal(data.T, audio)
    assert chunk_order(path) == [b"fmt ", b"fact", b"acid", b"smpl", b"data"]
    assert WavInfoReader(str(path)).fmt.audio_format == 3
    assert libsndfile_loop_info(path)["num_beats"] == 4


def test_pcm24_clips_instead_of_wrapping(tmp_path):
    path = tmp_path / "hot.wav"
    audio = np.full((2, 82688), 1.7, np.float32)
    audio[:, ::2] = -1.7
    write_loop_wav(path, audio, 44100, 128, 4)
    data, _ = sf.read(path, dtype="float64")
    assert data.max() == (2 ** 23 - 1) / 2 ** 23 and data.min() == -1.0


def test_mono_24bit_with_an_odd_data_size_is_padded(tmp_path):
    path = tmp_path / "mono.wav"
    audio = loop_audio(1001, channels=1)          # 3003 data bytes: a pad byte must follow
    write_loop_wav(path, audio, 44100, 120, 1, loop=False)
    assert path.stat().st_size % 2 == 0
    data, _ = sf.read(path, dtype="float64")
    np.testing.assert_array_equal(data * 2 ** 23, np.rint(audio[0].astype(np.float64) * 2 ** 23))
    assert chunk_order(path)[-1] == b"data"


def test_pcm16(tmp_path):
    path = tmp_path / "a16.wav"
    audio = loop_audio(88200, channels=1)
    write_loop_wav(path, audio, 44100, 120, 4, subtype="PCM_16")
    data, _ = sf.read(path, dtype="int16")
    np.testing.assert_array_equal(data, np.rint(audio[0] * 32768).astype(np.int16))
    assert WavInfoReader(str(path)).fmt.bits_per_sample == 16


def test_more_than_two_channels_use_wave_format_extensible(tmp_path):
    path = tmp_path / "quad.wav"
    audio = loop_audio(82688, channels=4)
    write_loop_wav(path, audio, 44100, 128, 4)
    data, _ = sf.read(path, dtype="float64", always_2d=True)
    assert data.shape == (82688, 4)
    assert WavInfoReader(str(path)).fmt.audio_format == 0xFFFE
    np.testing.assert_allclose(data.T, audio, atol=2 ** -23)


def test_one_shot_has_no_loop(tmp_path):
    path = tmp_path / "shot.wav"
    write_loop_wav(path, loop_audio(1000), 44100, 128, 1, loop=False)
    assert libsndfile_loop_info(path)["loop_mode"] == SF_LOOP_NONE
    assert WavInfoReader(str(path)).smpl.sample_loops == []


def test_file_object_and_path_give_the_same_bytes(tmp_path):
    audio = loop_audio(82688)
    buf = io.BytesIO()
    n = write_loop_wav(buf, audio, 44100, 128, 4)
    path = tmp_path / "a.wav"
    write_loop_wav(path, audio, 44100, 128, 4)
    assert buf.getvalue() == path.read_bytes() and n == len(buf.getvalue())


@pytest.mark.parametrize("kwargs,match", [
    (dict(subtype="PCM_32"), "subtype"),
    (dict(beats=5), "wrong tempo"),                 # 4 beats of audio tagged as 5
    (dict(tempo_bpm=float("nan")), "tempo"),
    (dict(beats=0), "beats"), (dict(beats=2.5), "beats"),
    (dict(rate=10), "rate"),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = dict(audio=loop_audio(82688), rate=44100, tempo_bpm=128, beats=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        write_loop_wav(io.BytesIO(), **args)


def test_bad_audio_is_a_clear_error_and_writes_nothing(tmp_path):
    audio = loop_audio(82688)
    audio[1, 7] = np.inf
    path = tmp_path / "x.wav"
    with pytest.raises(ValueError, match="NaN or infinite"):
        write_loop_wav(path, audio, 44100, 128, 4)
    with pytest.raises(ValueError, match="transposed"):
        write_loop_wav(path, loop_audio(82688).T, 44100, 128, 4)
    assert not path.exists()


def test_a_rendered_loop_imports_at_its_tempo(tmp_path):
    card = ModelCard(config=named_config("wavegan"))
    t = np.arange(card.bar_samples) / card.sample_rate
    bar = np.stack([np.sin(2 * np.pi * 100 * t) * np.exp(-5 * (t % 0.48))] * 2).astype(np.float32)
    y = render(bar, card, 97.3, bars=4, rate=48000)
    path = tmp_path / "r.wav"
    write_loop_wav(path, y, 48000, 97.3, 4 * card.beats_per_bar)
    info = sf.info(path)
    assert info.frames == round(16 * 60 / 97.3 * 48000)
    acid = libsndfile_loop_info(path)
    # What a DAW derives: beats / (frames / rate) * 60 is the tempo it was rendered at.
    assert acid["num_beats"] * 60 / (info.frames / 48000) == pytest.approx(97.3, rel=1e-5)
    assert acid["bpm"] == pytest.approx(97.3, abs=1e-4)
