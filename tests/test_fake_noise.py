"""`--fake-noise`: generated bars reach the critics with the dataset's own augmentation noise
added (uniform, at the peak `beatgan prepare` recorded, never in the padding), real bars stay as
they are, and a dataset prepared without noise is refused with one clear line."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from train_support import make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.training.augment import add_augmentation_noise
from beatgan.training.recipes import recipe
from beatgan.training.trainer import RunOptions, Trainer, fake_noise_peak, load_checkpoint

BAR = 28224
PEAK = 10000 / 2 ** 23  # `beatgan prepare`'s default: 10000 24-bit LSBs
META = {"channels": 2, "sample_rate": 14700, "tempo_bpm": 125.0,
        "augment": {"noise_lsb24": 10000, "noise_peak": PEAK}}


def test_noise_is_uniform_at_the_peak_and_spares_the_padding():
    x = torch.zeros(8, 2, BAR + 4544)  # the paper model's slice: bar + zero padding
    y = add_augmentation_noise(x, PEAK, BAR)
    bar = y[..., :BAR]
    assert torch.equal(y[..., BAR:], x[..., BAR:])
    assert bar.abs().max() <= PEAK
    assert bar.std().item() == pytest.approx(PEAK / math.sqrt(3), rel=0.01)  # uniform, not normal
    assert abs(bar.mean().item()) < PEAK / 100
    left, right = bar[:, 0].flatten(), bar[:, 1].flatten()
    assert abs(torch.corrcoef(torch.stack([left, right]))[0, 1].item()) < 0.02  # per channel


def test_no_peak_means_untouched_and_gradients_pass_through():
    x = torch.randn(2, 2, BAR)
    assert add_augmentation_noise(x, 0.0, BAR) is x
    x.requires_grad_(True)
    add_augmentation_noise(x, PEAK, BAR).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_the_peak_comes_from_the_dataset_and_a_clean_dataset_is_refused():
    assert fake_noise_peak(recipe("cpu-bar"), META) == 0.0  # off unless asked
    on = recipe("cpu-bar", fake_noise=True)
    assert fake_noise_peak(on, META) == PEAK
    for meta in ({"channels": 2}, {"augment": {"noise_lsb24": 0, "noise_peak": 0.0}}):
        with pytest.raises(ValueError, match="without augmentation noise"):
            fake_noise_peak(on, meta)


@pytest.mark.parametrize("on", [False, True])
def test_the_critic_sees_generated_bars_with_the_noise_and_real_bars_without(tmp_path, on):
    data = (np.random.default_rng(0).standard_normal((4, 2, BAR)) * 0.1).astype(np.float32)
    cfg = recipe("cpu-bar", model_size=2, batch_size=2, fake_noise=on)
    t = Trainer(cfg, data, META, RunOptions(run_dir=tmp_path))
    t._g_fwd = lambda z: torch.zeros(len(z), 2, BAR)  # silent bars: what reaches D is the noise
    seen = []
    t.D.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    t.critic_step()
    real, fake = seen
    assert any(torch.equal(real[0], torch.from_numpy(d)) for d in data)  # real bars untouched
    if not on:
        assert torch.count_nonzero(fake) == 0
    else:
        assert 0 < fake.abs().max() <= PEAK
        assert fake.std().item() == pytest.approx(PEAK / math.sqrt(3), rel=0.02)


def test_generator_step_trains_through_the_noise(tmp_path):
    data = (np.random.default_rng(0).standard_normal((4, 2, BAR)) * 0.1).astype(np.float32)
    t = Trainer(recipe("cpu-bar", model_size=2, batch_size=2, fake_noise=True), data, META,
                RunOptions(run_dir=tmp_path))
    made, seen = [], []
    t.G.register_forward_hook(lambda _m, _args, out: made.append(out.detach().clone()))
    t.D.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    before = [p.detach().clone() for p in t.G.parameters()]
    t.generator_step()
    assert any(not torch.equal(a, b) for a, b in zip(before, t.G.parameters()))
    noise = seen[0] - made[0]  # D saw G's bars plus the dataset's noise
    assert 0 < noise.abs().max() <= PEAK * 1.001
    assert noise.std().item() == pytest.approx(PEAK / math.sqrt(3), rel=0.02)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake_noise_data")
    noisy = make_kit_dataset(folder, loops=4, slice_samples=BAR)
    clean = folder / "clean.npz"
    assert cli_main(["prepare", str(folder / "loops"), "--out", str(clean), "--copies", "1",
                     "--noise", "0", "--slice", str(BAR)]) == 0
    return noisy, clean


TRAIN = ["--recipe", "cpu-bar", "--fake-noise", "--model-size", "2", "--batch-size", "2",
         "--threads", "1", "--steps", "2", "--checkpoint-steps", "2", "--sample-every", "100",
         "--no-progress"]


def test_train_cli_records_the_switch(datasets, tmp_path):
    noisy, _ = datasets
    run = tmp_path / "run"
    assert cli_main(["train", str(noisy), *TRAIN, "--run-dir", str(run)]) == 0
    assert load_checkpoint(run / "checkpoints" / "last.pt")["train_config"]["fake_noise"] is True


def test_train_cli_refuses_a_clean_dataset_in_one_line(datasets, tmp_path, capsys):
    _, clean = datasets
    run = tmp_path / "run"
    assert cli_main(["train", str(clean), *TRAIN, "--run-dir", str(run)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fake-noise" in err[0] and "without augmentation noise" in err[0]
    assert not (run / "checkpoints").exists()  # refused before anything was written


def test_the_release_page_names_the_switch():
    from beatgan.training.ship_cmd import _recipe_extras
    assert _recipe_extras(recipe("cpu-bar").to_dict()) == []
    extras = _recipe_extras(recipe("cpu-groove", fake_noise=True).to_dict())
    assert any("--fake-noise" in x for x in extras) and any("groove critic" in x for x in extras)
