"""`beatgan evaluate`: the similarity score, the Fréchet distance, the drum-loop classifier and its
cache, bar ranking, the report, and the errors a user can fix."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
from conftest import make_tiny_model

from beatgan.bridge.cli import main as cli_main
from beatgan.generator.weights import sha256_file
from beatgan.training import classifier as clf_mod
from beatgan.training.dataset import load_dataset, save_dataset
from beatgan.training.evaluate import (EvalOptions, bar_quality, evaluate, frechet_distance,
                                       frechet_from_stats, per_bar_figures, similarity_scores)

SR, BPM, BAR = 14700, 125.0, 28224
STEP = BAR // 16  # samples per sixteenth note
# Four "styles" = four rhythms (sixteenth steps of kick / snare / hat), as in EDM sub-genres.
STYLES = {
    "house": ([0, 4, 8, 12], [4, 12], [2, 6, 10, 14]),
    "techno": ([0, 4, 8, 12], [], list(range(16))),
    "breaks": ([0, 10], [4, 12], [0, 2, 4, 6, 8, 10, 12, 14]),
    "electro": ([0, 6, 10], [4, 12], [2, 6, 10, 14]),
}
KITS = {"low": (50.0, 180.0, 9000.0), "high": (80.0, 260.0, 5000.0)}  # kick Hz, snare Hz, hat Hz


def drum_bar(style: str, kit: str, rng: np.random.Generator) -> np.ndarray:
    """(2, BAR) float32: decaying sines and noise on the style's grid with the kit's pitches."""
    kick, snare, hat = STYLES[style]
    f_kick, f_snare, f_hat = KITS[kit]
    t = np.arange(STEP * 2) / SR
    voices = {
        "kick": np.sin(2 * np.pi * f_kick * t * (1 + 2 * np.exp(-t * 40))) * np.exp(-t * 12),
        "snare": (0.5 * np.sin(2 * np.pi * f_snare * t) + 0.5 * rng.uniform(-1, 1, t.size)) * np.exp(-t * 25),
        "hat": np.sin(2 * np.pi * f_hat * t) * rng.uniform(-1, 1, t.size) * np.exp(-t * 80) * 0.4,
    }
    out = np.zeros((2, BAR + STEP * 2))
    for name, steps in (("kick", kick), ("snare", snare), ("hat", hat)):
        for s in steps:
            pan = 0.5 + (0.3 if name == "hat" else 0.0)
            v = voices[name] * rng.uniform(0.7, 1.0)
            out[0, s * STEP:s * STEP + v.size] += (1 - pan) * v
            out[1, s * STEP:s * STEP + v.size] += pan * v
    out[:, :STEP * 2] += out[:, BAR:]  # tails wrap, as in a loop
    return (0.6 * out[:, :BAR] / np.abs(out).max()).astype(np.float32)


def make_dataset(path, variations: int = 4, copies: int = 2, sample_rate: int = SR):
    styles, kits = list(STYLES), list(KITS)
    rng = np.random.default_rng(0)
    audio, source, ls, lk, names = [], [], [], [], []
    for si, style in enumerate(styles):
        for ki, kit in enumerate(kits):
            for v in range(variations):
                bar = drum_bar(style, kit, rng)
                for _ in range(copies):
                    audio.append(bar + rng.uniform(-1e-3, 1e-3, bar.shape).astype(np.float32))
                    source.append(len(names))
                    ls.append(si)
                    lk.append(ki)
                names.append(f"{si}{ki}{v}_{style}_{kit}_125bpm.wav")
    meta = {"sample_rate": sample_rate, "tempo_bpm": BPM, "beats_per_bar": 4, "bar_samples": BAR,
            "slice_samples": BAR, "channels": 2, "augment": {"copies": copies}, "styles": styles,
            "kits": kits, "sources": names, "licences": []}
    return save_dataset(path, np.stack(audio), source, ls, lk, meta)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("eval_data") / "drums.npz")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    # Seed 1: not the untrained reference network (torch seed 0), so the two sets differ.
    return make_tiny_model(tmp_path_factory.mktemp("eval_model"), seed=1)


# ---- pure figures ------------------------------------------------------------------------------
def test_similarity_is_the_seed_score_on_numpy_and_torch():
    rng = np.random.default_rng(0)
    gen = rng.uniform(-0.5, 0.5, (5, 2, 300)).astype(np.float32)
    train = rng.uniform(-0.5, 0.5, (7, 2, 300)).astype(np.float32)
    train[3] = gen[1]               # an exact copy scores 0
    train[4] = gen[2] * 0.5         # half the amplitude: sum((A - A/2)^2) / sum(A^2) = 0.25
    brute = np.array([[((a - b) ** 2).sum() / (a ** 2).sum() for b in train] for a in gen])
    for device in (None, "cpu"):
        got = similarity_scores(gen, train, device=device, chunk=3)
        np.testing.assert_allclose(got, brute, rtol=1e-4, atol=1e-5)
    assert got[1, 3] < 1e-5 and abs(got[2, 4] - 0.25) < 1e-4
    # int16 dataset audio is scaled by 1/32768 on the way.
    train16 = np.round(train * 32768).astype(np.int16)
    np.testing.assert_allclose(similarity_scores(gen, train16), brute, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="differ in length"):
        similarity_scores(gen, train[..., :200])


def _clicks(delay_s: float, noise: float = 0.0) -> np.ndarray:
    """(3, 2, BAR): a click every sixteenth, `delay_s` after the line, over optional white noise."""
    rng = np.random.default_rng(0)
    x = noise * rng.uniform(-1, 1, (3, 2, BAR)).astype(np.float32)
    at = (np.arange(16) * STEP + round(delay_s * SR))
    x[:, :, at] += 0.9
    return x


def test_onset_timing_shows_where_the_hits_land():
    """The histogram's peak follows the hits: on the line, or 20 ms late; a noise floor flattens
    it. Its mass within +-15 ms is the onset grid score."""
    from beatgan.training.metrics import onset_grid_score, onset_timing
    centres = {}
    for delay in (0.0, 0.020):
        bars = _clicks(delay)
        edges, share = onset_timing(bars, SR, BPM)
        assert len(share) == 24 and share.sum() == pytest.approx(1.0)
        mid = (edges[:-1] + edges[1:]) / 2
        centres[delay] = 1000 * mid[np.argmax(share)]
        within = share[np.abs(mid) <= 0.015].sum()
        assert within == pytest.approx(onset_grid_score(bars, SR, BPM).mean(), abs=0.1)
    # The 512-sample window (35 ms) sees a click up to half a window before its centre reaches it.
    assert -17.5 <= centres[0.0] <= 2.5
    assert centres[0.020] - centres[0.0] == pytest.approx(20, abs=5)
    _, clean = onset_timing(_clicks(0.0), SR, BPM)
    _, noisy = onset_timing(_clicks(0.0, noise=0.05), SR, BPM)
    assert noisy.max() < clean.max() and noisy.min() > clean.min()


def test_grid_score_and_timing_take_a_precomputed_flux():
    from beatgan.training.metrics import grid_offsets, onset_grid_score, onset_timing, spectral_flux
    bars = _clicks(0.0, noise=0.05)
    flux = spectral_flux(bars)
    assert np.allclose(onset_grid_score(bars, SR, BPM, flux=flux), onset_grid_score(bars, SR, BPM))
    # A flux with nothing off the grid must score 1: proves the given flux is the one used.
    on_grid = flux * (np.abs(grid_offsets(flux.shape[1], 64, SR, BPM)) <= 0.015)
    assert np.allclose(onset_grid_score(bars, SR, BPM, flux=on_grid), 1.0)
    edges, share = onset_timing(bars, SR, BPM, flux=on_grid)
    mid = (edges[:-1] + edges[1:]) / 2
    assert share[np.abs(mid) > 0.0151].sum() == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_closed_forms():
    # Diagonal: |mu1 - mu2|^2 + sum(s1 + s2 - 2 sqrt(s1 s2)) = 2 + (1 + 4 - 4) + (4 + 1 - 4) = 4.
    assert frechet_from_stats([0, 0], np.diag([1.0, 4.0]), [1, 1], np.diag([4.0, 1.0])) == pytest.approx(4.0)
    # Rotated but commuting covariances: tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    th = 0.7
    r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    a, b = np.array([2.0, 0.5]), np.array([3.0, 1.5])
    expected = a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    got = frechet_from_stats(np.zeros(2), r @ np.diag(a) @ r.T, np.zeros(2), r @ np.diag(b) @ r.T)
    assert got == pytest.approx(expected)
    x = np.random.default_rng(0).normal(size=(200, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x + 3.0) == pytest.approx(8 * 9.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(x[:1], x)


def test_bar_quality_ranks_drum_bars_above_noise_and_silence():
    rng = np.random.default_rng(0)
    drums = np.stack([drum_bar("house", "low", rng), drum_bar("breaks", "high", rng)])
    noise = rng.uniform(-0.3, 0.3, (2, 2, BAR)).astype(np.float32)
    quiet = np.full((1, 2, BAR), 1e-4, np.float32)
    pb = per_bar_figures(np.concatenate([drums, noise, quiet]), SR, BPM)
    q = bar_quality(pb["grid"], pb["dynamics_db"], float(np.median(pb["grid"][:2])),
                    float(np.median(pb["dynamics_db"][:2])))
    assert q[:2].min() > 0.8 and q[2:].max() < 0.2


def test_inception_score_bounds():
    assert clf_mod.inception_score(np.eye(4)) == pytest.approx(4.0)       # confident, all classes
    assert clf_mod.inception_score(np.tile([1, 0, 0, 0], (8, 1))) == pytest.approx(1.0)
    assert clf_mod.inception_score(np.full((8, 4), 0.25)) == pytest.approx(1.0)


def test_spread_subset_covers_sources_before_repeating():
    groups = np.repeat(np.arange(10), 5)
    pick = clf_mod.spread_subset(groups, 10, np.random.default_rng(0))
    assert len(pick) == 10 and len(set(groups[pick])) == 10
    assert len(clf_mod.spread_subset(groups, 100, np.random.default_rng(0))) == 50


# ---- classifier --------------------------------------------------------------------------------
def test_classifier_learns_style_and_kit_and_is_cached_by_dataset_hash(dataset, tmp_path):
    ds = load_dataset(dataset, float_audio=False)
    train_idx, held_idx = ds.split_by_source(0.1, seed=0)
    clf = clf_mod.classifier_for_dataset(ds, train_idx, held_idx, BAR, max_seconds=600)
    assert clf.info["cached"] is False and clf.info["heads"] == {"style": 4, "kit": 2}
    # Rhythm and pitch are plain in these bars: a working classifier gets nearly all right
    # (chance: 25 % style, 50 % kit).
    assert clf.info["train_accuracy"]["style"] >= 0.9 and clf.info["train_accuracy"]["kit"] >= 0.9
    cache = dataset.parent / f"drums.npz.classifier-{sha256_file(dataset)[:16]}.pt"
    assert clf.info["cache"] == str(cache) and cache.is_file()

    bars = clf_mod._bars(ds.audio[:6], BAR)
    again = clf_mod.classifier_for_dataset(ds, train_idx, held_idx, BAR)
    assert again.info["cached"] is True
    np.testing.assert_allclose(again.embed(bars), clf.embed(bars), rtol=1e-5, atol=1e-6)
    assert clf.embed(bars).shape == (6, 64)

    # Another dataset file (other bytes) gets its own classifier; the first cache stays.
    other = make_dataset(tmp_path / "drums.npz", variations=3)
    ds2 = load_dataset(other, float_audio=False)
    tr2, he2 = ds2.split_by_source(0.1, seed=0)
    third = clf_mod.classifier_for_dataset(ds2, tr2, he2, BAR, steps=4)
    assert third.info["cached"] is False and third.info["cache"] != str(cache) and cache.is_file()

    # A damaged cache is retrained, not fatal.
    cache.write_bytes(b"not a checkpoint")
    fourth = clf_mod.classifier_for_dataset(ds, train_idx, held_idx, BAR, steps=4)
    assert fourth.info["cached"] is False and cache.stat().st_size > 1000
    clf_mod.save_classifier(clf, cache)  # the later tests evaluate with the well-trained one


def test_classifier_needs_labels(tmp_path):
    with pytest.raises(clf_mod.ClassifierUnavailable, match="no style or kit labels"):
        clf_mod.train_classifier(np.zeros((4, 2, BAR), np.float32),
                                 {"style": np.full(4, -1), "kit": np.zeros(4, int)},
                                 {"style": [], "kit": ["a"]}, SR, BAR)


# ---- evaluate end to end -----------------------------------------------------------------------
def test_evaluate_cli_writes_report_json_pictures_and_wavs(model, dataset, tmp_path, capsys):
    out = tmp_path / "report"
    assert cli_main(["evaluate", str(model), str(dataset), "--n", "6", "--out", str(out),
                     "--device", "cpu", "--seed", "10"]) == 0
    printed = capsys.readouterr().out
    assert "generated" in printed and "real, held-out" in printed and str(out / "report.md") in printed
    fig = json.loads((out / "evaluation.json").read_text())
    sets = fig["sets"]
    assert sets["generated"]["n"] == 6 and sets["untrained"]["n"] == 6
    assert fig["seeds"] == [10, 15]
    held = fig["dataset"]["heldout_sources"]
    assert held == round(0.1 * 32) and sets["real_heldout"]["n"] == min(6, 2 * held)
    # Real drum bars look like drums; an untrained network does not.
    assert sets["real_heldout"]["grid"] > sets["untrained"]["grid"] + 0.1
    assert sets["real_heldout"]["dynamics_db"] > sets["untrained"]["dynamics_db"] + 20
    assert sets["real_heldout"]["frechet"] < sets["untrained"]["frechet"]
    assert sets["real_heldout"]["quality_median"] == pytest.approx(1.0, abs=0.25)
    # The generated bars are this model's, not the untrained network's.
    assert fig["per_bar"]["generated"]["rms_db"] != fig["per_bar"]["untrained"]["rms_db"]
    report = (out / "report.md").read_text()
    for needle in ("| generated | 6 |", "| real, held-out |", "| untrained network | 6 |",
                   "Fréchet distance", "![best_worst.png](best_worst.png)", "## Classifier"):
        assert needle in report
    assert "![onset_timing.png](onset_timing.png)" in report
    timing = fig["onset_timing"]
    assert len(timing["edges_ms"]) == 25 and timing["edges_ms"][0] == pytest.approx(-60.0)
    assert set(timing["share"]) == set(sets)
    for png in ("best_worst.png", "real_heldout.png", "onset_timing.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert len(fig["best_worst"]) == 6
    for row in fig["best_worst"]:
        audio, rate = sf.read(out / row["wav"], always_2d=True)
        assert rate == SR and audio.shape == (BAR, 2)
        assert f"({row['wav']})" in report
    best, worst = fig["best_worst"][0], fig["best_worst"][-1]
    assert best["quality"] >= worst["quality"]
    # Again into the same folder, other seeds: only the new report's WAVs are left.
    assert cli_main(["evaluate", str(model), str(dataset), "--n", "6", "--out", str(out),
                     "--device", "cpu", "--seed", "500", "--no-classifier"]) == 0
    again = json.loads((out / "evaluation.json").read_text())
    assert sorted(p.name for p in out.glob("*.wav")) == sorted(r["wav"] for r in again["best_worst"])


def test_generated_copies_of_training_bars_count_as_similar(dataset, model):
    """The headline figure reacts to memorisation: a 'model' that replays training bars scores
    100 % similar, while real held-out loops from the same kits score below that."""
    result = evaluate(model, dataset, EvalOptions(n=4, device="cpu", classifier=False))
    ds = load_dataset(dataset)
    train_idx, _ = ds.split_by_source(0.1, seed=0)
    copies = ds.audio[train_idx[:4]] * 0.98  # score 0.0004 against their originals
    scores = similarity_scores(copies, ds.audio[train_idx])
    assert (scores.min(axis=1) <= result.figures["threshold"]).all()
    assert result.figures["sets"]["untrained"]["similar_fraction"] == 0.0
    assert result.figures["classifier"] is None


def test_evaluate_rejects_a_dataset_of_another_rate(model, tmp_path, capsys):
    other = make_dataset(tmp_path / "rate.npz", variations=1, copies=1, sample_rate=16000)
    assert cli_main(["evaluate", str(model), str(other), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "sample rate 16000 Hz vs the model's 14700 Hz" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("what", ["model", "dataset", "n"])
def test_evaluate_usage_errors(model, dataset, tmp_path, capsys, what):
    args = {"model": [str(tmp_path / "no_model"), str(dataset)],
            "dataset": [str(model), str(tmp_path / "no.npz")],
            "n": [str(model), str(dataset), "--n", "1"]}[what]
    assert cli_main(["evaluate", *args, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("beatgan evaluate: error:") and len(err.splitlines()) == 1
    assert {"model": "no_model", "dataset": "no.npz", "n": "--n"}[what] in err


def test_classifier_cache_falls_back_to_the_user_cache_when_the_folder_is_read_only(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = clf_mod.cache_path(folder / "d.npz", "ab" * 32)
    assert path.parent == tmp_path / "cache" / "beatgan" / "classifiers"
