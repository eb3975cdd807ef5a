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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .bar_parts import bar_parts, is_drum_machine, require_drum_machine
from .loopfolder import LoopFolder, LoopFolderError
from .midi_file import pattern_midi
from .pattern import Pattern
from .retime import Retimed, retime
from .wavfile import encode_loop_wav

FLOOR_NAME = "stem-floor"
# Encoding is CPU work (two cores), but each file's fsync waits on the disk: four threads keep
# both cores busy while files wait (on this project's virtual disk a bar's 11 files took a few ms
# less than with two threads, the same on tmpfs; six were no better).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="beatgan-stems")


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
    return [retime_with_pattern(parts, tempo_bpm, bars, rate, headroom_db)
            for parts in bar_parts(gen, seeds, variation=variation, morph=morph,
                                   truncation=truncation)]


def retime_with_pattern(parts, tempo_bpm: float, bars: int = 1, rate: int = 44100,
                        headroom_db: float = 1.0, *, pattern: bool = True
                        ) -> tuple[Retimed, Pattern | None]:
    """retime(parts, ...) and, when `pattern`, Pattern.from_parts(parts) (else None). The
    pattern is measured on a pool thread while the loop is rendered here: both are NumPy,
    which lets go of the GIL, so on two cores the pattern costs no time of its own."""
    job = _POOL.submit(Pattern.from_parts, parts) if pattern else None
    try:
        retimed = retime(parts, tempo_bpm, bars, rate, headroom_db)
    except BaseException:
        if job is not None:
            job.cancel()      # or let it finish: nobody waits for it, its result is dropped
        raise
    return retimed, job.result() if job is not None else None


def write_loop_files(folder: LoopFolder, retimed: Retimed, pattern: Pattern | None, seed: int,
                     *, beats_per_bar: int = 4, tag: str | None = None, stems: bool = False,
                     midi: bool = False) -> LoopFiles:
    """Write the loop through `folder`, then (as asked) its stems and MIDI file next to it.
    `pattern` names the stems and makes the MIDI file; only needed with stems or midi.

    The WAVs are encoded, written and fsynced under temporary names on the pool's threads, all
    at once, so their fsyncs overlap instead of queueing. The loop takes its name as soon as it
    is on disk; the MIDI file, which carries that name, is written meanwhile; the stems and the
    MIDI file take their names once all are on disk. Each file still appears whole, the loop
    first; a failed write leaves no temporary file and publishes no stem or MIDI file (the
    loop may be there already, as when it was written first)."""
    if (stems or midi) and pattern is None:
        raise ValueError("stems and MIDI files need the loop's pattern")
    r = retimed
    folder.file_name(r.tempo_bpm, r.bars, seed, tag)          # validates before any disk work
    beats = r.bars * beats_per_bar

    def write_wav(k: int) -> Path:
        # On the pool's thread: the stem is made where it is encoded (-1: the loop).
        audio = r.loop if k < 0 else r.stem(k) if k < len(r.voices) else r.floor
        return folder.write_temp(encode_loop_wav(audio, r.rate, r.tempo_bpm, beats,
                                                 folder.subtype))

    names = pattern.stem_names() + [FLOOR_NAME] if stems else []
    jobs = [_POOL.submit(write_wav, k) for k in range(-1, len(names))]
    midi_tmp = None
    try:
        files = LoopFiles(folder.publish_loop(jobs[0].result(), r.tempo_bpm, r.bars, seed, tag))
        base = files.loop.with_suffix("")
        if midi:
            midi_tmp = folder.write_temp((pattern_midi(pattern, r.tempo_bpm, r.bars,
                                                       name=files.loop.stem),))
        stem_temps = [job.result() for job in jobs[1:]]   # all on disk before one is named
        for name, tmp in zip(names, stem_temps):
            files.stems.append(folder.publish_as(tmp, Path(f"{base}_{name}.wav")))
        if midi_tmp is not None:
            files.midi = folder.publish_as(midi_tmp, Path(f"{base}.mid"))
    except BaseException as e:
        # Only a failure leaves temporary files: publishing removes each one's temporary name.
        _remove_temps(folder, jobs, midi_tmp)
        if isinstance(e, OSError) and not isinstance(e, LoopFolderError):
            raise folder._error("cannot write to", e)
        raise
    return files


def _remove_temps(folder: LoopFolder, jobs, extra: Path | None) -> None:
    """After a failure: wait for every write still running and remove every temporary file
    left (a published one's temporary name is already gone)."""
    for job in jobs:
        try:
            tmp = job.result()
        except Exception:  # noqa: BLE001 - raised by write_loop_files already, or one of many
            continue
        folder.discard(tmp)
    if extra is not None:
        folder.discard(extra)
