"""`beatgan generate`: bars from the model, fitted to a tempo, written as loop WAVs."""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import numpy as np

from .requests import MAX_BARS

# Above either of these, generate asks before it starts (or wants --yes when nobody can answer).
CONFIRM_LOOPS = 1000
CONFIRM_BYTES = 1_000_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--count", type=int, default=1, help="how many loops (default 1)")
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo in bpm, 40-300 (default: the model's tempo)")
    p.add_argument("--bars", type=bars_arg, default=1, metavar=f"1-{MAX_BARS}",
                   help=f"bars per file, 1-{MAX_BARS} as over OSC (default 1)")
    p.add_argument("--seed", type=int, default=None,
                   help="first seed, 0-2147483647; loop i uses seed+i (default: random seeds)")
    p.add_argument("--out", type=Path, default=Path("beatgan_out"),
                   help="output folder (default beatgan_out)")
    p.add_argument("--model", type=Path, default=None,
                   help="model folder (default: the shipped weights, or $BEATGAN_MODEL)")
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
    p.add_argument("--stems", action="store_true",
                   help="also write one WAV per voice next to each loop; they sum to the loop "
                        "(needs a drum-machine model)")
    p.add_argument("--midi", action="store_true",
                   help="also write each loop's pattern as a .mid next to it, General MIDI drums "
                        "on channel 10 (needs a drum-machine model)")
    p.add_argument("--like", type=Path, default=None, metavar="LOOP",
                   help="start from your own loop (WAV/FLAC/AIFF, its first bar): the first file "
                        "is the model's rebuild of it, the rest (-n) variations of it; with "
                        "--stems/--midi, your loop's parts (needs a drum-machine model)")
    p.add_argument("--like-bpm", type=float, default=None, metavar="BPM",
                   help="the tempo of the --like loop when neither its name (..._124bpm.wav) "
                        "nor an acid chunk says it")
    p.add_argument("--variation", type=float, default=0.3, metavar="AMOUNT",
                   help="how far --like variations stray: 0 = the loop, 1 = unrelated "
                        "(default 0.3)")
    p.add_argument("-y", "--yes", action="store_true",
                   help=f"do not ask before a large job (over {CONFIRM_LOOPS} loops or "
                        f"{CONFIRM_BYTES // 10**9} GB)")


def bars_arg(text: str) -> int:
    """--bars: the range OSC requests accept (requests.MAX_BARS), one rule for both."""
    try:
        bars = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number 1-{MAX_BARS}, got {text!r}")
    if not 1 <= bars <= MAX_BARS:
        raise argparse.ArgumentTypeError(f"must be 1-{MAX_BARS}, got {bars}")
    return bars


def seed_range(first: int | None, count: int, random_first) -> list[int]:
    """Seeds first..first+count-1. A given first seed whose run would pass MAX_SEED is refused
    (wrapping would name other loops than asked for); a random first seed is drawn low enough."""
    from beatgan.bridge.cli import UserError
    from beatgan.generator.latent import MAX_SEED
    if count > MAX_SEED + 1:
        raise UserError(f"-n must be at most {MAX_SEED + 1} (one loop per seed), got {count}")
    if first is None:
        first = random_first() % (MAX_SEED + 2 - count)
    elif not 0 <= first <= MAX_SEED:
        raise UserError(f"--seed must be in 0..{MAX_SEED} (leave it off for random seeds), "
                        f"got {first}")
    elif first + count - 1 > MAX_SEED:
        raise UserError(f"--seed {first} with -n {count} would run past the last seed, "
                        f"{MAX_SEED}; use --seed {MAX_SEED - count + 1} or lower, or a smaller -n")
    return list(range(first, first + count))


def confirm_size(count: int, each_bytes: int, out: Path, yes: bool, stdin=None) -> None:
    """Ask before a job over CONFIRM_LOOPS loops or CONFIRM_BYTES; refuse one that cannot fit."""
    from beatgan.bridge.cli import UserError

    from .loop_size import human_bytes
    total = count * each_bytes
    free = _free_bytes(out)
    if free is not None and total > free:
        raise UserError(f"{count:,} loops need about {human_bytes(total)} but {out} has "
                        f"{human_bytes(free)} free; make fewer (-n) or shorter (--bars) loops")
    if yes or (count <= CONFIRM_LOOPS and total <= CONFIRM_BYTES):
        return
    what = f"{count:,} loops, about {human_bytes(total)} ({human_bytes(each_bytes)} each), into {out}"
    stdin = sys.stdin if stdin is None else stdin
    if not stdin.isatty():
        raise UserError(f"this writes {what}; pass --yes to go ahead without asking")
    print(f"This writes {what}. Go ahead? [y/N] ", end="", file=sys.stderr, flush=True)
    if stdin.readline().strip().lower() not in ("y", "yes"):
        raise UserError("nothing written (answer y to go ahead, or pass --yes)")


def _free_bytes(out: Path) -> int | None:
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folder is created later: its nearest existing parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:  # no answer from this file system: the writer reports a full disk itself
        return None


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError
    from beatgan.generator.engine import BeatGenerator
    from beatgan.generator.weights import ModelLoadError

    from .loop_size import loop_bytes

    if args.count < 1:
        raise UserError(f"-n must be >= 1, got {args.count}")
    if args.seed is not None:  # checked before seconds of model loading
        seed_range(args.seed, args.count, None)
    try:
        gen = BeatGenerator.load(args.model, device=args.device, truncation=args.truncation)
    except ModelLoadError as e:
        raise UserError(str(e)) from e
    from .loop_parts import check_parts_request
    try:
        check_parts_request(gen, args.mode, args.stems, args.midi)
    except ValueError as e:  # a WaveGAN, or a mode that does not re-time the pattern
        raise UserError(str(e)) from e
    bpm = args.bpm if args.bpm is not None else gen.card.tempo_bpm
    like = None
    if args.like is not None:
        seeds, like = like_request(gen, args)
    else:
        seeds = seed_range(args.seed, args.count, gen.random_seed)
    subtype = "FLOAT" if args.float else "PCM_24"
    card = gen.card
    if 40.0 <= bpm <= 300.0:  # an out-of-range tempo is refused by render with its own message
        files = 1 + (card.config.voices + 1 if args.stems else 0)   # the loop, its stems
        confirm_size(len(seeds), files * loop_bytes(args.rate, card.channels, subtype, args.bars,
                                                    card.beats_per_bar, bpm), args.out, args.yes)
    return write_loops(gen, seeds, bpm, args, subtype, like=like)


def like_request(gen, args: argparse.Namespace) -> tuple[list[int], tuple[np.ndarray, str]]:
    """--like: (variant numbers, (latents, file tag)). Variant 0 is the loop rebuilt; the file
    names carry `like-<loop name>` and the variant where other loops carry their seed."""
    from beatgan.bridge.cli import UserError
    from beatgan.generator.latent import like_latents

    from .read_loop import read_first_bar

    if args.seed is not None:
        raise UserError("--like and --seed: a --like loop is named by its variation number, "
                        "not a seed; leave --seed off")
    try:
        bar = read_first_bar(args.like, gen.card, args.like_bpm)
        u = gen.encode(bar[None])[0]
        latents = like_latents(u, args.count, args.variation)
    except ValueError as e:
        hint = " (or pass --like-bpm)" if "no tempo" in str(e) else ""
        raise UserError(f"--like: {e}{hint}") from e
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", args.like.stem).strip("-_")[:27] or "loop"
    return list(range(args.count)), (latents, f"like-{stem}")


def write_loops(gen, seeds: list[int], bpm: float, args: argparse.Namespace, subtype: str,
                like: tuple[np.ndarray, str] | None = None) -> int:
    """Print each path as soon as its file is complete (a pipe or a DAW sees it at once); on
    Ctrl-C or SIGTERM finish the file in progress, then say what was written. `like`: (latents,
    tag) to write instead of the seeds' bars (seeds then number the latents)."""
    from tqdm import tqdm

    from .bar_parts import bar_parts
    from .loop_parts import retime_with_pattern, retimes, write_loop_files
    from .loopfolder import LoopFolder
    from .render import render
    from .stop_signals import StopSignals

    folder = LoopFolder(args.out, subtype=subtype)
    stems, midi = getattr(args, "stems", False), getattr(args, "midi", False)
    # A drum machine in beats mode: its pattern re-timed (with stems and MIDI when asked).
    pattern = retimes(gen, args.mode)
    tag = like[1] if like is not None else None
    batch = 64
    written: list[int] = []
    with StopSignals() as stop, tqdm(total=len(seeds), unit="loop",
                                     disable=len(seeds) < 8) as bar:
        try:
            for i in range(0, len(seeds), batch):
                chunk = seeds[i:i + batch]
                if like is not None:  # an encoded loop's latents, exactly (no truncation)
                    u = like[0][i:i + batch]
                    made = bar_parts(gen, u=u) if pattern else gen.generate_latents(u, truncation=1.0)
                else:
                    made = bar_parts(gen, chunk) if pattern else gen.generate(chunk)
                for seed, audio in zip(chunk, made):
                    if stop.requested:
                        break
                    if pattern:
                        r, pat = retime_with_pattern(audio, bpm, args.bars, args.rate,
                                                     pattern=stems or midi)
                        files = write_loop_files(
                            folder, r, pat, seed, beats_per_bar=gen.card.beats_per_bar,
                            stems=stems, midi=midi, tag=tag)
                        paths = [files.loop, *files.stems, *([files.midi] if files.midi else [])]
                    else:
                        out = render(audio, gen.card, bpm, bars=args.bars, rate=args.rate,
                                     mode=args.mode)
                        paths = [folder.write(out, args.rate, bpm, args.bars, seed,
                                              beats_per_bar=gen.card.beats_per_bar, tag=tag)]
                    written.append(seed)
                    for path in paths:
                        bar.write(str(path), file=sys.stdout)
                    sys.stdout.flush()
                    bar.update(1)
                if stop.requested:
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, but still say what is on disk
            stop.signal_name = stop.signal_name or "SIGINT"
    if stop.requested:
        bar.close()
        done = (f"seeds {written[0]}-{written[-1]}, " if written else "")
        print(f"beatgan generate: stopped by {stop.signal_name} after {len(written):,} of "
              f"{len(seeds):,} loops ({done}in {folder.folder})", file=sys.stderr, flush=True)
        return stop.exit_code()
    return 0
