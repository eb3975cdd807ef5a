"""A small drum-machine model trained for real (render-kit -> prepare -> train dm-vae, 20 steps,
through the CLI), made once per test session and shared by the stems/MIDI tests."""
from __future__ import annotations

from pathlib import Path

from beatgan.bridge.cli import main as cli_main

from train_support import make_kit_dataset

_MADE: dict[str, Path] = {}


def trained_drum_machine(tmp_path_factory) -> Path:
    """The model folder (exported by `beatgan train --export`); trained on first use (~30 s)."""
    if "model" not in _MADE:
        root = tmp_path_factory.mktemp("trained_dm")
        ds = make_kit_dataset(root, loops=4, slice_samples=28224)
        assert cli_main(["train", str(ds), "--recipe", "dm-vae", "--model-size", "1",
                         "--batch-size", "4", "--steps", "20", "--threads", "1", "--no-progress",
                         "--run-dir", str(root / "run"), "--export", str(root / "model")]) == 0
        _MADE["model"] = root / "model"
    return _MADE["model"]
