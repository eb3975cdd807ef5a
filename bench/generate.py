"""Generation speed: bars/s and ms/bar at batch 1 and 64, fp32 and half precision, CPU (and CUDA).

    .venv/bin/python bench/generate.py [--model DIR] [--config beatgan-bar] [--model-size 32]

Without --model a randomly initialised network of the given config is timed (speed does not
depend on the weights). Targets: one bar in <= 20 ms on the 2-core CPU machine (WaveGAN), <= 10 ms
on one CPU thread (drum machine: `--config drum-machine --model-size 16`), <= 1 ms on an H100.
The drum machine synthesises through FFTs, which have no half-precision CPU kernels: fp32 only.

For a drum machine it also times a bar with its stems and MIDI on one CPU thread (issue 24,
target <= 10 ms): the parts (hits, pattern), the re-timed render at 128 bpm / 44.1 kHz (loop and
per-voice stems), the pattern and its MIDI file's bytes. Files are not written here
(bench/latency.py --stems times the daemon with them on).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from beatgan.generator import ModelCard, named_config
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.networks import build_generator
from beatgan.generator.wavegan import count_parameters
from beatgan.generator.weights import save_model


def time_call(fn, repeats: int, sync) -> float:
    fn()  # warm-up: allocator, kernels, caches
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_stems_midi(folder, repeats: int) -> None:
    """One bar with its stems and MIDI, one CPU thread, min and median of `repeats` runs."""
    from beatgan.bridge.bar_parts import bar_parts
    from beatgan.bridge.midi_file import pattern_midi
    from beatgan.bridge.pattern import Pattern
    from beatgan.bridge.retime import retime

    torch.set_num_threads(1)
    gen = BeatGenerator.load(folder, device="cpu")
    seeds = iter(range(10**6))

    def timed(fn):
        fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1e3 * min(times), 1e3 * float(np.median(times))

    parts = bar_parts(gen, [0])[0]

    def whole():
        p = bar_parts(gen, [next(seeds)])[0]
        r = retime(p, 128.0, 1, 44100)
        r.stems  # noqa: B018 - every stem made, as the files need them
        pattern_midi(Pattern.from_parts(p), 128.0)

    rows = [("flat bar (generate, for comparison)", timed(lambda: gen.generate([next(seeds)]))),
            ("parts (hits, pattern, pan, floor)", timed(lambda: bar_parts(gen, [next(seeds)]))),
            ("re-timed loop + stems, 128 bpm 44.1 kHz",
             timed(lambda: retime(parts, 128.0, 1, 44100).stems)),
            ("pattern + MIDI file bytes",
             timed(lambda: pattern_midi(Pattern.from_parts(parts), 128.0))),
            ("a bar with its stems and MIDI (target 10)", timed(whole))]
    print(f"\nstems and MIDI, 1 CPU thread, {repeats} runs: {'min':>6} {'median':>7} ms")
    for name, (lo, med) in rows:
        print(f"  {name:44} {lo:6.2f} {med:7.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model folder (default: random init of --config)")
    ap.add_argument("--config", default="beatgan-bar")
    ap.add_argument("--model-size", type=int, default=32)
    ap.add_argument("--threads", default="1,2",
                    help="CPU thread counts to time (2 threads lose badly to a busy machine)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    folder = args.model
    if folder is None:
        folder = tempfile.mkdtemp()
        cfg = named_config(args.config, model_size=args.model_size)
        save_model(build_generator(cfg), ModelCard(config=cfg), folder)
    devices = [f"cpu/{n}" for n in args.threads.split(",")]
    devices += ["cuda"] if torch.cuda.is_available() else []
    print(f"torch {torch.__version__}")
    rows = []
    half_ok = ModelCard.load(folder).config.arch != "drum-machine"
    for name in devices:
        device, _, threads = name.partition("/")
        if threads:
            torch.set_num_threads(int(threads))
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        for dtype in ("fp32", "bf16", "fp16"):
            if device == "cpu" and dtype == "fp16":
                continue  # no fast fp16 kernels on CPU; bf16 is the CPU half type
            if dtype != "fp32" and not half_ok:
                continue
            gen = BeatGenerator.load(folder, device=device, dtype=dtype)
            device_label = name
            for batch in (1, 64):
                seeds = list(range(batch))
                z = np.stack([np.random.default_rng(s).uniform(-1, 1, gen.card.config.latent_dim)
                              for s in seeds])
                t = time_call(lambda: gen.generate_latents(z, batch_size=batch), args.repeats, sync)
                rows.append((device_label, dtype, batch, t))
    card = gen.card
    print(f"model: {card.config.arch} d={card.config.model_size} "
          f"({count_parameters(gen.net) / 1e6:.2f} M params), bar = {card.bar_samples} samples")
    base = {(d, b): t for d, dt, b, t in rows if dt == "fp32"}
    print(f"{'device':8} {'dtype':5} {'batch':>5} {'ms/bar':>9} {'bars/s':>9} {'vs fp32':>8}")
    for device, dtype, batch, t in rows:
        per = t / batch
        print(f"{device:8} {dtype:5} {batch:5d} {per * 1e3:9.2f} {1 / per:9.1f} "
              f"{base[(device, batch)] / t:7.2f}x")
    if not half_ok:
        time_stems_midi(folder, max(args.repeats, 30))


if __name__ == "__main__":
    main()
