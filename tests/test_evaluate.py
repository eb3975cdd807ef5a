"""`beatgan evaluate`: the similarity score, the Fréchet distance, the judge's rows (generated, real
held-out, white noise, untrained, --compare folders) and verdict, bar ranking, the report, and the
errors a user can fix."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import make_tiny_model

from beatgan.bridge.cli import main as cli_main
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
    # One bar per held-out source loop: noisy copies of one bar would be each other's neighbours.
    assert held == round(0.1 * 32) and sets["real_heldout"]["n"] == min(6, held)
    # Real drum bars look like drums; an untrained network does not.
    assert sets["real_heldout"]["grid"] > sets["untrained"]["grid"] + 0.1
    assert sets["real_heldout"]["dynamics_db"] > sets["untrained"]["dynamics_db"] + 20
    assert sets["real_heldout"]["frechet"] < sets["untrained"]["frechet"]
    assert sets["real_heldout"]["quality_median"] == pytest.approx(1.0, abs=0.25)
    # The generated bars are this model's, not the untrained network's.
    assert fig["per_bar"]["generated"]["rms_db"] != fig["per_bar"]["untrained"]["rms_db"]
    # The judge's rows and verdict: white noise next to the model's sets, targets per set.
    noise = fig["other_sets"]["noise"]
    assert noise["n"] == sets["real_heldout"]["n"] and noise["precision"] is None  # 3 bars: no k-NN
    for row in (*sets.values(), noise):
        assert {"frechet", "precision", "recall", "artefact_db", "artefact_hz", "targets"} <= set(row)
        assert set(row["targets"]["targets"]) == {"frechet", "precision", "recall", "artefact_db",
                                                  "self_nearest", "similar_fraction"}
    assert fig["meets_targets"] is sets["generated"]["targets"]["meets_targets"] is False
    assert fig["targets"] == sets["generated"]["targets"]["targets"]
    assert sets["real_heldout"]["frechet"] < noise["frechet"]
    assert fig["judge"]["sha256"] and fig["judge"]["reference_bars"] == 29  # one per training loop
    assert "meets_targets: false" in printed and "white noise" in printed
    report = (out / "report.md").read_text()
    for needle in ("| generated | 6 |", "| real, held-out |", "| untrained network | 6 |",
                   "| white noise |", "Fréchet distance", "![best_worst.png](best_worst.png)",
                   "## The judge", "**meets_targets: false**", "## Descriptions (not targets)",
                   "![generated_16.png](generated_16.png) | ![real_16.png](real_16.png)"):
        assert needle in report
    emb = np.load(out / "judge_embeddings.npz")
    assert emb["reference"].shape == (29, 128) and emb["generated"].shape == (6, 128)
    assert "![onset_timing.png](onset_timing.png)" in report
    timing = fig["onset_timing"]
    assert len(timing["edges_ms"]) == 25 and timing["edges_ms"][0] == pytest.approx(-60.0)
    assert set(timing["share"]) == set(sets)
    for png in ("best_worst.png", "real_heldout.png", "onset_timing.png", "generated_16.png",
                "real_16.png"):
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
                     "--device", "cpu", "--seed", "500", "--no-judge"]) == 0
    again = json.loads((out / "evaluation.json").read_text())
    assert sorted(p.name for p in out.glob("*.wav")) == sorted(r["wav"] for r in again["best_worst"])


def test_generated_copies_of_training_bars_count_as_similar(dataset, model):
    """The headline figure reacts to memorisation: a 'model' that replays training bars scores
    100 % similar, while real held-out loops from the same kits score below that."""
    result = evaluate(model, dataset, EvalOptions(n=4, device="cpu", judge=False))
    ds = load_dataset(dataset)
    train_idx, _ = ds.split_by_source(0.1, seed=0)
    copies = ds.audio[train_idx[:4]] * 0.98  # score 0.0004 against their originals
    scores = similarity_scores(copies, ds.audio[train_idx])
    assert (scores.min(axis=1) <= result.figures["threshold"]).all()
    assert result.figures["sets"]["untrained"]["similar_fraction"] == 0.0
    assert result.figures["judge"] is None and result.figures["meets_targets"] is None


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


def test_compare_judges_a_folder_of_wavs_at_their_own_tempo(model, dataset, tmp_path, capsys):
    """--compare NAME=DIR: each file's first bar at its tempo (name, or --compare-bpm), fitted to
    the model bar, in the same table; a file with no tempo is skipped with a warning."""
    import soxr
    ds = load_dataset(dataset)
    train_idx, _ = ds.split_by_source(0.1, seed=0)
    _, first = np.unique(ds.source[train_idx], return_index=True)
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, j in enumerate(train_idx[np.sort(first)][:5]):   # five training loops
        bar = ds.audio[j][..., :BAR]                          # 125 bpm at 14.7 kHz
        # The same bar played at 120 bpm and written at 44.1 kHz, two bars long.
        slow = soxr.resample(np.tile(bar, 2).T, SR, 44100 * 125 / 120)
        sf.write(folder / f"loop{i}_120bpm.wav", slow, 44100)
    sf.write(folder / "mystery.wav", ds.audio[0].T, SR)         # no tempo anywhere
    out = tmp_path / "report"
    assert cli_main(["evaluate", str(model), str(dataset), "--n", "4", "--out", str(out),
                     "--device", "cpu", "--compare", f"mine={folder}"]) == 0
    fig = json.loads((out / "evaluation.json").read_text())
    row = fig["other_sets"]["compare:mine"]
    assert row["n"] == 5 and row["precision"] is not None and "targets" in row
    assert fig["compare"] == {"compare:mine": str(folder)}
    # The bars came back in musical time: the 120 bpm loops land on their 125 bpm originals.
    assert row["nearest_score_median"] < 0.05 and row["similar_fraction"] == 1.0
    assert "| compare: mine | 5 |" in (out / "report.md").read_text()
    assert "compare: mine" in capsys.readouterr().out
    # --compare-bpm gives the mystery file a tempo: it is judged too.
    assert cli_main(["evaluate", str(model), str(dataset), "--n", "4", "--out", str(out),
                     "--device", "cpu", "--compare", f"mine={folder}", "--compare-bpm", "125"]) == 0
    assert json.loads((out / "evaluation.json").read_text())["other_sets"]["compare:mine"]["n"] == 6
    for bad, msg in ((["--compare", "nofolder"], "expected NAME=DIR"),
                     (["--compare", f"x={tmp_path / 'none'}"], "is not a folder")):
        assert cli_main(["evaluate", str(model), str(dataset), "--out", str(out), *bad]) == 1
        assert msg in capsys.readouterr().err
