"""`torchrun --nproc_per_node 2 ... beatgan train`: two gloo processes on the CPU stay in sync."""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest
import torch
from train_support import CLI, TINY, make_kit_dataset, subprocess_env

from beatgan.bridge.cli import main as cli_main
from beatgan.generator import GeneratorConfig
from beatgan.generator.wavegan import Generator
from beatgan.training.train_cmd import state_fingerprint
from beatgan.training.trainer import load_checkpoint

STEPS = 3
RANK_LINE = r"rank (\d)/2: step (\d+), generator sha256 ([0-9a-f]{64})"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("ddp_data"))


def torchrun(dataset, run_dir, steps, *extra) -> list[str]:
    return [CLI[0], "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            *CLI[1:], "train", str(dataset), *TINY, "--steps", str(steps), "--sample-every", "1000",
            "--no-progress", "--run-dir", str(run_dir), *extra]


def test_two_gloo_ranks_step_and_end_with_identical_generators(tmp_path, dataset):
    run_dir = tmp_path / "ddp"
    cmd = torchrun(dataset, run_dir, STEPS, "--checkpoint-steps", str(STEPS))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=subprocess_env(),
                          cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    ranks = dict(re.findall(rf"rank (\d)/2: step {STEPS}, generator sha256 ([0-9a-f]{{64}})", out))
    assert set(ranks) == {"0", "1"}, out[-4000:]
    assert ranks["0"] == ranks["1"], "the ranks' generators diverged"

    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert ckpt["step"] == STEPS
    assert state_fingerprint(ckpt["G"]) == ranks["0"]
    # The ranks moved away from the shared initialisation (the trainer seeds torch with 0 first).
    torch.manual_seed(0)
    init = Generator(GeneratorConfig.from_dict(ckpt["model_config"]))
    assert state_fingerprint(init.state_dict()) != ranks["0"]

    # Rank 1's gradients count: one process with the same seed (rank 0's batches only) ends elsewhere.
    single = tmp_path / "single"
    assert cli_main(["train", str(dataset), *TINY, "--steps", str(STEPS), "--sample-every", "1000",
                     "--no-progress", "--run-dir", str(single)]) == 0
    alone = load_checkpoint(single / "checkpoints" / "last.pt")
    assert state_fingerprint(alone["G"]) != ranks["0"]


def test_sigterm_stops_both_ranks_at_the_same_step_and_the_run_resumes(tmp_path, dataset):
    run_dir, n = tmp_path / "ddp", 60
    proc = subprocess.Popen(torchrun(dataset, run_dir, n, "--checkpoint-steps", "2"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=subprocess_env())
    last = run_dir / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # to torchrun, which passes it on to both workers
    out, _ = proc.communicate(timeout=120)
    # torchrun itself exits non-zero after a SIGTERM; what matters is how the workers ended.
    ranks = re.findall(RANK_LINE, out)
    assert sorted(r[0] for r in ranks) == ["0", "1"], out[-4000:]
    assert len({r[1] for r in ranks}) == 1, f"the ranks stopped at different steps: {ranks}"
    assert len({r[2] for r in ranks}) == 1, "the ranks' generators diverged"
    stopped = int(ranks[0][1])
    assert 2 <= stopped < n, f"SIGTERM came too late to test anything (stopped at {stopped})"
    assert "signal 15: checkpointing and exiting" in out
    ckpt = load_checkpoint(last)
    assert ckpt["step"] == stopped and state_fingerprint(ckpt["G"]) == ranks[0][2]

    resumed = subprocess.run(torchrun(dataset, run_dir, stopped + 2, "--resume"), cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, env=subprocess_env())
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-4000:]
    ranks = re.findall(RANK_LINE, out)
    assert sorted(r[0] for r in ranks) == ["0", "1"] and {r[1] for r in ranks} == {str(stopped + 2)}
    assert len({r[2] for r in ranks}) == 1
    assert load_checkpoint(last)["step"] == stopped + 2
