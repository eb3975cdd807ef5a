"""Latent truncation sweep: what psi does to a model's bars, measured by `beatgan evaluate`.

    .venv/bin/python bench/truncation.py MODEL DATASET --psi 1,0.9,0.8,0.7,0.6,0.5 \
        --seed 0 --out runs/truncation [--threads 2]

For each psi, 64 bars (seeds --seed ..) are evaluated against the dataset: onset grid, dynamics,
Fréchet distance, within-set nearest score (variety) and the novelty fraction. Prints a markdown
table with each figure's ratio to psi 1 (the raw network, measured in the same run), marks the
psi with the lowest Fréchet distance (the balance of fidelity and variety a release should pick
by: the onset grid alone always prefers the smallest psi), and writes table.md, sweep.json and
sweep.png into --out. Pick psi on the selection seeds (0-63), then let `beatgan ship
--truncation PSI` measure the release on seeds it never saw (10000-10063).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

FIGURES = (("grid", "onset grid", ".3f"), ("dynamics_db", "dynamics dB", ".1f"),
           ("frechet", "Fréchet distance", ".0f"), ("self_nearest_median", "within-set nearest", ".3f"),
           ("similar_fraction", "similar", ".0%"), ("precision", "precision", ".2f"),
           ("recall", "recall", ".2f"))


def sweep(model: Path, dataset: Path, psis: list[float], first_seed: int, n: int) -> dict[float, dict]:
    from tqdm import tqdm

    from beatgan.training.evaluate import EvalOptions, evaluate
    out = {}
    for psi in tqdm(psis, unit="psi", desc="truncation sweep"):
        result = evaluate(model, dataset, EvalOptions(n=n, first_seed=first_seed, truncation=psi))
        out[psi] = {"generated": result.figures["sets"]["generated"],
                    "real_heldout": result.figures["sets"].get("real_heldout")}
    return out


def best_psi(results: dict[float, dict]) -> float:
    scored = {p: r["generated"].get("frechet") for p, r in results.items()}
    scored = {p: f for p, f in scored.items() if f is not None}
    if not scored:
        raise SystemExit("no Fréchet distances (judge skipped): cannot pick a psi")
    return min(scored, key=scored.get)


def table(results: dict[float, dict], pick: float) -> str:
    base = results.get(1.0, {}).get("generated")
    head = "| psi | " + " | ".join(title for _, title, _ in FIGURES) + " |"
    lines = [head, "|---:|" + "---:|" * len(FIGURES)]
    for psi in sorted(results, reverse=True):
        g = results[psi]["generated"]
        cells = []
        for key, _, spec in FIGURES:
            v = g.get(key)
            cell = "n/a" if v is None else format(v, spec)
            if base and key != "similar_fraction" and v is not None and base.get(key):
                cell += f" ({v / base[key]:.2f}x)"
            cells.append(cell)
        mark = " **lowest FD**" if psi == pick else ""
        lines.append(f"| {psi:g}{mark} | " + " | ".join(cells) + " |")
    real = next((r["real_heldout"] for r in results.values() if r.get("real_heldout")), None)
    if real:
        lines.append("| real, held-out | " + " | ".join(
            "n/a" if real.get(k) is None else format(real[k], s) for k, _, s in FIGURES) + " |")
    return "\n".join(lines)


def plot(results: dict[float, dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    psis = sorted(results)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (key, name, _) in zip(axes, FIGURES[:4]):
        ys = [results[p]["generated"].get(key) for p in psis]
        ax.plot(psis, ys, "o-")
        real = next((r["real_heldout"] for r in results.values() if r.get("real_heldout")), None)
        if real and real.get(key) is not None:
            ax.axhline(real[key], color="grey", ls="--", lw=1, label="real, held-out")
            ax.legend(fontsize=7)
        ax.set_xlabel("truncation psi")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="model folder or training checkpoint")
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--psi", default="1,0.9,0.8,0.7,0.6,0.5")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default 0: the selection seeds)")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/truncation"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    psis = sorted({float(p) for p in args.psi.split(",")} | {1.0}, reverse=True)
    results = sweep(args.model, args.dataset, psis, args.seed, args.n)
    pick = best_psi(results)
    text = table(results, pick)
    print(text)
    print(f"lowest Fréchet distance at psi {pick:g}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + "\n")
    (args.out / "sweep.json").write_text(json.dumps(
        {"model": str(args.model), "seeds": [args.seed, args.seed + args.n - 1], "pick": pick,
         "results": {str(p): r for p, r in results.items()}}, indent=2))
    plot(results, args.out / "sweep.png",
         f"{args.model}: latent truncation, {args.n} bars from seed {args.seed}")
    print(f"wrote {args.out}/table.md, sweep.json, sweep.png")


if __name__ == "__main__":
    main()
