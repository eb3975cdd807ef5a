"""`beatgan prepare LOOPS_DIR`: turn a folder of drum loops into a BeatGAN dataset file + report."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("loops_dir", type=Path, metavar="LOOPS_DIR",
                   help="folder of loops (WAV/AIFF/FLAC, searched recursively), tempo in the names or acid chunks")
    p.add_argument("--out", type=Path, required=True, help="dataset file to write (.npz)")
    p.add_argument("--report", type=Path, default=None,
                   help="report file (JSON; default: next to --out as NAME.report.json)")
    p.add_argument("--slice", type=int, default=32768, dest="slice_samples",
                   help="samples per example: 32768 = paper model (default), 28224 = bar-aligned model")
    p.add_argument("--tempo", type=float, default=125.0, help="model tempo in bpm (default 125)")
    p.add_argument("--tolerance", type=float, default=1.0,
                   help="accept loops within +-this many bpm of --tempo (default 1.0: 124..126)")
    p.add_argument("--default-tempo", type=float, default=None,
                   help="tempo for loops whose name and acid chunk state none (default: skip them)")
    p.add_argument("--beats", type=int, default=4, help="beats per bar (default 4)")
    p.add_argument("--sample-rate", type=int, default=14700, help="model sample rate in Hz (default 14700)")
    p.add_argument("--channels", type=int, choices=(1, 2), default=2, help="channels (default 2)")
    p.add_argument("--decimate", action="store_true",
                   help="the seed's exact method: every third sample of 44.1 kHz audio, no anti-alias "
                        "filter, no tempo fitting (default: soxr resampling fitted to the model tempo)")
    p.add_argument("--copies", type=int, default=5, help="noisy copies per bar, no clean copy (default 5)")
    p.add_argument("--noise", type=int, default=10000,
                   help="noise peak in 24-bit LSBs: uniform integers in [-N, N) (default 10000 = "
                        "0.0012 of full scale, -63.2 dBFS RMS; 0 = clean copies)")
    p.add_argument("--seed", type=int, default=0, help="augmentation RNG seed (default 0)")
    p.add_argument("--compress", action="store_true",
                   help="zip-compress the arrays (smaller file, slower to write and load)")


def run(args: argparse.Namespace) -> int:
    from .prepare import NoUsableLoops, PrepareConfig, prepare, report_path, write_report

    config = PrepareConfig(sample_rate=args.sample_rate, tempo_bpm=args.tempo, tolerance_bpm=args.tolerance,
                           beats_per_bar=args.beats, slice_samples=args.slice_samples, channels=args.channels,
                           decimate=args.decimate, copies=args.copies, noise_lsb24=args.noise, seed=args.seed,
                           default_tempo_bpm=args.default_tempo)
    rpath = args.report or report_path(args.out)
    t0 = time.perf_counter()

    def progress(done, total):
        if done % 200 == 0:
            log.info("read %d/%d files", done, total)

    try:
        report = prepare(args.loops_dir, args.out, config, progress, compress=args.compress)
    except NoUsableLoops as e:
        write_report(e.report, rpath)
        print(e.report.summary())
        raise ValueError(f"{e} (report: {rpath})") from e
    write_report(report, rpath)
    print(report.summary())
    print(f"  wrote {args.out} ({Path(args.out).stat().st_size / 2**20:.1f} MiB) and {rpath} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0
