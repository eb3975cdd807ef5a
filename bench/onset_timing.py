"""Onset timing of several models next to real held-out bars, in one picture.

    .venv/bin/python bench/onset_timing.py DATASET shipped=weights,cpu-bar=runs/e/checkpoints/best.pt \
        --seed 10000 --out docs/img/onset_timing.png

Each model is measured as `beatgan evaluate` measures it (same seeds, same held-out bars; the
judge is skipped). Prints, per set, the onset grid score and the share of onset flux that
lands early (before -15 ms), on the grid (+-15 ms) and late (after +15 ms).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from beatgan.training.artifacts import onset_timing_png
from beatgan.training.evaluate import EvalOptions, evaluate
from beatgan.training.metrics import GRID_TOLERANCE_S


def split_shares(edges_ms: list[float], share: list[float]) -> tuple[float, float, float]:
    mid = (np.asarray(edges_ms[:-1]) + np.asarray(edges_ms[1:])) / 2
    s, tol = np.asarray(share), 1000 * GRID_TOLERANCE_S
    return float(s[mid < -tol].sum()), float(s[np.abs(mid) <= tol].sum()), float(s[mid > tol].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("models", help="NAME=PATH,... (model folders or training checkpoints)")
    ap.add_argument("--seed", type=int, default=10_000, help="first seed (default 10000)")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("onset_timing.png"))
    args = ap.parse_args()

    timing: dict = {"share": {}}
    grids = {}
    for item in args.models.split(","):
        name, path = item.split("=", 1)
        res = evaluate(Path(path), args.dataset,
                       EvalOptions(n=args.n, first_seed=args.seed, device="cpu", judge=False))
        t = res.figures["onset_timing"]
        timing["edges_ms"] = t["edges_ms"]
        if "real_heldout" in t["share"] and "real, held-out" not in timing["share"]:
            timing["share"]["real, held-out"] = t["share"]["real_heldout"]
            grids["real, held-out"] = res.figures["sets"]["real_heldout"]["grid"]
        timing["share"][name] = t["share"]["generated"]
        grids[name] = res.figures["sets"]["generated"]["grid"]
    print("| set | onset grid | early | on the grid | late |\n|---|---:|---:|---:|---:|")
    for name, share in timing["share"].items():
        early, on, late = split_shares(timing["edges_ms"], share)
        print(f"| {name} | {grids[name]:.3f} | {100 * early:.0f} % | {100 * on:.0f} % | {100 * late:.0f} % |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onset_timing_png(timing, args.out, tolerance_ms=1000 * GRID_TOLERANCE_S)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
