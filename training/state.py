"""A training run's state, small enough to commit, so the next session continues the run.

A checkpoint (`trainer.state_dict()`) holds the networks, the optimisers' moments, the RNGs, the
step and the history. The optimiser moments are twice the size of the networks; stored in
bfloat16 they lose precision no run can notice (they are running averages of noisy gradients),
and the whole state of the drum machine fits in about 12 MB, under the repository's 15 MiB a
file. Everything else is kept exactly.

    beatgan train DATA --recipe dm-vae --minutes 60 --save-state training/state/dm-vae
    beatgan train DATA --recipe dm-vae --minutes 60 --resume training/state/dm-vae --save-state training/state/dm-vae
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

STATE_FILE = "state.pt"
SUMMARY_FILE = "state.json"
_MOMENTS = ("exp_avg", "exp_avg_sq")


def _map_moments(ckpt: dict, dtype: torch.dtype) -> dict:
    out = dict(ckpt)
    for key in ("opt_g", "opt_d"):
        opt = ckpt.get(key)
        if not opt:
            continue
        out[key] = {**opt, "state": {i: {k: (v.to(dtype) if k in _MOMENTS else v) for k, v in s.items()}
                                     for i, s in opt["state"].items()}}
    return out


def save_training_state(ckpt: dict, folder: str | Path) -> Path:
    """Write the compact state and a JSON summary (step, minutes, sessions) into `folder`."""
    from beatgan.generator.weights import sha256_file

    from .trainer import atomic_save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_FILE
    atomic_save(_map_moments(ckpt, torch.bfloat16), path)
    summary = {"step": ckpt["step"], "wall_minutes": round(ckpt["wall_seconds"] / 60, 1),
               "sessions": ckpt.get("sessions", []), "recipe": ckpt["train_config"],
               "dataset": ckpt.get("data_meta", {}).get("dataset"),
               "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    tmp = folder / (SUMMARY_FILE + ".part")
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, folder / SUMMARY_FILE)
    return path


def is_state_folder(path: str | Path) -> bool:
    return (Path(path) / STATE_FILE).is_file()


def load_training_state(folder: str | Path) -> dict:
    """The checkpoint dict a trainer resumes from, moments back in float32."""
    from .trainer import load_checkpoint
    return _map_moments(load_checkpoint(Path(folder) / STATE_FILE), torch.float32)
