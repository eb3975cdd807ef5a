"""Shared fixtures: a tiny model in the real weights format, built once per test session."""
from __future__ import annotations

import pytest
import torch

from beatgan.generator import ModelCard, named_config
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.networks import build_generator
from beatgan.generator.weights import save_model

torch.set_num_threads(2)


def make_tiny_model(folder, name="beatgan-bar", seed=0, **overrides):
    """A randomly initialised small model saved in the shipped format (fast to load and run)."""
    torch.manual_seed(seed)
    cfg = named_config(name, **{"model_size": 4, **overrides})
    card = ModelCard(config=cfg, name=f"tiny-{name}",
                     training={"data": "none (random init for tests)", "steps": 0})
    save_model(build_generator(cfg), card, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_generator(tiny_model):
    return BeatGenerator.load(tiny_model, device="cpu")
