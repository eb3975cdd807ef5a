"""Latent truncation: a pure latent transform, carried by the model card as the default, and
overridable per call, per command and per daemon."""
import json

import numpy as np
import pytest

from beatgan.generator import ModelCard
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.latent import seed_latent, truncate
from beatgan.generator.weights import ModelLoadError

from conftest import make_tiny_model


def test_truncate_scales_towards_the_centre_one_psi_or_one_per_latent():
    z = np.stack([seed_latent(s) for s in range(3)])
    assert np.allclose(truncate(z, 0.5), 0.5 * z)
    assert np.array_equal(truncate(z, 1.0), z)
    per = truncate(z, [1.0, 0.5, 2.0])
    assert np.allclose(per, z * np.array([[1.0], [0.5], [2.0]]))
    with pytest.raises(ValueError, match="2 truncation values for 3 latents"):
        truncate(z, [0.5, 0.7])


@pytest.mark.parametrize("bad", [0.0, 0.01, 2.5, -1.0, float("nan"), float("inf")])
def test_truncation_out_of_range_is_refused_with_the_range(bad):
    with pytest.raises(ValueError, match=r"truncation must be in 0.05..2"):
        truncate(np.zeros((1, 100), np.float32), bad)


@pytest.mark.parametrize("bad", ["0.7", True, None])
def test_truncation_that_is_not_a_number_is_refused(bad):
    with pytest.raises(TypeError, match="truncation must be a number"):
        truncate(np.zeros((1, 100), np.float32), bad)


def test_generator_default_is_the_cards_and_a_call_can_override_it(tmp_path):
    folder = make_tiny_model(tmp_path / "m")
    plain = BeatGenerator.load(folder, device="cpu")
    assert plain.truncation == 1.0  # a card without `sampling`: the raw latent distribution
    card = ModelCard.load(folder)
    card.sampling = {"truncation": 0.6}
    card.save(folder)  # the card is outside the shard sums: the model still loads
    gen = BeatGenerator.load(folder, device="cpu")
    assert gen.truncation == 0.6
    seeds = [3, 4]
    z = np.stack([seed_latent(s) for s in seeds])
    default = gen.generate(seeds)
    assert np.allclose(default, plain.generate_latents(0.6 * z), atol=1e-6)
    assert np.allclose(gen.generate(seeds, truncation=1.0), plain.generate(seeds), atol=1e-6)
    assert not np.allclose(default, plain.generate(seeds), atol=1e-4)
    mixed = gen.generate(seeds, truncation=[1.0, 0.6])
    assert np.allclose(mixed[0], plain.generate([3])[0], atol=1e-6)
    assert np.allclose(mixed[1], default[1], atol=1e-6)
    assert np.allclose(gen.variation(3, 0.0), default[0], atol=1e-6)
    assert np.allclose(gen.morph(3, 4, 1.0, truncation=1.0), plain.generate([4])[0], atol=1e-5)
    # the loader's argument beats the card
    assert BeatGenerator.load(folder, device="cpu", truncation=0.9).truncation == 0.9


def test_a_card_with_a_bad_truncation_is_refused_by_name(tmp_path):
    folder = make_tiny_model(tmp_path / "m")
    path = folder / "model_card.json"
    card = json.loads(path.read_text())
    card["sampling"] = {"truncation": 7}
    path.write_text(json.dumps(card))
    with pytest.raises((ModelLoadError, ValueError), match="truncation must be in"):
        BeatGenerator.load(folder, device="cpu")


def test_generate_command_takes_truncation(tiny_model, tmp_path):
    import soundfile as sf

    from beatgan.bridge.cli import main as cli_main
    runs = {}
    for psi in ("1", "0.5"):
        out = tmp_path / psi
        assert cli_main(["generate", "--model", str(tiny_model), "--seed", "11", "--out", str(out),
                         "--truncation", psi, "--device", "cpu"]) == 0
        (wav,) = out.glob("*.wav")
        runs[psi], _ = sf.read(wav)
    assert runs["1"].shape == runs["0.5"].shape and not np.allclose(runs["1"], runs["0.5"])
    assert cli_main(["generate", "--model", str(tiny_model), "--out", str(tmp_path / "x"),
                     "--truncation", "9", "--device", "cpu"]) != 0


def test_serve_config_checks_truncation():
    from beatgan.bridge.settings import BridgeConfig
    assert BridgeConfig().truncation == 0.0  # the model card's default
    assert BridgeConfig(truncation=0.7).truncation == 0.7
    with pytest.raises(ValueError, match="truncation must be 0 .* or in 0.05..2"):
        BridgeConfig(truncation=3.0)
