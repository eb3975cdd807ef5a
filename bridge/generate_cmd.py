"""`beatgan generate`: bars from the model, fitted to a tempo, written as loop WAVs."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--count", type=int, default=1, help="how many loops (default 1)")
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo in bpm, 40-300 (default: the model's tempo)")
    p.add_argument("--bars", type=int, default=1, choices=(1, 2, 4, 8),
                   help="bars per file (default 1)")
    p.add_argument("--seed", type=int, default=None,
                   help="first seed, 0-2147483647; loop i uses seed+i (default: random seeds)")
    p.add_argument("--out", type=Path, default=Path("beatgan_out"),
                   help="output folder (default beatgan_out)")
    p.add_argument("--model", type=Path, default=None,
                   help="model folder (default: the shipped weights/, or $BEATGAN_MODEL)")
    p.add_argument("--mode", default="beats", choices=("beats", "repitch", "stretch"),
                   help="how a bar is fitted to the tempo (default: beats)")
    p.add_argument("--rate", type=int, default=44100,
                   help="output sample rate in Hz (default 44100)")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="latent truncation, 0.05-2: 1 = none, lower = tighter, more typical and "
                        "less varied bars (default: the model card's)")
    p.add_argument("--device", default="auto",
                   help="auto, cpu, cuda (default auto: CUDA when present)")
    p.add_argument("--float", action="store_true", help="32-bit float WAVs instead of 24-bit PCM")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from beatgan.bridge.cli import UserError
    from beatgan.generator.engine import BeatGenerator
    from beatgan.generator.latent import MAX_SEED
    from beatgan.generator.weights import ModelLoadError

    from .loopfolder import LoopFolder
    from .render import render

    if args.count < 1:
        raise UserError(f"-n must be >= 1, got {args.count}")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        # Refused rather than wrapped: a wrapped seed would name a different loop than asked for.
        raise UserError(f"--seed must be in 0..{MAX_SEED} (leave it off for random seeds), "
                        f"got {args.seed}")
    try:
        gen = BeatGenerator.load(args.model, device=args.device, truncation=args.truncation)
    except ModelLoadError as e:
        raise UserError(str(e)) from e
    bpm = args.bpm if args.bpm is not None else gen.card.tempo_bpm
    first = args.seed if args.seed is not None else gen.random_seed()
    seeds = [(first + i) % (MAX_SEED + 1) for i in range(args.count)]
    folder = LoopFolder(args.out, subtype="FLOAT" if args.float else "PCM_24")
    batch = 64
    written = []
    with tqdm(total=len(seeds), unit="loop", disable=len(seeds) < 8) as bar:
        for i in range(0, len(seeds), batch):
            chunk = seeds[i:i + batch]
            for seed, audio in zip(chunk, gen.generate(chunk)):
                out = render(audio, gen.card, bpm, bars=args.bars, rate=args.rate, mode=args.mode)
                written.append(folder.write(out, args.rate, bpm, args.bars, seed,
                                            beats_per_bar=gen.card.beats_per_bar))
                bar.update(1)
    for path in written:
        print(path)
    return 0
