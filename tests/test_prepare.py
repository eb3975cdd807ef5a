"""prepare: tempo from names and acid chunks, bar extraction (decimate / tempo-fitted resampling),
augmentation level, skipped and unreadable files, the dataset file, and a render-kit round trip."""
from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge.cli import main as cli_main
from beatgan.training import kit as kitmod
from beatgan.training.dataset import DatasetError, load_dataset, load_meta, save_dataset
from beatgan.training.prepare import (NoUsableLoops, PrepareConfig, augment_into, find_tempo, noise_levels,
                                      prepare, tempo_from_acid, tempo_from_name)
from beatgan.training.render_kit import RenderConfig, render_folder

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def write_loop(path: Path, tempo_bpm: float, sr: int = 44100, bars: float = 2, channels: int = 2,
               subtype: str = "FLOAT", seed: int = 0, fmt: str | None = None) -> np.ndarray:
    """A loop of noise bursts; returns what was written, (n, channels)."""
    n = int(round(bars * 4 * 60 / tempo_bpm * sr))
    x = (np.random.default_rng(seed).uniform(-0.5, 0.5, (n, channels))).astype(np.float32)
    sf.write(str(path), x, sr, subtype=subtype, format=fmt)
    return x


def with_acid_chunk(wav: bytes, tempo_bpm: float, beats: int = 8) -> bytes:
    """Insert an `acid` chunk before `data` (where DAWs look for it), fixing the RIFF size."""
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    acid = struct.pack("<IHHfIHHf", 0x01, 60, 0x8000, 0.0, beats, 4, 4, tempo_bpm)
    pos, out = 12, [wav[:12]]
    while pos < len(wav):
        cid, size = wav[pos:pos + 4], struct.unpack("<I", wav[pos + 4:pos + 8])[0]
        if cid == b"data":
            out.append(b"acid" + struct.pack("<I", len(acid)) + acid)
        out.append(wav[pos:pos + 8 + size + (size & 1)])
        pos += 8 + size + (size & 1)
    body = b"".join(out)
    return body[:4] + struct.pack("<I", len(body) - 8) + body[8:]


def _cfg(**kw) -> PrepareConfig:
    return PrepareConfig(**{"copies": 1, "noise_lsb24": 0, **kw})


# ---- tempo

@pytest.mark.parametrize("name, tempo", [
    ("loop_124bpm_x.wav", 124.0), ("Kick 124 BPM.aif", 124.0), ("x_125-bpm.flac", 125.0),
    ("Tech_Loop_125_bpm_A.wav", 125.0), ("x_124p5bpm.wav", 124.5), ("break 126.5bpm.wav", 126.5),
    ("0001_house_TR808EmulationKit_125bpm.wav", 125.0), ("dir.name/loop_90BPM.wav", 90.0),
    ("track_2024.wav", None), ("bpm.wav", None), ("loop_1240bpm.wav", None), ("loop_125bpms2.wav", 125.0),
    ("Loop125BPMKick.wav", 125.0), ("loop_5bpm.wav", None),
])
def test_tempo_from_name(name, tempo):
    assert tempo_from_name(name) == tempo


def test_tempo_from_acid_chunk(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, np.zeros((1000, 2), np.float32), 44100, format="WAV", subtype="PCM_16")
    path = tmp_path / "no_tempo_in_name.wav"
    path.write_bytes(with_acid_chunk(buf.getvalue(), 124.0))
    assert tempo_from_acid(path) == 124.0
    assert find_tempo(path) == (124.0, "acid")
    x, sr = sf.read(str(path))  # still a valid WAV for libsndfile
    assert x.shape == (1000, 2) and sr == 44100
    # the name wins over the chunk
    named = tmp_path / "loop_125bpm.wav"
    named.write_bytes(path.read_bytes())
    assert find_tempo(named) == (125.0, "name")
    plain = tmp_path / "plain.wav"
    plain.write_bytes(buf.getvalue())
    assert tempo_from_acid(plain) is None and find_tempo(plain) == (None, "")


# ---- bars

def test_decimate_equals_every_third_sample(tmp_path):
    x = write_loop(tmp_path / "a_125bpm.wav", 125.0)
    out = tmp_path / "d.npz"
    prepare(tmp_path, out, _cfg(decimate=True, slice_samples=32768))
    ds = load_dataset(out, float_audio=False)
    expected = np.clip(np.round(x[::3][:28224].T.astype(np.float64) * 32768), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(ds.audio[0, :, :28224], expected)
    assert np.all(ds.audio[0, :, 28224:] == 0)  # zero-padded to the slice
    assert ds.meta["resample"] == "decimate"


def test_decimate_keeps_a_124bpm_bar_at_its_own_tempo_and_rejects_48k(tmp_path):
    x = write_loop(tmp_path / "a_124bpm.wav", 124.0)
    write_loop(tmp_path / "b_125bpm.wav", 125.0, sr=48000)
    report = prepare(tmp_path, tmp_path / "d.npz", _cfg(decimate=True, slice_samples=28224))
    ds = load_dataset(tmp_path / "d.npz", float_audio=False)
    # 4 beats at 124 bpm = 28452 samples at 14.7 kHz: the slice keeps the first 28224
    expected = np.round(x[::3][:28224].T.astype(np.float64) * 32768).astype(np.int16)
    np.testing.assert_array_equal(ds.audio[0], expected)
    assert report.used[0]["cut_samples"] == 28452 - 28224
    assert [s["file"] for s in report.skipped] == ["b_125bpm.wav"]
    assert "44100" in report.skipped[0]["reason"]


@pytest.mark.parametrize("tempo, sr, channels, ext", [(124.0, 48000, 1, "aiff"), (125.0, 44100, 2, "flac"),
                                                       (124.5, 96000, 2, "wav")])
def test_bar_length_is_exact_and_fitted_to_the_model_tempo(tmp_path, tempo, sr, channels, ext):
    # clicks on beats 1..4 of bar 1 and beat 1 of bar 2
    beat = 60.0 / tempo * sr
    n = int(round(8 * beat))
    x = np.zeros((n, channels), np.float32)
    for k in range(5):
        x[int(round(k * beat))] = 0.9
    sf.write(str(tmp_path / f"clicks_{tempo:g}bpm.{ext}"), x, sr, subtype="PCM_24")
    prepare(tmp_path, tmp_path / "r.npz", _cfg(slice_samples=32768))
    ds = load_dataset(tmp_path / "r.npz")
    assert ds.audio.shape == (1, 2, 32768) and ds.meta["bar_samples"] == 28224
    y = ds.audio[0, 0]
    peaks = [int(np.argmax(np.abs(y[max(0, k * 7056 - 50): k * 7056 + 50]))) + max(0, k * 7056 - 50)
             for k in range(4)]
    assert peaks == [0, 7056, 14112, 21168]  # beats of the model tempo (125 bpm) at 14.7 kHz
    np.testing.assert_array_equal(ds.audio[0, 0], ds.audio[0, 1])  # mono duplicated / stereo kept
    # the next bar's click is not in the bar; the padding is exact zeros
    assert np.max(np.abs(y[28224 - 30:28224])) < 0.05 and np.all(y[28224:] == 0)


# ---- augmentation

def test_augmentation_noise_is_the_documented_level():
    levels = noise_levels(10000)
    assert levels["noise_peak"] == pytest.approx(0.0011920929)   # 10000 / 2**23
    assert levels["noise_rms_dbfs"] == pytest.approx(-63.25, abs=0.01)
    assert levels["noise_peak_dbfs"] == pytest.approx(-58.47, abs=0.01)
    docs = DOCS.read_text()
    assert "-63.2 dBFS" in docs and "10000" in docs and "0.0012" in docs

    rng = np.random.default_rng(0)
    clean = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 28224)).astype(np.float32)
    out = np.zeros((5, 2, 32768), np.int16)
    augment_into(out, clean, 5, 10000, rng)
    noise = out[:, :, :28224].astype(np.float64) / 32768 - np.round(clean.astype(np.float64) * 32768) / 32768
    # five different noisy copies, none clean
    assert all(np.any(out[i] != out[j]) for i in range(5) for j in range(i + 1, 5))
    assert np.std(noise) == pytest.approx(levels["noise_rms"], rel=0.02)
    assert np.max(np.abs(noise)) <= levels["noise_peak"] + 1 / 32768
    assert abs(np.mean(noise)) < 2e-5
    assert np.all(out[:, :, 28224:] == 0)


def test_prepare_augments_five_copies_deterministically(tmp_path):
    for i in range(3):
        write_loop(tmp_path / f"l{i}_125bpm.wav", 125.0, seed=i)
    a = prepare(tmp_path, tmp_path / "a.npz", PrepareConfig(seed=3))
    prepare(tmp_path, tmp_path / "b.npz", PrepareConfig(seed=3))
    prepare(tmp_path, tmp_path / "c.npz", PrepareConfig(seed=4))
    prepare(tmp_path, tmp_path / "clean.npz", _cfg())
    A, B, C = (load_dataset(tmp_path / f"{n}.npz", float_audio=False) for n in "abc")
    clean = load_dataset(tmp_path / "clean.npz")
    assert a.examples == 15 and A.audio.shape == (15, 2, 32768)
    assert list(A.source) == [0] * 5 + [1] * 5 + [2] * 5
    np.testing.assert_array_equal(A.audio, B.audio)
    assert np.any(A.audio != C.audio)
    noise = A.audio[:, :, :28224] / 32768.0 - np.repeat(clean.audio[:, :, :28224], 5, axis=0)
    assert np.std(noise) == pytest.approx(noise_levels(10000)["noise_rms"], rel=0.02)
    assert A.meta["augment"]["copies"] == 5 and A.meta["augment"]["clean_copy"] is False


# ---- skipped and unreadable files

def test_off_tempo_unreadable_and_short_files_are_reported_not_fatal(tmp_path, capsys):
    write_loop(tmp_path / "good_125bpm.wav", 125.0)
    (tmp_path / "sub").mkdir()
    write_loop(tmp_path / "sub" / "also good 124 BPM.flac", 124.0, subtype="PCM_16")
    write_loop(tmp_path / "slow_100bpm.wav", 100.0)
    write_loop(tmp_path / "no_tempo.wav", 125.0)
    write_loop(tmp_path / "short_125bpm.wav", 125.0, bars=0.5)
    (tmp_path / "garbage_125bpm.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt nonsense")
    (tmp_path / "empty_125bpm.flac").write_bytes(b"")
    good = (tmp_path / "good_125bpm.wav").read_bytes()
    (tmp_path / "truncated_125bpm.aiff").write_bytes(b"FORM" + good[4:200])
    (tmp_path / "notes.txt").write_text("not audio")

    rc = cli_main(["prepare", str(tmp_path), "--out", str(tmp_path / "ds.npz"), "--slice", "28224"])
    assert rc == 0
    report = json.loads((tmp_path / "ds.report.json").read_text())
    assert [u["file"] for u in report["used"]] == ["good_125bpm.wav", "sub/also good 124 BPM.flac"]
    skipped = {s["file"]: s["reason"] for s in report["skipped"]}
    assert "off tempo" in skipped["slow_100bpm.wav"] and "100 bpm" in skipped["slow_100bpm.wav"]
    assert "no tempo" in skipped["no_tempo.wav"]
    assert "shorter than one bar" in skipped["short_125bpm.wav"]
    unreadable = {u["file"] for u in report["unreadable"]}
    assert unreadable == {"garbage_125bpm.wav", "empty_125bpm.flac", "truncated_125bpm.aiff"}
    assert report["counts"]["files_found"] == 8 and report["counts"]["examples"] == 10
    out = capsys.readouterr().out
    assert "prepared 2 of 8" in out and "unreadable 3" in out and "skipped 3" in out
    assert load_meta(tmp_path / "ds.npz")["sources"] == ["good_125bpm.wav", "sub/also good 124 BPM.flac"]


def test_tolerance_and_default_tempo(tmp_path):
    write_loop(tmp_path / "a_124bpm.wav", 124.0)
    write_loop(tmp_path / "b.wav", 125.0)
    r = prepare(tmp_path, tmp_path / "x.npz", _cfg(tolerance_bpm=0.0, default_tempo_bpm=125.0))
    assert [u["file"] for u in r.used] == ["b.wav"] and r.used[0]["tempo_from"] == "default"
    assert "124 bpm is outside 125 +- 0 bpm" in r.skipped[0]["reason"]


def test_no_usable_loops_is_an_error_with_a_report(tmp_path, capsys):
    write_loop(tmp_path / "slow_90bpm.wav", 90.0)
    with pytest.raises(NoUsableLoops) as e:
        prepare(tmp_path, tmp_path / "x.npz")
    assert len(e.value.report.skipped) == 1 and not (tmp_path / "x.npz").exists()
    rc = cli_main(["prepare", str(tmp_path), "--out", str(tmp_path / "x.npz")])
    assert rc == 1 and "no usable loops" in capsys.readouterr().err
    assert (tmp_path / "x.report.json").is_file()
    assert cli_main(["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "y.npz")]) == 1


# ---- the dataset file

def test_dataset_file_errors_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="nope.npz"):
        load_dataset(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    with pytest.raises(DatasetError, match="bad.npz"):
        load_dataset(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DatasetError, match="other.npz.*missing audio"):
        load_dataset(other)
    good = tmp_path / "good.npz"
    meta = dict(sample_rate=14700, tempo_bpm=125.0, beats_per_bar=4, bar_samples=28224, slice_samples=8,
                channels=2, augment={}, styles=[], kits=[], sources=["a"], licences=[])
    save_dataset(good, np.full((2, 2, 8), 0.5), [0, 0], [-1, -1], [-1, -1], meta)
    ds = load_dataset(good)
    assert ds.audio.dtype == np.float32 and np.all(ds.audio == 0.5) and len(ds) == 2
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DatasetError, match="truncated.npz"):
        load_dataset(truncated)
    with pytest.raises(ValueError, match="source"):
        save_dataset(tmp_path / "x.npz", np.zeros((2, 2, 8)), [0], [0, 0], [0, 0], meta)
    assert not list(tmp_path.glob("*.part"))  # atomic writes leave nothing behind


# ---- render-kit -> prepare

def test_render_kit_then_prepare_round_trip(tmp_path):
    loops = tmp_path / "loops"
    kits = kitmod.find_kits(["TR808EmulationKit", "Audiophob"])
    manifest = render_folder(loops, kits, RenderConfig(loops=4, seed=2))
    rc = cli_main(["prepare", str(loops), "--out", str(tmp_path / "kit.npz"), "--slice", "28224", "--seed", "1"])
    assert rc == 0
    ds = load_dataset(tmp_path / "kit.npz")
    assert ds.audio.shape == (20, 2, 28224) and ds.sample_rate == 14700
    assert ds.meta["sources"] == [lp["file"] for lp in manifest["loops"]]
    assert ds.meta["styles"] == ["house", "techno", "breaks", "electro"]
    assert ds.meta["kits"] == ["TR808EmulationKit", "Audiophob"]
    assert {d["kit"]: d["licence"] for d in ds.meta["licences"]} == {"TR808EmulationKit": "GPL-2+", "Audiophob": "CC0"}
    for i in range(20):
        entry = manifest["loops"][ds.source[i]]
        assert ds.meta["styles"][ds.label_style[i]] == entry["style"]
        assert ds.meta["kits"][ds.label_kit[i]] == entry["kit"]
    # real drums: loud, below full scale, the kick downbeat at the start of every bar
    peaks = np.max(np.abs(ds.audio), axis=(1, 2))
    assert np.all(peaks > 0.5) and np.all(peaks <= 1.0)
    train, held = ds.split_by_source(0.25, seed=0)
    assert len(held) == 5 and not set(ds.source[train]) & set(ds.source[held])


def test_docs_mention_every_flag():
    docs = DOCS.read_text()
    for flag in ("--slice", "--tempo", "--tolerance", "--decimate", "--copies", "--noise", "--seed",
                 "--default-tempo", "--loops", "--kits", "--kit-dir", "--bus", "--overwrite", "--compress",
                 "--licence", "--list-kits", "--tempos", "--styles", "--bars"):
        assert re.search(re.escape(flag) + r"\b", docs), flag
