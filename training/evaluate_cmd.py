"""`beatgan evaluate MODEL DATASET`: the fixed judge's verdict, the figures behind it, and a
markdown report (generated / real held-out / white noise / untrained network / --compare folders)."""
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
    p.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                   help="also judge a folder of WAVs (your loops, another model's), as row NAME: "
                        "the first bar of each file at its tempo (file name ..._124bpm.wav, acid "
                        "chunk, or --compare-bpm), fitted to the model bar; repeatable")
    p.add_argument("--compare-bpm", type=float, default=None,
                   help="tempo of --compare files whose name and acid chunk state none")
    p.add_argument("--no-judge", action="store_true",
                   help="skip the judge (no Fréchet distance, precision/recall or meets_targets)")
    p.add_argument("--judge", type=Path, default=None, metavar="DIR",
                   help="another judge folder (default: the committed training/judge)")
    # The per-dataset classifier these configured is gone (the judge is never trained by evaluate);
    # accepted so older scripts keep running.
    p.add_argument("--no-classifier", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--retrain-classifier", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--classifier-seconds", type=float, default=None, help=argparse.SUPPRESS)


def parse_compare(items: list[str]) -> dict[str, Path]:
    from beatgan.bridge.cli import UserError
    out: dict[str, Path] = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise UserError(f"--compare: expected NAME=DIR, got {item!r}")
        if name in out:
            raise UserError(f"--compare: the name {name!r} is given twice")
        if not Path(folder).is_dir():
            raise UserError(f"--compare {name}: {folder} is not a folder")
        out[name.strip()] = Path(folder)
    return out


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError

    from .evaluate import EvalOptions, all_sets, evaluate, set_title, write_report

    if args.n < 2:
        raise UserError(f"--n must be at least 2, got {args.n}")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    opts = EvalOptions(n=args.n, first_seed=args.seed, device=args.device,
                       judge=not args.no_judge, judge_dir=args.judge,
                       compare=parse_compare(args.compare), compare_bpm=args.compare_bpm,
                       truncation=args.truncation)
    result = evaluate(args.model, args.dataset, opts)
    report = write_report(result, args.out)
    fig = result.figures
    rows = all_sets(fig)
    print(f"{'set':<24} {'FD':>8} {'prec':>5} {'recall':>6} {'artefact':>14} {'self-NN':>7} "
          f"{'similar':>7} {'grid':>6} {'dyn dB':>6}  meets targets")
    for name, s in rows.items():
        art = (f"{s['artefact_db']:.1f}dB@{s['artefact_hz']:.0f}"
               if s.get("artefact_db") is not None else "n/a")
        verdict = ("n/a" if "targets" not in s else "yes" if s["targets"]["meets_targets"]
                   else "no: " + ",".join(s["targets"]["failed"]))
        print(f"{set_title(name):<24} {_num(s.get('frechet'), '.0f'):>8} "
              f"{_num(s.get('precision'), '.2f'):>5} {_num(s.get('recall'), '.2f'):>6} {art:>14} "
              f"{_num(s.get('self_nearest_median'), '.3f'):>7} "
              f"{100 * s['similar_fraction']:>6.0f}% {s['grid']:>6.3f} {s['dynamics_db']:>6.1f}  {verdict}")
    if fig.get("meets_targets") is not None:
        print(f"meets_targets: {str(fig['meets_targets']).lower()} (the generated row, against the "
              "judge card's targets)")
    for key in ("warning", "warning_judge"):
        if fig.get(key):
            print(f"warning: {fig[key]}")
    print(f"took {fig['seconds']['total']:.1f} s; report: {report}")
    return 0


def _num(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)
