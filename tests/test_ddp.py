"""`torchrun --nproc_per_node 2 ... beatgan train`: two gloo processes on the CPU stay in sync."""
from __future__ import annotations

import re
import subprocess

import pytest
import torch
from train_support import CLI, TINY, make_kit_dataset, subprocess_env

from beatgan.bridge.cli import main as cli_main
from beatgan.generator import GeneratorConfig
from beatgan.generator.wavegan import Generator
from beatgan.training.train_cmd import state_fingerprint
from beatgan.training.trainer import load_checkpoint

STEPS = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("ddp_data"))


def test_two_gloo_ranks_step_and_end_with_identical_generators(tmp_path, dataset):
    run_dir = tmp_path / "ddp"
    cmd = [CLI[0], "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *CLI[1:], "train", str(dataset), *TINY, "--steps", str(STEPS), "--checkpoint-steps",
           str(STEPS), "--sample-every", "1000", "--no-progress", "--run-dir", str(run_dir)]
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
