"""Training speed per recipe: generator iterations per second (one iteration = the recipe's critic
steps + one generator step), against an eager fp32 baseline of the paper recipe measured in the
same run, at d=32 and d=64 on each recipe's own slice (paper WaveGAN: 32768 samples; bar-aligned:
28224).

    .venv/bin/python bench/train.py                       # CPU: batch 2, 1 warm-up + 3 iterations
    .venv/bin/python bench/train.py --sizes 64 --recipes paper,paper-fast --iters 20   # on a GPU

On CUDA the recipes run at their own batch sizes; on the CPU every recipe runs at --batch-size
(default 2) so a default run stays short, and the GPU recipes (bf16 autocast, torch.compile) are
listed but skipped unless you pass --all (a CPU without bf16 units only emulates bf16). Warm-up
iterations (torch.compile's compilation, cuDNN autotuning, allocator growth) are not timed. A
recipe whose settings equal the baseline's after the overrides (e.g. `paper`) reuses its figures.
Data is uniform noise: the cost of a step does not depend on what the audio sounds like.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch

from beatgan.training.recipes import RECIPES, TrainConfig
from beatgan.training.trainer import RunOptions, Trainer

BASELINE = "paper (eager fp32)"
META = {"channels": 2, "sample_rate": 14700, "tempo_bpm": 125.0}


def measure(cfg: TrainConfig, device: str, warmup: int, iters: int) -> dict:
    """Seconds per iteration of `cfg` after `warmup` untimed iterations."""
    from beatgan.training.trainer import model_config_for
    slice_samples = model_config_for(cfg, META).slice_samples
    rng = np.random.default_rng(0)
    data = rng.uniform(-0.5, 0.5, (max(2 * cfg.batch_size, 16), 2, slice_samples)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, data, META, RunOptions(run_dir=tmp, device=device, progress=False))
        t0 = time.perf_counter()
        for _ in range(warmup):
            trainer.train_step()
        _sync(device)
        t1 = time.perf_counter()
        for _ in range(iters):
            trainer.train_step()
        _sync(device)
        t2 = time.perf_counter()
    return {"warmup_s": t1 - t0, "s_per_it": (t2 - t1) / iters, "slice": slice_samples}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _row(name: str, d: int, cfg: TrainConfig, res: dict | None, base: dict | None,
         why: str = "") -> str:
    flags = (f"{cfg.batch_size} | {cfg.n_critic} | {cfg.loss} | "
             f"{'yes' if cfg.autocast_bf16 else 'no'} | {'yes' if cfg.compile else 'no'}")
    if res is None:
        return f"| {name} | {d} | | {flags} | {why} | | | |"
    rel = base["s_per_it"] / res["s_per_it"] if base else float("nan")
    return (f"| {name} | {d} | {res['slice']} | {flags} | {1.0 / res['s_per_it']:.3g} | "
            f"{1000 * res['s_per_it']:.0f} | {rel:.2f} | {res['warmup_s']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default=",".join(RECIPES),
                    help="comma-separated recipe names (default: all)")
    ap.add_argument("--sizes", default="32,64", help="model sizes d (default 32,64)")
    ap.add_argument("--iters", type=int, default=3, help="timed iterations per row (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default 1)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="batch for every recipe (default: 2 on the CPU, the recipe's own on CUDA)")
    ap.add_argument("--all", action="store_true",
                    help="on the CPU, also run the GPU recipes (bf16 autocast, torch.compile)")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    batch = args.batch_size if args.batch_size else (2 if device == "cpu" else None)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        ap.error(f"unknown recipes {unknown}; choose from {sorted(RECIPES)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    where = torch.cuda.get_device_name(device) if device.startswith("cuda") else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"# training iterations/s: {where}, torch {torch.__version__}, "
          f"{args.warmup} warm-up + {args.iters} timed iterations, batch "
          f"{batch if batch else 'per recipe'}", flush=True)
    header = ("| recipe | d | slice | batch | critic steps | loss | bf16 | compile | it/s | ms/it "
              "| x baseline | warm-up s |")
    rows = [header, "|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|"]
    paper_eager = replace(RECIPES["paper"], autocast_bf16=False, compile=False)
    fixed = {"batch_size": batch} if batch else {}
    for d in sizes:
        base = None
        for name, cfg in [(BASELINE, paper_eager)] + [(n, RECIPES[n]) for n in names]:
            cfg = replace(cfg, model_size=d, **fixed)
            if name != BASELINE and base and cfg == replace(paper_eager, model_size=d, **fixed):
                row = _row(name + " (= baseline)", d, cfg, base, base)
            elif device == "cpu" and not args.all and (cfg.autocast_bf16 or cfg.compile):
                row = _row(name, d, cfg, None, None, "skipped: GPU recipe (--all runs it here)")
            else:
                try:
                    res = measure(cfg, device, args.warmup, args.iters)
                except Exception as e:  # one failing recipe (say, compile without a compiler) must not end the table
                    row = _row(name, d, cfg, None, None, f"failed: {(str(e).strip() or type(e).__name__).splitlines()[0][:80]}")
                else:
                    base = res if name == BASELINE else base
                    row = _row(name, d, cfg, res, base)
            rows.append(row)
            print(row, flush=True)
    print("\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
