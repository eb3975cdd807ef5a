"""Speed of the data pipeline: render-kit loops per second and prepare files per second, one core.

Run: .venv/bin/python bench/bench_data.py [--loops 120]
Prints figures; asserts nothing (speed is machine-dependent).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=120)
    args = ap.parse_args()

    from beatgan.training import kit
    from beatgan.training.prepare import PrepareConfig, prepare
    from beatgan.training.render_kit import RenderConfig, render_folder

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kits = kit.find_kits(None)
        t1 = time.perf_counter()
        render_folder(f"{tmp}/loops", kits, RenderConfig(loops=args.loops, seed=1))
        t2 = time.perf_counter()
        for slice_samples in (28224, 32768):
            for decimate in (False, True):
                t3 = time.perf_counter()
                r = prepare(f"{tmp}/loops", f"{tmp}/ds.npz", PrepareConfig(slice_samples=slice_samples,
                                                                          decimate=decimate))
                dt = time.perf_counter() - t3
                print(f"prepare --slice {slice_samples}{' --decimate' if decimate else ''}: "
                      f"{len(r.used)} loops in {dt:.2f} s ({len(r.used) / dt:.0f} loops/s)")
    render_s = t2 - t1
    print(f"render-kit: parse {len(kits)} kits {t1 - t0:.2f} s; {args.loops} loops (load kits + mix + write) "
          f"in {render_s:.2f} s ({args.loops / render_s:.0f} loops/s; 600 loops ~ {600 * render_s / args.loops:.0f} s)")


if __name__ == "__main__":
    main()
