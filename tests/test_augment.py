"""Critic-side augmentation: whole-beat rotations and left/right swaps, differentiable, at the
asked rate, never touching the padding after the bar; and a training run that uses it."""
from __future__ import annotations

import numpy as np
import torch
from train_support import make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.training.augment import rotate_beats_swap_lr
from beatgan.training.recipes import recipe
from beatgan.training.trainer import RunOptions, Trainer, load_checkpoint

BAR, BEATS = 28224, 4
BEAT = BAR // BEATS


def bars(n: int, tail: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, BAR + tail, generator=torch.Generator().manual_seed(1))


def identify(x: torch.Tensor, y: torch.Tensor) -> tuple[int, bool]:
    """(beats rotated, channels swapped) that turn example x into y; raises if none does."""
    for swap in (False, True):
        src = x.flip(0) if swap else x
        for k in range(BEATS):
            if torch.equal(torch.roll(src, k * BEAT, dims=1), y):
                return k, swap
    raise AssertionError("not a whole-beat rotation or L/R swap of the input")


def test_off_means_untouched():
    x = bars(3)
    assert rotate_beats_swap_lr(x, BAR, BEATS, 0.0) is x


def test_every_example_is_rotated_by_whole_beats_and_swapped_at_p_1():
    x = bars(12)
    y = rotate_beats_swap_lr(x, BAR, BEATS, 1.0, torch.Generator().manual_seed(0))
    found = [identify(x[i], y[i]) for i in range(12)]
    assert all(k in (1, 2, 3) and swap for k, swap in found)
    assert len({k for k, _ in found}) == 3  # every rotation occurs


def test_rate_follows_p_and_padding_after_the_bar_stays():
    x = bars(400, tail=4544)  # the paper model's 32768-sample slice: bar + zero padding
    x[..., BAR:] = 0
    y = rotate_beats_swap_lr(x, BAR, BEATS, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(y[..., BAR:], x[..., BAR:])
    found = [identify(x[i, :, :BAR], y[i, :, :BAR]) for i in range(400)]
    rotated = np.mean([k > 0 for k, _ in found])
    swapped = np.mean([s for _, s in found])
    assert abs(rotated - 0.3) < 0.07 and abs(swapped - 0.3) < 0.07


def test_gradients_reach_every_sample_once():
    x = bars(4).requires_grad_(True)
    rotate_beats_swap_lr(x, BAR, BEATS, 1.0).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_the_trainer_critic_sees_augmented_bars_only_when_asked(tmp_path):
    meta = {"channels": 2, "sample_rate": 14700, "tempo_bpm": 125.0}
    data = bars(4).numpy()
    outs = {}
    for p in (0.0, 1.0):
        # No phase shuffle: the only randomness left in the critic is the augmentation.
        cfg = recipe("cpu-bar", model_size=2, batch_size=2, augment_p=p, phase_shuffle=0)
        t = Trainer(cfg, data, meta, RunOptions(run_dir=tmp_path))
        x = torch.from_numpy(data[:2])
        with torch.no_grad():
            outs[p] = (t._critic(x), t._critic(x))
    assert torch.equal(*outs[0.0])
    assert not torch.equal(*outs[1.0])


def test_train_cli_takes_augment_p_and_records_it(tmp_path):
    ds = make_kit_dataset(tmp_path / "data", slice_samples=BAR)
    run = tmp_path / "run"
    assert cli_main(["train", str(ds), "--recipe", "cpu-groove", "--augment-p", "0.5",
                     "--model-size", "2", "--batch-size", "2", "--threads", "1", "--steps", "2",
                     "--checkpoint-steps", "2", "--sample-every", "100", "--no-progress",
                     "--run-dir", str(run)]) == 0
    assert load_checkpoint(run / "checkpoints" / "last.pt")["train_config"]["augment_p"] == 0.5
