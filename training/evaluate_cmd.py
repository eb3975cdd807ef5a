"""`beatgan evaluate MODEL DATASET`: figures that tell drum loops from noise, and a markdown report."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path,
                   help="model folder (weights + model_card.json) or a training checkpoint (.pt)")
    p.add_argument("dataset", type=Path, help="the dataset file (.npz) the model was trained on")
    p.add_argument("--n", type=int, default=64, help="generated bars to measure (default 64)")
    p.add_argument("--seed", type=int, default=0,
                   help="first latent seed; bar i uses seed+i (default 0)")
    p.add_argument("--out", type=Path, default=Path("evaluation"),
                   help="folder for report.md, evaluation.json, PNGs and WAVs (default: evaluation)")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="latent truncation psi, 0.05-2 (1 = none; default: the model card's)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (default auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-classifier", action="store_true",
                   help="skip the classifier (no Fréchet distance / Inception score)")
    p.add_argument("--retrain-classifier", action="store_true",
                   help="train the classifier again even if a cached one exists")
    p.add_argument("--classifier-seconds", type=float, default=40.0,
                   help="training budget of the classifier when none is cached, seconds (default 40)")


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError

    from .evaluate import SET_TITLES, SETS, EvalOptions, evaluate, write_report

    if args.n < 2:
        raise UserError(f"--n must be at least 2, got {args.n}")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    opts = EvalOptions(n=args.n, first_seed=args.seed, device=args.device,
                       classifier=not args.no_classifier,
                       retrain_classifier=args.retrain_classifier,
                       classifier_seconds=args.classifier_seconds, truncation=args.truncation)
    result = evaluate(args.model, args.dataset, opts)
    report = write_report(result, args.out)
    sets = result.figures["sets"]
    print(f"{'set':<20} {'similar':>8} {'grid':>6} {'dyn dB':>7} {'FD':>8}")
    for name in SETS:
        if name in sets:
            s = sets[name]
            fd = s.get("frechet")
            print(f"{SET_TITLES[name]:<20} {100 * s['similar_fraction']:>7.0f}% {s['grid']:>6.3f} "
                  f"{s['dynamics_db']:>7.1f} {'n/a' if fd is None else f'{fd:.2f}':>8}")
    if result.figures.get("warning"):
        print(f"warning: {result.figures['warning']}")
    print(f"report: {report}")
    return 0
