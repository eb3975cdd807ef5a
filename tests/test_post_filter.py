"""The generator's learned post-processing filter (`--post-filter TAPS`, WaveGAN's
--wavegan_genr_pp): the FFT filter is the convolution it claims to be, it starts as the identity,
it trains, and a model with one survives export, loading and fine-tuning."""
from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F
from train_support import make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.generator import GeneratorConfig, named_config
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.wavegan import Generator, fft_conv_same
from beatgan.training.trainer import load_checkpoint

TAPS = 64
TRAIN = ["--recipe", "cpu-bar", "--model-size", "2", "--batch-size", "4", "--threads", "1",
         "--no-progress", "--sample-every", "100", "--post-filter", str(TAPS)]


@pytest.mark.parametrize("taps", [1, 7, 64, 512, 513])
@pytest.mark.parametrize("c_in,c_out", [(1, 1), (2, 2), (2, 1)])
def test_fft_filter_is_conv1d_same(taps, c_in, c_out):
    torch.manual_seed(taps)
    x = torch.randn(3, c_in, 2000, dtype=torch.float64)
    w = torch.randn(c_out, c_in, taps, dtype=torch.float64)
    want = F.conv1d(x, w, padding="same")
    got = fft_conv_same(x, w)
    assert got.dtype == x.dtype and got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * want.abs().max().item())


def test_half_precision_input_is_filtered_in_float32():
    x = torch.randn(1, 2, 1000)
    w = torch.randn(2, 2, 512)
    got = fft_conv_same(x.half(), w.half())
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), F.conv1d(x.half().float(), w.half().float(),
                                                     padding="same"), rtol=1e-2, atol=1e-2)


def test_filter_starts_as_the_identity():
    cfg = named_config("beatgan-bar", model_size=2)
    plain, filtered = Generator(cfg), Generator(named_config("beatgan-bar", model_size=2,
                                                             post_filter=512))
    filtered.load_state_dict({**filtered.state_dict(), **plain.state_dict()})
    z = torch.rand(2, 100) * 2 - 1
    torch.testing.assert_close(filtered(z), plain(z), rtol=0, atol=1e-5)
    assert sorted(set(filtered.state_dict()) - set(plain.state_dict())) == ["post_filter.weight"]


def test_config_checks_and_old_configs_load():
    with pytest.raises(ValueError, match="post_filter"):
        GeneratorConfig(post_filter=-1)
    old = named_config("beatgan-bar").to_dict()
    del old["post_filter"]  # a model card written before the field existed
    assert GeneratorConfig.from_dict(old).post_filter == 0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("pf_data"), loops=4, slice_samples=28224)


def test_train_export_generate_and_fine_tune_with_a_post_filter(dataset, tmp_path):
    run, model = tmp_path / "run", tmp_path / "model"
    assert cli_main(["train", str(dataset), *TRAIN, "--lr-g", "1e-2", "--steps", "3",
                     "--checkpoint-steps", "3", "--run-dir", str(run), "--export", str(model)]) == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["model_config"]["post_filter"] == TAPS
    w = ckpt["G"]["post_filter.weight"]
    identity = torch.zeros_like(w)
    identity[[0, 1], [0, 1], (TAPS - 1) // 2] = 1.0
    assert (w - identity).abs().max() > 1e-3  # the critic moved it: it is trained, not fixed

    card = json.loads((model / "model_card.json").read_text())
    assert card["config"]["post_filter"] == TAPS
    gen = BeatGenerator.load(model, device="cpu")
    bars = gen.generate([1, 2])
    assert bars.shape == (2, 2, 28224) and bars.std() > 0

    # Fine-tuning checks the network against the recipe: the filter length is part of it.
    assert cli_main(["train", str(dataset), *TRAIN, "--steps", "1", "--init-from", str(model),
                     "--run-dir", str(tmp_path / "ft")]) == 0
    assert cli_main(["train", str(dataset), *TRAIN[:-1], "128", "--steps", "1",
                     "--init-from", str(model), "--run-dir", str(tmp_path / "bad")]) != 0
