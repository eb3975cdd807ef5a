"""Recipe comparison at equal wall-clock: train each recipe for M minutes on the same dataset, one
run at a time, and tabulate the evaluation figures of its best checkpoint; plots the curves.

    .venv/bin/python bench/recipes.py DATASET --minutes 10 --recipes paper-small,cpu-r1,cpu-bar \
        --out runs/compare [--threads 1]
    .venv/bin/python bench/recipes.py DATASET --runs cpu-bar=runs/main,cpu-r1=runs/r1 --out docs/img

Runs already finished in --out are reused (re-run a recipe by deleting its folder). Prints a
markdown table; writes table.md and curves.png into --out.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def run_recipe(dataset: Path, recipe: str, out: Path, minutes: float, threads: int,
               overrides: list[str]) -> list[dict]:
    done = out / "evaluation.json"
    if not (out / "DONE").exists():
        cmd = [sys.executable, "-m", "beatgan.bridge.cli", "train", str(dataset), "--recipe", recipe,
               "--run-dir", str(out), "--minutes", str(minutes), "--checkpoint-minutes",
               str(max(1.0, minutes / 5)), "--threads", str(threads), "--no-progress",
               "--sample-every", "100000", *overrides]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        (out / "DONE").write_text("")
    return json.loads(done.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--recipes", default="paper-small,cpu-r1,cpu-bar")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/compare"))
    ap.add_argument("--runs", default=None, metavar="NAME=DIR,...",
                    help="tabulate finished run folders instead of training (e.g. longer runs)")
    ap.add_argument("--by", choices=("minutes", "steps"), default="minutes",
                    help="x axis of the curves: steps for runs that shared the cores unevenly")
    args = ap.parse_args()
    results = {}
    if args.runs:
        for item in args.runs.split(","):
            name, _, folder = item.partition("=")
            results[name] = json.loads((Path(folder) / "evaluation.json").read_text())
    else:
        for name in args.recipes.split(","):
            recipe, *over = name.split(":")  # e.g. cpu-bar:--model-size:32
            results[name] = run_recipe(args.dataset, recipe, args.out / name.replace(":", "_"),
                                       args.minutes, args.threads, over)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| recipe | minutes | steps | at ~10 min: grid / dynamics | best: step | best: onset grid "
             "| best: dynamics (dB) | best: rms (dB) | best: score |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, hist in results.items():
        best = max(hist, key=lambda h: h["score"])
        last = hist[-1]
        ten = min(hist, key=lambda h: abs(h["wall_minutes"] - 10))
        lines.append(f"| {name} | {last['wall_minutes']:.1f} | {last['step']} | "
                     f"{ten['grid']:.3f} / {ten['dynamics_db']:.1f} | {best['step']} | "
                     f"{best['grid']:.3f} | {best['dynamics_db']:.1f} | {best['rms_db']:.1f} | "
                     f"{best['score']:.3f} |")
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    plot(results, args.out / "curves.png", args.by)


def plot(results: dict, path: Path, by: str = "minutes") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, hist in results.items():
        x = [h["wall_minutes" if by == "minutes" else "step"] for h in hist]
        a.plot(x, [h["grid"] for h in hist], "o-", label=name)
        b.plot(x, [h["dynamics_db"] for h in hist], "o-", label=name)
    a.axhline(0.45, ls="--", c="k", lw=0.8)
    b.axhline(32, ls="--", c="k", lw=0.8)
    xlabel = "training minutes" if by == "minutes" else "generator steps"
    # The EMA generator where the recipe has one; the title says so, a long y label would be cut.
    a.set(xlabel=xlabel, ylabel="onset grid score (64 bars)", title="onset grid (EMA if any)")
    b.set(xlabel=xlabel, ylabel="dynamics (dB)", title="frame-energy dynamics")
    for ax in (a, b):
        ax.locator_params(axis="x", nbins=6)  # step counts in the tens of thousands overlap otherwise
    a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
