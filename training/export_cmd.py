"""`beatgan export CHECKPOINT OUT_DIR`: a training checkpoint -> shipped weights + model card."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="a checkpoint (.pt) from `beatgan train`")
    p.add_argument("out", type=Path, help="folder for the weights + model card")
    p.add_argument("--name", default="beatgan", help="model name in the card")
    p.add_argument("--raw", action="store_true", help="export the raw generator, not its EMA")


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError

    from .trainer import export_checkpoint, load_checkpoint
    if not args.checkpoint.is_file():
        raise UserError(f"{args.checkpoint}: no such checkpoint file "
                        "(`beatgan train` writes them to RUN_DIR/checkpoints/)")
    ckpt = load_checkpoint(args.checkpoint)
    out = export_checkpoint(ckpt, args.out, name=args.name, which="raw" if args.raw else "ema")
    print(f"exported step {ckpt['step']} to {out}")
    return 0
