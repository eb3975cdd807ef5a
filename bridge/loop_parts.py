"""A drum-machine loop with its parts on disk: the loop WAV, one WAV per voice next to it, and the
pattern as a MIDI file.

    made = make_loops(gen, [42], tempo_bpm=128, bars=1, rate=44100)      # [(Retimed, Pattern)]
    files = write_loop_files(folder, *made[0], seed=42, stems=True, midi=True)
    # files.loop  .../beatgan_128bpm_s42_1bar_20250101-120000-123.wav
    # files.stems .../beatgan_128bpm_s42_1bar_20250101-120000-123_stem0-kick.wav, ...,
    #             ..._stem-floor.wav (the background noise: the stems and it sum to the loop)
    # files.midi  .../beatgan_128bpm_s42_1bar_20250101-120000-123.mid

Stems carry the loop's tags (acid tempo and beats, smpl loop points) and sample format. Every
file appears atomically (written under a hidden temporary name, then linked to its final name,
never over an existing file). The loop comes first (the LoopFolder names it), then its stems and
MIDI file; `/beatgan/done` and `beatgan generate`'s output come after all of them.
"""
from __future__ import annotations

import errno
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .bar_parts import bar_parts, is_drum_machine, require_drum_machine
from .loopfolder import TEMP_PREFIX, TEMP_SUFFIX, LoopFolder, LoopFolderError
from .midi_file import pattern_midi
from .pattern import Pattern
from .retime import Retimed, retime
from .wavfile import encode_loop_wav

FLOOR_NAME = "stem-floor"
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="beatgan-stems")


@dataclass
class LoopFiles:
    loop: Path
    stems: list[Path] = field(default_factory=list)   # one per voice, then the floor
    midi: Path | None = None


def retimes(gen, mode: str) -> bool:
    """Whether loops of this model in this mode are the re-timed pattern: a drum machine in
    `beats` mode (docs/render.md); `repitch` and `stretch` work on its flat bar."""
    return is_drum_machine(gen) and mode == "beats"


def check_parts_request(gen, mode: str, stems: bool, midi: bool) -> None:
    """Raise NotADrumMachine or ValueError (one line) when stems or MIDI are asked of a model or
    a mode that cannot make them."""
    if not (stems or midi):
        return
    require_drum_machine(gen)
    if mode != "beats":
        raise ValueError(f"stems and MIDI come with the re-timed pattern (mode beats); the mode "
                         f"is {mode}")


def done_extras(files: "LoopFiles | None", stems: bool, midi: bool) -> tuple[str, ...]:
    """What /beatgan/done adds after its five arguments when stems or MIDI are on: the MIDI
    file's path ("" when off or not written), then every stem's path (the floor last)."""
    if not (stems or midi):
        return ()
    if files is None:
        return ("",)
    return (str(files.midi) if files.midi else "", *(str(p) for p in files.stems))


def make_loops(gen, seeds=None, tempo_bpm: float = 120.0, bars: int = 1, rate: int = 44100,
               headroom_db: float = 1.0, *, variation=None, morph=None,
               truncation=None) -> list[tuple[Retimed, Pattern]]:
    """Re-timed loops and their patterns for seeds (or one variation/morph, see bar_parts)."""
    out = []
    for parts in bar_parts(gen, seeds, variation=variation, morph=morph, truncation=truncation):
        out.append((retime(parts, tempo_bpm, bars, rate, headroom_db), Pattern.from_parts(parts)))
    return out


def write_loop_files(folder: LoopFolder, retimed: Retimed, pattern: Pattern | None, seed: int,
                     *, beats_per_bar: int = 4, tag: str | None = None, stems: bool = False,
                     midi: bool = False) -> LoopFiles:
    """Write the loop through `folder`, then (as asked) its stems and MIDI file next to it.
    `pattern` names the stems and makes the MIDI file; only needed with stems or midi."""
    if (stems or midi) and pattern is None:
        raise ValueError("stems and MIDI files need the loop's pattern")
    r = retimed
    loop = folder.write(r.loop, r.rate, r.tempo_bpm, r.bars, seed, beats_per_bar=beats_per_bar,
                        tag=tag)
    files = LoopFiles(loop)
    base = loop.with_suffix("")
    beats = r.bars * beats_per_bar
    try:
        if stems:
            names = pattern.stem_names() + [FLOOR_NAME]

            def write_stem(k: int) -> Path:
                audio = r.stem(k) if k < len(r.voices) else r.floor
                header, data = encode_loop_wav(audio, r.rate, r.tempo_bpm, beats, folder.subtype)
                return _publish(folder, Path(f"{base}_{name_of[k]}.wav"), header + data)

            name_of = dict(enumerate(names))
            # Encoding and writing release the GIL for most of their time: two threads make
            # the nine or so files of a bar about a third faster on two cores.
            files.stems.extend(_POOL.map(write_stem, range(len(names))))
        if midi:
            data = pattern_midi(pattern, r.tempo_bpm, r.bars, name=loop.stem)
            files.midi = _publish(folder, Path(f"{base}.mid"), data)
    except OSError as e:
        raise folder._error("cannot write to", e) if not isinstance(e, LoopFolderError) else e
    return files


def _publish(folder: LoopFolder, final: Path, payload: bytes) -> Path:
    """Write payload as `final` atomically; never replace an existing file."""
    tmp = final.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            if folder.fsync:
                os.fsync(f.fileno())
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise LoopFolderError(errno.EEXIST, f"{final} exists already") from None
        except OSError:  # no hard links on this file system: rename (after checking the name)
            if final.exists():
                raise LoopFolderError(errno.EEXIST, f"{final} exists already") from None
            os.rename(tmp, final)
        return final
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass  # renamed into place: nothing to clean
