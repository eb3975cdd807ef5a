"""The shipped default model: it loads with verified checksums, and reproduces the figures its
card claims, figures the untrained network does not reach."""
import json

import numpy as np
import torch

from beatgan.generator.engine import DEFAULT_MODEL_DIR, BeatGenerator
from beatgan.generator.weights import sha256_file
from beatgan.generator.wavegan import Generator
from beatgan.training.metrics import dynamics_db, onset_grid_score


def test_shards_match_the_card_and_the_size_limit():
    card = json.loads((DEFAULT_MODEL_DIR / "model_card.json").read_text())
    assert card["shards"]
    for name, digest in card["shards"].items():
        path = DEFAULT_MODEL_DIR / name
        assert path.stat().st_size <= 15 * 1024 * 1024
        assert sha256_file(path) == digest


def test_card_is_honest_about_training_and_evaluation():
    card = json.loads((DEFAULT_MODEL_DIR / "model_card.json").read_text())
    t = card["training"]
    for key in ("recipe", "steps", "wall_minutes", "machine", "data"):
        assert t.get(key), key
    assert t["data"]["licences"] and t["data"]["kits"]
    ev = card["evaluation"]
    assert {"generated", "untrained"} <= set(ev["sets"])
    g = ev["sets"]["generated"]
    claimed = (g["grid"] >= ev["targets"]["grid"] and g["dynamics_db"] >= ev["targets"]["dynamics_db"]
               and g["similar_fraction"] < ev["targets"]["similar_fraction_below"])
    assert ev["meets_targets"] == claimed


def test_shipped_model_reproduces_its_figures_and_beats_the_untrained_network():
    gen = BeatGenerator.load(None, device="cpu")  # the default: weights/, checksums verified
    ev = gen.card.evaluation["sets"]
    first = gen.card.evaluation.get("first_seed", 0)  # the seeds `beatgan ship` evaluated
    seeds = list(range(first, first + gen.card.evaluation["n_bars"]))
    bars = gen.generate(seeds)
    sr, bpm = gen.card.sample_rate, gen.card.tempo_bpm
    grid = float(onset_grid_score(bars, sr, bpm).mean())
    dyn = float(dynamics_db(bars).mean())
    # fp16 weights, same seeds: the card's figures come back (to float noise)
    assert abs(grid - ev["generated"]["grid"]) < 0.01
    assert abs(dyn - ev["generated"]["dynamics_db"]) < 0.5

    torch.manual_seed(0)  # the untrained network `beatgan evaluate` compares against
    untrained = BeatGenerator(gen.card, Generator(gen.card.config).eval(), "cpu", torch.float32)
    u = untrained.generate(seeds)
    u_grid = float(onset_grid_score(u, sr, bpm).mean())
    u_dyn = float(dynamics_db(u).mean())
    # A threshold the trained model passes and the untrained network fails.
    grid_bar = ev["generated"]["grid"] - 0.01
    assert grid >= grid_bar > u_grid
    assert dyn >= 20.0 > u_dyn
    assert np.isfinite(bars).all() and np.abs(bars).max() <= 1.0


def test_card_states_the_sampling_it_was_measured_with_and_the_raw_figures():
    """The card's figures are for bars drawn the way the card says (its truncation); when that is
    not psi 1, the raw network's figures are on the card too, and they come back as well."""
    gen = BeatGenerator.load(None, device="cpu")
    ev = gen.card.evaluation
    assert ev.get("truncation", 1.0) == gen.truncation == gen.card.truncation
    if gen.truncation == 1.0:
        return
    raw = ev["untruncated"]
    seeds = list(range(ev["first_seed"], ev["first_seed"] + ev["n_bars"]))
    bars = gen.generate(seeds, truncation=1.0)
    sr, bpm = gen.card.sample_rate, gen.card.tempo_bpm
    assert abs(float(onset_grid_score(bars, sr, bpm).mean()) - raw["grid"]) < 0.01
    assert abs(float(dynamics_db(bars).mean()) - raw["dynamics_db"]) < 0.5
    readme = (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert f"truncation {gen.truncation:g}" in readme and "no truncation (psi 1)" in readme
