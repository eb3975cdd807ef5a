"""The generator's amplitude-envelope output (`--envelope`): it keeps every length exact, starts
as the plain network scaled by its opening, can close to silence, trains, and a model with one
survives export and loading."""
from __future__ import annotations

import json
import math

import pytest
import torch
from train_support import make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.generator import GeneratorConfig, named_config
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.wavegan import Envelope, Generator
from beatgan.training.recipes import recipe
from beatgan.training.trainer import load_checkpoint

TRAIN = ["--recipe", "cpu-bar", "--model-size", "2", "--batch-size", "4", "--threads", "1",
         "--no-progress", "--sample-every", "100"]


@pytest.mark.parametrize("name,length", [("beatgan-bar", 28224), ("wavegan", 32768)])
@pytest.mark.parametrize("upsample", ["zeros", "nn"])
def test_lengths_stay_exact(name, length, upsample):
    g = Generator(named_config(name, model_size=2, upsample=upsample, envelope=True))
    assert g(torch.rand(2, 100) * 2 - 1).shape == (2, 2, length)


def _pair():
    plain = Generator(named_config("beatgan-bar", model_size=2))
    gated = Generator(named_config("beatgan-bar", model_size=2, envelope=True))
    gated.load_state_dict({**gated.state_dict(), **plain.state_dict()})
    return plain, gated


def test_starts_as_the_plain_network_scaled_by_its_opening():
    torch.manual_seed(5)
    plain = Generator(named_config("beatgan-bar", model_size=2))
    torch.manual_seed(5)
    gated = Generator(named_config("beatgan-bar", model_size=2, envelope=True))
    after_gated = torch.rand(1)
    torch.manual_seed(5)
    Generator(named_config("beatgan-bar", model_size=2))
    # No random numbers drawn: the same seed gives the same weights and the same stream after.
    assert torch.equal(torch.rand(1), after_gated)
    assert all(torch.equal(v, gated.state_dict()[k]) for k, v in plain.state_dict().items())
    assert sorted(set(gated.state_dict()) - set(plain.state_dict())) == [
        "envelope.bias", "envelope.weight"]
    z = torch.rand(3, 100) * 2 - 1
    opening = 1 / (1 + math.exp(-Envelope.OPEN))
    torch.testing.assert_close(gated(z), opening * plain(z), rtol=0, atol=1e-6)


def test_a_closed_gate_is_silence_and_a_gate_shapes_the_bar():
    _, gated = _pair()
    z = torch.rand(2, 100) * 2 - 1
    with torch.no_grad():
        gated.envelope.bias.fill_(-30.0)
        assert gated(z).abs().max() < 1e-12
        # Gate on the features: the envelope now varies along the bar, as hits need it to.
        gated.envelope.bias.fill_(0.0)
        gated.envelope.weight.normal_(0, 0.5)
        env = gated.envelope(torch.relu(torch.randn(2, gated.envelope.weight.shape[1], 4032)))
    assert env.shape == (2, 2, 28224)
    assert env.min() >= 0 and env.max() <= 1 and env.std() > 0.05


def test_switch_defaults_and_old_configs_load():
    assert recipe("cpu-bar").envelope is False
    assert recipe("cpu-bar", envelope=True).envelope is True
    old = named_config("beatgan-bar").to_dict()
    del old["envelope"]  # a model card written before the field existed
    assert GeneratorConfig.from_dict(old).envelope is False


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("env_data"), loops=4, slice_samples=28224)


def test_train_export_and_generate_with_an_envelope(dataset, tmp_path):
    run, model = tmp_path / "run", tmp_path / "model"
    assert cli_main(["train", str(dataset), *TRAIN, "--envelope", "--lr-g", "1e-2", "--steps", "3",
                     "--checkpoint-steps", "3", "--run-dir", str(run), "--export", str(model)]) == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["train_config"]["envelope"] is True and ckpt["model_config"]["envelope"] is True
    assert ckpt["G"]["envelope.weight"].abs().max() > 1e-4  # trained, not fixed

    card = json.loads((model / "model_card.json").read_text())
    assert card["config"]["envelope"] is True
    gen = BeatGenerator.load(model, device="cpu")
    bars = gen.generate([1, 2])
    assert bars.shape == (2, 2, 28224) and bars.std() > 0

    # Without the switch the recipe's network has no envelope, and fine-tuning says so.
    assert cli_main(["train", str(dataset), *TRAIN, "--steps", "1", "--init-from", str(model),
                     "--run-dir", str(tmp_path / "bad")]) != 0
