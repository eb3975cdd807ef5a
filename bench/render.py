"""Render bench: ms per bar for each fit mode at 44.1 and 48 kHz, and ms per file written.

    .venv/bin/python bench/render.py [--repeats 50] [--folder /tmp/beatgan-bench]

Uses the GMRockKit drum bar (synthetic if the kit is missing) at the model's 14.7 kHz / 125 bpm,
rendered at 128 bpm. Prints the median and 90th percentile of `repeats` runs after a warm-up;
the target is beats + write of one bar <= 10 ms on a 2-core CPU machine.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drumbar import drum_bar  # noqa: E402

from beatgan.bridge.loopfolder import LoopFolder  # noqa: E402
from beatgan.bridge.onsets import detect_onsets  # noqa: E402
from beatgan.bridge.render import output_samples, render  # noqa: E402
from beatgan.bridge.wavfile import write_loop_wav  # noqa: E402
from beatgan.generator import ModelCard, named_config  # noqa: E402

TEMPO = 128.0


def timed(fn, repeats: int) -> tuple[float, float, float]:
    """(min, median, p90) wall time of fn() in ms, after two warm-up calls."""
    fn()
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.min(ts)), float(np.median(ts)), float(np.percentile(ts, 90))


def fmt(t: tuple[float, float, float]) -> str:
    return f"{t[0]:8.2f} {t[1]:8.2f} {t[2]:8.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=50, help="timed runs per figure (default 50)")
    p.add_argument("--folder", type=Path, default=None,
                   help="where to write the files (default: a temporary folder, removed after)")
    args = p.parse_args(argv)
    card = ModelCard(config=named_config("wavegan"))
    bar, source = drum_bar(card.sample_rate, card.tempo_bpm, card.beats_per_bar)
    print(f"bar: {source}, {bar.shape[1]} samples at {card.sample_rate} Hz, "
          f"{card.tempo_bpm:g} bpm -> {TEMPO:g} bpm; {os.cpu_count()} CPUs; "
          f"min / median / p90 of {args.repeats} runs, in ms")
    r = args.repeats

    print(f"{'onset detection':<34}" + fmt(timed(lambda: detect_onsets(bar, card.sample_rate), r)))
    print(f"{'render, 1 bar, 44.1 kHz':<34}")
    for rate in (44100, 48000):
        if rate != 44100:
            print(f"render, 1 bar, {rate / 1000:g} kHz")
        for mode in ("repitch", "beats", "stretch"):
            rm = max(5, r // 10) if mode == "stretch" else r
            print(f"  {mode:<32}" + fmt(timed(lambda: render(bar, card, TEMPO, rate=rate,
                                                              mode=mode), rm)))
    print("render, several bars, 44.1 kHz")
    for bars in (4, 8):
        print(f"  {f'beats, {bars} bars':<32}"
              + fmt(timed(lambda: render(bar, card, TEMPO, bars=bars, mode="beats"), r)))

    y = render(bar, card, TEMPO, mode="beats")
    y4 = render(bar, card, TEMPO, bars=4, mode="beats")
    beats = card.beats_per_bar
    print("write, 1 bar at 44.1 kHz stereo")
    for subtype in ("PCM_24", "FLOAT"):
        print(f"  {f'encode to memory, {subtype}':<32}"
              + fmt(timed(lambda: write_loop_wav(io.BytesIO(), y, 44100, TEMPO, beats, subtype),
                          r)))

    own = args.folder is None
    base = Path(tempfile.mkdtemp(prefix="beatgan-bench-")) if own else args.folder
    try:
        for fsync in (True, False):
            lf = LoopFolder(base / f"fsync-{fsync}", fsync=fsync)
            print(f"  {f'LoopFolder.write, fsync={fsync}':<32}"
                  + fmt(timed(lambda: lf.write(y, 44100, TEMPO, 1, 42), r)))
        lf4 = LoopFolder(base / "4bars")
        print(f"  {'LoopFolder.write, 4 bars':<32}"
              + fmt(timed(lambda: lf4.write(y4, 44100, TEMPO, 4, 42), r)))

        for fsync in (True, False):
            lf = LoopFolder(base / f"both-{fsync}", fsync=fsync)

            def both():
                lf.write(render(bar, card, TEMPO, mode="beats"), 44100, TEMPO, 1, 42)

            t = timed(both, r)
            verdict = "ok" if t[1] <= 10.0 else "over the 10 ms target"
            print(f"{f'beats + write, 1 bar, fsync={fsync}':<34}{fmt(t)}  {verdict} (median)")
        assert y.shape[1] == output_samples(card, TEMPO, 1, 44100)
    finally:
        if own:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
