"""The networks: shapes per layer and parameter counts against the official WaveGAN code."""
import pytest
import torch

from beatgan.generator import GeneratorConfig, named_config
from beatgan.generator.config import bar_strides
from beatgan.generator.wavegan import Discriminator, Generator, count_parameters, phase_shuffle


def test_paper_parameter_counts_match_official_code():
    # Official TF code, c=1, d=64, slice 16384 (counted from its variables).
    cfg = named_config("wavegan-2beat", channels=1)
    assert count_parameters(Generator(cfg)) == 19_065_345
    assert count_parameters(Discriminator(cfg)) == 17_427_969


@pytest.mark.parametrize("name,strides,dense", [
    ("wavegan-2beat", (4, 4, 4, 4, 4), 16 * 64),
    ("wavegan", (4, 4, 4, 4, 4, 2), 32 * 64),
    ("wavegan-65536", (4, 4, 4, 4, 4, 4), 32 * 64),
    ("beatgan-bar", (3, 3, 4, 7, 7), 16 * 16),
])
def test_layer_plan(name, strides, dense):
    cfg = named_config(name)
    assert cfg.strides == strides
    assert cfg.dense_channels == dense
    assert cfg.positions == 16


def test_generator_layer_shapes_follow_official_code():
    cfg = named_config("wavegan", model_size=4, channels=2)
    g = Generator(cfg)
    x = torch.relu(g.dense(torch.zeros(1, 100)).view(1, -1, 16))
    shapes = [tuple(x.shape)]
    for up in g.upconvs:
        x = up(x)
        shapes.append(tuple(x.shape))
    d = 4  # [16, 32d] -> [64, 16d] -> ... -> [16384, d] -> [32768, c]
    assert shapes == [(1, 32 * d, 16), (1, 16 * d, 64), (1, 8 * d, 256), (1, 4 * d, 1024),
                      (1, 2 * d, 4096), (1, d, 16384), (1, 2, 32768)]


@pytest.mark.parametrize("name", ["wavegan-2beat", "wavegan", "wavegan-65536", "beatgan-bar"])
@pytest.mark.parametrize("upsample", ["zeros", "nn"])
@pytest.mark.parametrize("channels", [1, 2])
def test_every_config_runs_forward(name, upsample, channels):
    cfg = named_config(name, model_size=2, upsample=upsample, channels=channels,
                       minibatch_std=True)
    g, d = Generator(cfg), Discriminator(cfg)
    audio = g(torch.rand(3, 100) * 2 - 1)
    assert audio.shape == (3, channels, cfg.slice_samples)
    assert audio.abs().max() <= 1.0  # tanh output
    d.train()
    assert d(audio).shape == (3,)


def test_bar_config_is_exactly_one_bar():
    cfg = named_config("beatgan-bar")
    assert cfg.slice_samples == cfg.bar_samples == 28224
    assert cfg.bar_samples // 16 == 1764 == 3 * 3 * 4 * 7 * 7


def test_bar_strides_refuse_unfactorable_tempo():
    # 14700 Hz at 123 bpm: a sixteenth is 1792.68 samples -> a bar is not 16 whole sixteenths.
    with pytest.raises(ValueError, match="sixteenths|prime factor"):
        GeneratorConfig(arch="bar", tempo_bpm=123.0)
    with pytest.raises(ValueError, match="prime factor"):
        bar_strides(16 * 11 * 13)


@pytest.mark.parametrize("kw, field", [({"tempo_bpm": 0}, "tempo_bpm"),
                                       ({"tempo_bpm": float("inf")}, "tempo_bpm"),
                                       ({"sample_rate": 0}, "sample_rate"),
                                       ({"beats_per_bar": 0}, "beats_per_bar")])
def test_a_config_built_in_code_checks_its_tempo_rate_and_beats(kw, field):
    # Cards read from JSON were checked already; a config built in code divided by zero.
    with pytest.raises(ValueError, match=f"^{field} must be"):
        GeneratorConfig(arch="drum-machine", **kw)


def test_seed_exact_config_is_two_beats():
    cfg = named_config("wavegan-2beat")
    assert (cfg.slice_samples, cfg.bar_samples, cfg.beats_per_bar) == (16384, 14112, 2)
    assert named_config("wavegan").bar_samples == 28224


def test_unknown_names_and_keys_are_errors():
    with pytest.raises(ValueError, match="unknown config"):
        named_config("nope")
    with pytest.raises(ValueError, match="unknown config keys"):
        GeneratorConfig.from_dict({"arch": "wavegan", "colour": "red"})
    with pytest.raises(ValueError, match="slices"):
        GeneratorConfig(slice_samples=20000)


def test_phase_shuffle_shifts_time_not_batch():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 10, dtype=torch.float32).view(2, 3, 10)
    seen = set()
    for _ in range(50):
        y = phase_shuffle(x, 2)
        assert y.shape == x.shape
        # each example keeps its own content (no mixing across the batch axis)
        for b in range(2):
            assert set(y[b].flatten().tolist()) <= set(x[b].flatten().tolist())
        shift = next(k for k in range(-2, 3) if torch.equal(
            y[..., 2:-2], x[..., 2 - k:10 - 2 - k]))
        seen.add(shift)
    assert seen == {-2, -1, 0, 1, 2}
    # reflect padding at the edge: a right shift of 2 starts with x[2], x[1]
    torch.manual_seed(0)
    while True:
        y = phase_shuffle(x, 2)
        if torch.equal(y[..., 2:], x[..., :-2]):
            assert torch.equal(y[..., 0], x[..., 2]) and torch.equal(y[..., 1], x[..., 1])
            break
