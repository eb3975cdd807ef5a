"""The groove critic knows where the sixteenth grid is: it learns to tell clicks on the grid from
the same clicks half a sixteenth late, which a time-averaged spectrogram critic cannot; and a
`cpu-groove` run checkpoints and resumes it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from train_support import make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.training.groove_critic import FRAMES_PER_SIXTEENTH, GrooveCritic, grid_phase_channels
from beatgan.training.stft_disc import STFTCritic
from beatgan.training.trainer import load_checkpoint

RATE, BPM, BAR = 14700, 125.0, 28224
SIXTEENTH = BAR // 16


def test_phase_channels_repeat_every_sixteenth_beat_and_bar():
    ph = grid_phase_channels(16 * FRAMES_PER_SIXTEENTH + 1, 63, SIXTEENTH).numpy()
    assert ph.shape == (6, 449)
    on_grid = np.arange(0, 449, FRAMES_PER_SIXTEENTH)
    np.testing.assert_allclose(ph[1, on_grid], 1.0, atol=1e-6)          # cos of the sixteenth phase
    np.testing.assert_allclose(ph[0, on_grid], 0.0, atol=1e-5)
    half = on_grid[:-1] + FRAMES_PER_SIXTEENTH // 2
    np.testing.assert_allclose(ph[1, half], -1.0, atol=1e-6)            # half a sixteenth off
    beats = np.arange(0, 449, 4 * FRAMES_PER_SIXTEENTH)
    np.testing.assert_allclose(ph[3, beats], 1.0, atol=1e-6)
    assert ph[3, 2 * FRAMES_PER_SIXTEENTH] == pytest.approx(-1.0, abs=1e-6)
    assert ph[5, 0] == pytest.approx(1.0) and ph[5, 8 * FRAMES_PER_SIXTEENTH] == pytest.approx(-1.0)


def clicks(n: int, offset: int, rng: np.random.Generator) -> torch.Tensor:
    """n stereo bars of decaying noise bursts on random sixteenths, shifted by `offset` samples."""
    x = np.zeros((n, 2, BAR), np.float32)
    burst = rng.standard_normal(400).astype(np.float32) * np.exp(-np.arange(400) / 80.0)
    for i in range(n):
        for s in np.flatnonzero(rng.random(16) < 0.4):
            start = (s * SIXTEENTH + offset) % (BAR - 400)
            x[i, :, start:start + 400] += burst * 0.5
    return torch.from_numpy(x)


def separation(critic: torch.nn.Module, steps: int = 60) -> float:
    """Train the critic alone (non-saturating loss) to call on-grid bars real and the same
    pattern half a sixteenth late fake; return its accuracy on fresh bars."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(critic.parameters(), 1e-3)
    for _ in range(steps):
        real, fake = clicks(8, 0, rng), clicks(8, SIXTEENTH // 2, rng)
        loss = torch.nn.functional.softplus(-critic(real)).mean() + \
            torch.nn.functional.softplus(critic(fake)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        real, fake = clicks(32, 0, rng), clicks(32, SIXTEENTH // 2, rng)
        return float(((critic(real) > 0).float().mean() + (critic(fake) < 0).float().mean()) / 2)


def test_groove_critic_hears_off_grid_hits_that_a_time_averaged_critic_cannot():
    torch.set_num_threads(1)
    groove = separation(GrooveCritic(BAR, RATE, BPM))
    averaged = separation(STFTCritic(2, 128, width=32))
    assert groove >= 0.95, f"groove critic accuracy {groove:.2f}"
    assert averaged <= 0.75, f"time-averaged critic accuracy {averaged:.2f}"


def test_cpu_groove_run_checkpoints_and_resumes_the_groove_critic(tmp_path):
    ds = make_kit_dataset(tmp_path / "data", slice_samples=BAR)
    run = tmp_path / "run"
    common = [str(ds), "--recipe", "cpu-groove", "--model-size", "2", "--batch-size", "2",
              "--threads", "1", "--checkpoint-steps", "2", "--sample-every", "100",
              "--no-progress", "--run-dir", str(run)]
    assert cli_main(["train", *common, "--steps", "2"]) == 0
    first = load_checkpoint(run / "checkpoints" / "last.pt")
    assert first["train_config"]["groove_critic"] is True and first["R"]
    assert cli_main(["train", *common, "--steps", "3", "--resume"]) == 0
    second = load_checkpoint(run / "checkpoints" / "last.pt")
    assert second["step"] == 3
    changed = [k for k in first["R"] if not torch.equal(first["R"][k], second["R"][k])]
    assert changed, "the resumed step did not train the groove critic"
