"""`beatgan generate` as a user runs it: a real process, real WAV files read back by soundfile."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


def beatgan(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "beatgan.bridge.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.parametrize("bpm,bars,rate,expected", [
    (128, 1, 44100, 82688),      # 4 beats at 128 bpm = 1.875 s -> 82687.5, rounded once
    (128, 4, 44100, 330750),     # 4 bars rounded once for the file, not 4 x a rounded bar
    (97.3, 2, 48000, 236793),    # round(8 * 60 / 97.3 * 48000) = round(236793.42)
])
def test_generate_writes_exact_length_stereo_wavs(tiny_model, tmp_path, bpm, bars, rate, expected):
    out = tmp_path / "loops"
    proc = beatgan("generate", "-n", 3, "--bpm", bpm, "--bars", bars, "--seed", 42,
                   "--rate", rate, "--model", tiny_model, "--out", out)
    files = sorted(out.glob("*.wav"))
    assert len(files) == 3
    assert [str(f) for f in files] == sorted(proc.stdout.split())
    for f in files:
        info = sf.info(f)
        assert (info.samplerate, info.channels, info.frames) == (rate, 2, expected)
        assert info.subtype == "PCM_24"
        assert f"{bpm:g}bpm" in f.name and f"{bars}bar" in f.name
    seeds = sorted(int(f.name.split("_s")[1].split("_")[0]) for f in files)
    assert seeds == [42, 43, 44]


def test_same_seed_same_file_audio(tiny_model, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    beatgan("generate", "--seed", 7, "--bpm", 125, "--model", tiny_model, "--out", a)
    beatgan("generate", "--seed", 7, "--bpm", 125, "--model", tiny_model, "--out", b)
    xa, _ = sf.read(next(a.glob("*.wav")))
    xb, _ = sf.read(next(b.glob("*.wav")))
    assert np.array_equal(xa, xb)


def test_float_output(tiny_model, tmp_path):
    beatgan("generate", "--seed", 1, "--float", "--model", tiny_model, "--out", tmp_path)
    assert sf.info(next(tmp_path.glob("*.wav"))).subtype == "FLOAT"


@pytest.mark.parametrize("args,message", [
    (["--bpm", "500"], "tempo"),
    (["--bpm", "nan"], "tempo"),
    (["-n", "0"], "-n must be"),
    (["--seed", "-3"], "--seed must be in 0..2147483647"),
    (["--seed", "2147483648"], "--seed must be in 0..2147483647"),
    (["--model", "/nonexistent/model"], "model folder not found"),
])
def test_bad_input_is_one_clear_line(tiny_model, tmp_path, args, message):
    full = ["generate", "--out", tmp_path / "o", *args]
    if "--model" not in args:
        full += ["--model", tiny_model]
    proc = beatgan(*full, check=False)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not list((tmp_path / "o").glob("*.wav")) if (tmp_path / "o").exists() else True
