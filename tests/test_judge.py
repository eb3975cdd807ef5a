"""The fixed quality judge: its figures, its targets, the tricks that fooled the old targets, and
the committed judge being what `beatgan judge build` makes from its manifest."""
from __future__ import annotations

import json

import numpy as np
import pytest

from beatgan.bridge.cli import main as cli_main
from beatgan.generator.weights import sha256_file
from beatgan.training import judge as judge_mod
from beatgan.training.evaluate import similarity_scores, within_set_nearest
from beatgan.training.judge import (TARGETS, Judge, Reference, artefact_prominence, check_targets,
                                    judge_figures, knn_radii, precision_recall, to_judge_bars)

SR, BAR = 14700, 28224
SIXTEENTH = BAR // 16


# ---- pure figures ------------------------------------------------------------------------------
def test_knn_precision_recall_closed_forms():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 8))
    assert precision_recall(real, real) == (1.0, 1.0)           # a set covers itself exactly
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    # A collapsed set: every fake bar is one real bar (inside the manifold: precision 1), but its
    # k-NN radius is 0, so it covers only that bar (recall 1/200).
    p, r = precision_recall(real, np.repeat(real[:1], 50, axis=0))
    assert p == 1.0 and r == pytest.approx(1 / 200)
    # The radius is the distance to the k-th nearest *other* point.
    pts = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
    assert knn_radii(pts, k=3).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]
    with pytest.raises(ValueError, match="more than k"):
        knn_radii(pts[:3])


def test_artefact_prominence_finds_a_steady_tone_and_not_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, (8, 2, BAR)).astype(np.float32)
    db, _ = artefact_prominence(noise, SR)
    assert db < 2.0
    t = np.arange(BAR) / SR
    tone = noise + 0.01 * np.sin(2 * np.pi * 2100 * t).astype(np.float32)
    db, hz = artefact_prominence(tone, SR)
    assert db > 10 and hz == pytest.approx(2100, abs=5)
    # Outside 100 Hz - 7 kHz it is not looked for.
    low = noise + 0.01 * np.sin(2 * np.pi * 60 * t).astype(np.float32)
    assert artefact_prominence(low, SR)[0] < 2.0


def test_bars_are_judged_in_musical_time():
    """A bar at another rate or tempo is resampled so that one bar fills the judge's 28224 samples;
    mono is duplicated, samples past the bar are dropped."""
    clicks = np.zeros((1, 1, 40000), np.float32)
    bar_16k_120 = int(round(4 * 60 / 120 * 16000))              # 32000 samples
    for s in range(16):
        clicks[0, 0, s * bar_16k_120 // 16] = 1.0
    out = to_judge_bars(clicks, 16000, 120.0)
    assert out.shape == (1, 2, BAR) and np.array_equal(out[0, 0], out[0, 1])
    peaks = [int(np.argmax(np.abs(out[0, 0, s * SIXTEENTH - 40:s * SIXTEENTH + 40]))) + s * SIXTEENTH - 40
             for s in range(1, 16)]
    assert np.abs(np.array(peaks) - np.arange(1, 16) * SIXTEENTH).max() <= 2
    same = np.random.default_rng(0).uniform(-1, 1, (2, 2, BAR + 100)).astype(np.float32)
    assert np.array_equal(to_judge_bars(same, SR, 125.0), same[..., :BAR])


def test_check_targets_relative_to_the_real_row():
    real = {"frechet": 100.0, "precision": 0.9, "recall": 0.9, "artefact_db": 5.0,
            "self_nearest_median": 0.6, "similar_fraction": 0.1}
    assert check_targets(real, real)["meets_targets"]
    worse = {**real, "frechet": 301.0, "artefact_db": 8.5, "self_nearest_median": 0.29,
             "similar_fraction": 0.4, "precision": 0.59, "recall": 0.29}
    res = check_targets(worse, real)
    assert not res["meets_targets"]
    assert res["failed"] == list(res["targets"])            # every one of them, at its edge
    assert res["targets"]["frechet"]["limit"] == 300.0 and res["targets"]["artefact_db"]["limit"] == 8.0
    edge = {**real, "frechet": 300.0, "artefact_db": 8.0, "self_nearest_median": 0.3,
            "similar_fraction": 0.39, "precision": 0.6, "recall": 0.3}
    assert check_targets(edge, real)["meets_targets"]
    # Without a real row the relative targets cannot be measured: no verdict of 'meets'.
    res = check_targets(real, None)
    assert not res["meets_targets"] and res["targets"]["frechet"]["pass"] is None


# ---- the committed judge -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def judge():
    return Judge.load()


def test_committed_judge_is_small_checked_and_documented(judge):
    folder = judge_mod.JUDGE_DIR
    weights = folder / judge_mod.WEIGHTS_FILE
    assert weights.stat().st_size < 3 * 1024 * 1024
    card = json.loads((folder / judge_mod.CARD_FILE).read_text())
    assert card["files"][judge_mod.WEIGHTS_FILE] == sha256_file(weights)
    assert card["targets"] == TARGETS and judge.targets == TARGETS
    data = card["data"]
    # Broader than one dataset: every usable Hydrogen kit, every style, several tempos.
    assert len(data["kits"]) >= 12 and all(k["licence"] and k["licence"] != "unknown" for k in data["kits"])
    assert set(data["styles"]) == {"house", "techno", "breaks", "electro"}
    assert len(data["tempos_bpm"]) >= 5 and min(data["tempos_bpm"]) <= 110 and max(data["tempos_bpm"]) >= 140
    for key in ("seed", "sha256", "bars", "heldout_bars", "counts"):
        assert data[key] is not None, key
    acc = card["training"]["heldout_accuracy"]
    # Chance: kit 1/14, style 1/4, tempo 1/5; onsets: most cells are rests.
    assert acc["kit"] > 0.7 and acc["style"] > 0.6 and acc["tempo"] > 0.4 and acc["onset_f1"] > 0.7
    assert {"torch", "numpy", "soxr", "pedalboard"} <= set(card["versions"])


def test_a_judge_whose_weights_do_not_match_its_card_is_refused(tmp_path):
    import shutil
    folder = tmp_path / "judge"
    shutil.copytree(judge_mod.JUDGE_DIR, folder)
    raw = bytearray((folder / judge_mod.WEIGHTS_FILE).read_bytes())
    raw[-1] ^= 1
    (folder / judge_mod.WEIGHTS_FILE).write_bytes(bytes(raw))
    with pytest.raises(judge_mod.JudgeUnavailable, match="does not match"):
        Judge.load(folder)
    with pytest.raises(judge_mod.JudgeUnavailable, match="no judge here"):
        Judge.load(tmp_path / "nothing")


# ---- the tricks that fooled the old targets ----------------------------------------------------
def _row(judge: Judge, bars: np.ndarray, ref: Reference, ref_bars: np.ndarray) -> dict:
    """A set's judge figures plus the two waveform figures, as `beatgan evaluate` computes them."""
    row = judge_figures(judge, bars, ref)
    row["self_nearest_median"] = float(np.median(within_set_nearest(bars)))
    row["similar_fraction"] = float((similarity_scores(bars, ref_bars).min(axis=1) <= 0.1).mean())
    return row


@pytest.fixture(scope="module")
def real_sets():
    """Three disjoint sets of real bars made the way the standard dataset is (render-kit's default
    kits at 124/125 bpm fitted to 125, the dataset's noise), from seeds the judge never trained
    on: a reference (the training bars), the real held-out row, and a candidate."""
    from beatgan.training.judge_data import load_kits, real_bars
    from beatgan.training.kit import DEFAULT_KITS
    loaded, _ = load_kits(DEFAULT_KITS)
    return {"reference": real_bars(256, seed=9001, loaded=loaded),
            "heldout": real_bars(64, seed=9002, loaded=loaded),
            "candidate": real_bars(64, seed=9003, loaded=loaded),
            "candidate_clean": real_bars(64, seed=9003, loaded=loaded, noise_lsb24=0)}


def _tricks(c: np.ndarray) -> dict[str, np.ndarray]:
    n = len(c)
    rng = np.random.default_rng(5)
    gate = np.zeros(BAR, np.float32)
    for s in range(16):                                   # open for the first half of each 16th
        gate[s * SIXTEENTH:s * SIXTEENTH + SIXTEENTH // 2] = 1.0
    gate = np.convolve(gate, np.ones(32) / 32, mode="same").astype(np.float32)  # no clicks
    t = np.arange(BAR) / SR
    return {
        "gated_noise": rng.normal(0, 0.3, (n, 2, BAR)).astype(np.float32) * gate,
        "repeated_bar": np.repeat(c[:1], n, axis=0),
        "tone_2100hz": c + np.float32(10 ** (-30 / 20)) * np.sin(2 * np.pi * 2100 * t).astype(np.float32),
        "half_sixteenth_late": np.roll(c, SIXTEENTH // 2, axis=-1),
    }


def test_real_bars_pass_and_every_trick_fails(judge, real_sets):
    ref_bars = real_sets["reference"]
    ref = Reference(judge.embed(ref_bars))
    real = _row(judge, real_sets["heldout"], ref, ref_bars)
    candidate = check_targets(_row(judge, real_sets["candidate"], ref, ref_bars), real, judge.targets)
    assert candidate["meets_targets"], candidate
    # The same bars without the dataset's -63 dBFS noise floor pass too: the judge hears nothing
    # that far down, so a model with clean silence between its hits is not marked down for it.
    clean = check_targets(_row(judge, real_sets["candidate_clean"], ref, ref_bars), real, judge.targets)
    assert clean["meets_targets"], clean
    # The tricks, and the target each one should fail (it may fail more).
    expected = {"gated_noise": "precision", "repeated_bar": "self_nearest",
                "tone_2100hz": "artefact_db", "half_sixteenth_late": "precision"}
    verdicts = {}
    for name, bars in _tricks(real_sets["candidate"]).items():
        res = check_targets(_row(judge, bars, ref, ref_bars), real, judge.targets)
        verdicts[name] = res["failed"]
        assert not res["meets_targets"], name
        assert expected[name] in res["failed"], (name, res["targets"])
    # Gating noise on the grid is what met the old onset-grid and dynamics targets.
    from beatgan.training.metrics import dynamics_db, onset_grid_score
    gated = _tricks(real_sets["candidate"][:8])["gated_noise"]
    assert onset_grid_score(gated, SR, 125.0).mean() >= 0.45 and dynamics_db(gated).mean() >= 32
    # A repeated bar has no variety: recall fails with it.
    assert "recall" in verdicts["repeated_bar"]


def test_judge_cli_show_and_usage(capsys):
    assert cli_main(["judge", "show"]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "sha256" in out
    assert cli_main(["judge", "build"]) == 1
    assert "--out is required" in capsys.readouterr().err


# ---- reproducibility ---------------------------------------------------------------------------
def test_the_committed_judge_is_what_judge_build_makes(tmp_path):
    """`beatgan judge build` from the committed card's manifest gives the committed weights (and,
    as the code's defaults are that manifest, so does a plain build): bit for bit where the
    libraries match, else the same held-out accuracy and probe verdicts within tolerance.
    (Renders 2688 bars and trains on one thread: about 2-3 minutes on a 2-core CPU.)"""
    from beatgan.training.judge_cmd import compare
    out = tmp_path / "judge"
    card = judge_mod.JUDGE_DIR / judge_mod.CARD_FILE
    assert cli_main(["judge", "build", "--out", str(out), "--manifest", str(card)]) == 0
    committed = json.loads(card.read_text())
    rebuilt = json.loads((out / judge_mod.CARD_FILE).read_text())
    same, how = compare(committed, rebuilt)
    assert same, how
    if rebuilt["versions"] == committed["versions"]:
        assert rebuilt["data"]["sha256"] == committed["data"]["sha256"]
        assert rebuilt["files"] == committed["files"], how


def test_run_judge_scores_checkpoints_against_the_run_data(judge, real_sets):
    """What a training run calls per checkpoint: real bars score about 1 and meet the targets,
    gated noise scores near 0 and does not; int16 dataset audio is accepted."""
    from beatgan.training.judge import RunJudge
    ref16 = np.round(real_sets["reference"] * 32768).astype(np.int16)
    run = RunJudge(ref16, SR, 125.0, heldout_bars=real_sets["heldout"], judge=judge)
    real = run.figures(real_sets["candidate"])
    assert real["meets_targets"] and 0.5 < real["score"] < 2.0
    fake = run.figures(_tricks(real_sets["candidate"])["gated_noise"])
    assert not fake["meets_targets"] and fake["score"] < 0.05 and "precision" in fake["failed_targets"]
