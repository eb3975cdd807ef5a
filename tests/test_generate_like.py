"""`beatgan generate --like LOOP`: a producer's own loop in, the model's rebuild of it and
variations of it out (with its stems and MIDI where asked), through the real CLI, with a drum
machine trained for real; files read back with soundfile. Bad requests get one clear line."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge.cli import main as cli_main
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.latent import like_latents, seed_latent

from conftest import make_tiny_model
from dm_support import trained_drum_machine


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_drum_machine(tmp_path_factory)


@pytest.fixture(scope="module")
def loop(model):
    # One of the loops the model's dataset was rendered from: a real WAV with its tempo in its name.
    return sorted((model.parent / "loops").rglob("*bpm*.wav"))[0]


def wavs(folder):
    return sorted(folder.glob("*.wav"), key=lambda p: int(p.name.split("_s")[1].split("_")[0]))


def run(*args) -> int:
    return cli_main(["generate", *map(str, args)])


def test_like_writes_the_rebuild_then_variations_named_after_the_loop(model, loop, tmp_path):
    out = tmp_path / "out"
    assert run("--model", model, "--like", loop, "-n", "3", "--out", out, "--bpm", 128) == 0
    files = wavs(out)
    assert [f.name.split("_s")[1].split("_")[0] for f in files] == ["0", "1", "2"]
    assert all(f.name.startswith("beatgan_like-") for f in files)
    bars = [sf.read(f, dtype="float32")[0] for f in files]
    assert all(b.shape == (round(4 * 60 / 128 * 44100), 2) for b in bars)
    # Variations differ from the rebuild; the rebuild is the loop's, every time.
    assert all(np.abs(b - bars[0]).max() > 1e-3 for b in bars[1:])
    again = tmp_path / "again"
    assert run("--model", model, "--like", loop, "-n", "1", "--out", again, "--bpm", 128) == 0
    np.testing.assert_allclose(sf.read(wavs(again)[0], dtype="float32")[0], bars[0], atol=1e-4)
    # --variation 0: every file is the rebuild.
    zero = tmp_path / "zero"
    assert run("--model", model, "--like", loop, "-n", "2", "--variation", 0, "--out", zero,
               "--bpm", 128) == 0
    np.testing.assert_allclose(sf.read(wavs(zero)[1], dtype="float32")[0], bars[0], atol=1e-4)


def test_the_rebuild_is_the_encoded_loops_bar(model, loop):
    """The latents are the encoder's for the loop's first bar, then variations around it; how
    close the rebuild sounds is the trained model's business (tests/test_shipped_weights.py)."""
    from beatgan.bridge.read_loop import read_first_bar
    gen = BeatGenerator.load(model, device="cpu")
    bar = read_first_bar(loop, gen.card)
    assert bar.shape == (gen.card.channels, gen.card.bar_samples)
    u = gen.encode(bar[None])
    assert np.abs(u).max() < 1.0 and not np.array_equal(u[0], seed_latent(0, u.shape[1]))
    lat = like_latents(u[0], 4, 0.3)
    assert np.array_equal(lat[0], u[0])
    steps = np.linalg.norm(lat[1:] - lat[0], axis=1)
    assert (steps > 0).all() and len(set(np.round(steps, 6))) == 3   # three directions
    assert np.array_equal(like_latents(u[0], 4, 0.3), lat)           # named, so repeatable


def test_like_with_stems_and_midi_gives_the_loops_parts(model, loop, tmp_path):
    out = tmp_path / "parts"
    assert run("--model", model, "--like", loop, "--stems", "--midi", "--out", out) == 0
    assert len(list(out.glob("*.mid"))) == 1
    assert len(list(out.rglob("*.wav"))) > 1   # the loop and its stems


def test_like_refuses_in_one_line(model, loop, tmp_path, capsys):
    wavegan = make_tiny_model(tmp_path / "wavegan")
    cases = [
        (["--model", wavegan, "--like", loop], "no encoder"),
        (["--model", model, "--like", tmp_path / "nope_125bpm.wav"], "no such file"),
        (["--model", model, "--like", loop, "--seed", 3], "leave --seed off"),
        (["--model", model, "--like", loop, "--variation", 2], "variation amount"),
    ]
    mystery = tmp_path / "mystery.wav"
    sf.write(mystery, sf.read(loop, dtype="float32")[0], sf.info(loop).samplerate)
    cases.append((["--model", model, "--like", mystery], "--like-bpm"))
    for args, says in cases:
        assert run(*args, "--out", tmp_path / "none") != 0
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "none").exists()
    # The tempo given by hand: it works.
    assert run("--model", model, "--like", mystery, "--like-bpm",
               sf.info(loop).frames and loop.name.split("bpm")[0].split("_")[-1],
               "--out", tmp_path / "ok") == 0
    assert len(wavs(tmp_path / "ok")) == 1
