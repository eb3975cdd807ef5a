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

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .bar_parts import bar_parts, is_drum_machine, require_drum_machine
from .flush import SYNC_POOL
from .loopfolder import LoopFolder, LoopFolderError
from .midi_file import pattern_midi
from .pattern import Pattern
from .retime import Retimed, retime
from .wavfile import encode_loop_wav

FLOOR_NAME = "stem-floor"
# The pattern is measured on this pool while the loop is re-timed (retime_with_pattern).
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beatgan-pattern")
# A loop's WAVs are encoded here and on this thread (two cores).
_ENCODE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beatgan-encode")


@dataclass
class LoopFiles:
    loop: Path
    stems: list[Path] = field(default_factory=list)   # one per voice, then the floor
    midi: Path | None = None

    def paths(self) -> list[Path]:
        """Every file, the loop first."""
        return [self.loop, *self.stems, *([self.midi] if self.midi else [])]


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
                     midi: bool = False, mark=None) -> LoopFiles:
    """Write the loop through `folder`, then (as asked) its stems and MIDI file next to it.
    `pattern` names the stems and makes the MIDI file; only needed with stems or midi.

    Every file is encoded and written under a temporary name (half here, half on one more
    thread, or all here when the folder has a spare file for each), then all are fsynced at
    once (a thread each), then named: the loop first, then its stems and MIDI file. Each file
    appears whole; a failed write leaves no temporary file and publishes no stem or MIDI file
    (the loop may be there already, when naming a stem failed).
    mark(stage), when given, is called as each stage is reached (the daemon's
    BEATGAN_TRACE_STAGES)."""
    if (stems or midi) and pattern is None:
        raise ValueError("stems and MIDI files need the loop's pattern")
    mark = mark or (lambda stage: None)
    r = retimed
    when = time.time()
    # The loop's name (unless another loop took it in the same millisecond): the MIDI file's
    # track carries it, and is written before the loop is named.
    guess = Path(folder.file_name(r.tempo_bpm, r.bars, seed, tag, when)).stem  # validates too
    beats = r.bars * beats_per_bar
    names = pattern.stem_names() + [FLOOR_NAME] if stems else []
    w = _Writes(folder)
    try:
        def encode(k: int):
            if 0 <= k < len(r.voices):     # a stem: its voice, panned as it is packed
                return encode_loop_wav(r.voices[k], r.rate, r.tempo_bpm, beats, folder.subtype,
                                       gains=r.pan_gains[:, k])
            audio = r.loop if k < 0 else r.floor
            return encode_loop_wav(audio, r.rate, r.tempo_bpm, beats, folder.subtype)

        # Written anew, half the WAVs go to one more thread, so that both cores encode and
        # make files (more threads only hand the GIL back and forth). Over spare files, which
        # cost little to write, one thread is faster: handing half over to a thread that was
        # idle cost more than it saved (paced requests, docs/render.md).
        keys = list(range(-1, len(names)))
        there = keys[1::2] if folder.spares is None or folder.spares.ready() < len(keys) else []
        for k in there:
            w.spawn(k, encode, k)
        for k in keys:
            if k not in there:
                w.write(k, encode(k))
        if midi:
            w.write("midi", pattern_midi(pattern, r.tempo_bpm, r.bars, name=guess))
        w.join()
        mark("written")
        # Only now: a file created while another's fsync commits the journal waits for it.
        w.sync_all()
        mark("synced")
        files = LoopFiles(folder.publish_loop(w.temps[-1], r.tempo_bpm, r.bars, seed, tag,
                                              when))
        base = files.loop.with_suffix("")
        for k, name in enumerate(names):
            files.stems.append(folder.publish_as(w.temps[k], Path(f"{base}_{name}.wav")))
        if midi:
            if files.loop.stem != guess:   # the name was taken: the track is named again
                stale, w.temps["midi"] = w.temps["midi"], folder.write_temp((pattern_midi(
                    pattern, r.tempo_bpm, r.bars, name=files.loop.stem),))
                folder.discard(stale)
            files.midi = folder.publish_as(w.temps["midi"], Path(f"{base}.mid"))
    except BaseException as e:
        # Only a failure leaves temporary files: publishing removes each one's temporary name.
        w.discard()
        if isinstance(e, OSError) and not isinstance(e, LoopFolderError):
            raise folder._error("cannot write to", e)
        raise
    return files


class _Writes:
    """Files written under temporary names (here or on the encoding thread), then fsynced all at
    once, a thread each."""

    def __init__(self, folder: LoopFolder):
        self.folder = folder
        self.temps: dict = {}         # key -> temporary path
        self.jobs: list = []          # encodings and fsyncs in flight on other threads

    def write(self, key, data) -> None:
        """data: the file's bytes, or a tuple of byte strings written one after another."""
        self.temps[key] = self.folder.write_temp(data if isinstance(data, tuple) else (data,),
                                                 sync=False)

    def spawn(self, key, make, *args) -> None:
        """write(key, make(*args)) on the encoding thread."""
        self.jobs.append(_ENCODE.submit(lambda: self.write(key, make(*args))))

    def join(self) -> None:
        for job in self.jobs:
            job.result()

    def sync_all(self) -> None:
        """fsync every file, each on a thread of its own; raises the first error after all
        have finished."""
        if self.folder.fsync:
            self.jobs = [SYNC_POOL.submit(self.folder.sync_temp, tmp)
                         for tmp in self.temps.values()]
        self.join()

    def discard(self) -> None:
        """After a failure: wait for every job still running, then remove every temporary file
        left (a published one's temporary name is already gone)."""
        for job in self.jobs:
            try:
                job.result()
            except Exception:  # noqa: BLE001 - raised by write_loop_files already, or one of many
                pass
        for tmp in self.temps.values():
            self.folder.discard(tmp)
