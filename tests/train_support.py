"""Shared by the training tests: a tiny rendered dataset and the tiny-training flags."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from beatgan.bridge.cli import main as cli_main

# The paper recipe (WGAN-GP, 5 critic steps) at d=2: seconds per run on one CPU thread.
TINY = ["--recipe", "paper", "--model-size", "2", "--batch-size", "4", "--threads", "1"]
CLI = [sys.executable, "-m", "beatgan.bridge.cli"]


def make_kit_dataset(folder: Path, loops: int = 8, slice_samples: int = 32768) -> Path:
    """render-kit (Debian's Hydrogen kits) -> prepare, both through the real CLI."""
    loops_dir, ds = folder / "loops", folder / "kit.npz"
    assert cli_main(["render-kit", "--out", str(loops_dir), "--loops", str(loops), "--bars", "1"]) == 0
    assert cli_main(["prepare", str(loops_dir), "--out", str(ds), "--copies", "2",
                     "--slice", str(slice_samples)]) == 0
    return ds


def subprocess_env() -> dict:
    # One thread per process: results must not depend on how a reduction was split.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
