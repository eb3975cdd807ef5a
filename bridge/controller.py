"""The controller: carries out typed requests, whichever edge (OSC, MIDI) they came from.

Generation requests get their random seeds and tempo resolved here, at arrival, and go to the
worker's queue; everything else (tempo, mode, play/stop, slots, ping, status) is answered at once
on the calling thread, so ping and status keep answering while the worker is busy or the queue
is full.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .bar_parts import NotADrumMachine, require_drum_machine
from .requests import (Generate, Midi, Mode, Morph, Origin, Ping, Play, Request, Slot, Status,
                       Stems, Stop, Tempo, Truncation, Variation)
from .render import TEMPO_RANGE_BPM
from .tempo import TempoState
from .worker import Job, Rejected, Worker

log = logging.getLogger("beatgan.bridge")


class Controller:
    def __init__(self, generator, worker: Worker, tempo: TempoState, slots, mode: str = "beats",
                 audio=None, describe: Callable[[], dict[str, str]] | None = None,
                 truncation: float | None = None, stems: bool = False, midi: bool = False):
        self.gen, self.worker, self.tempo, self.slots = generator, worker, tempo, slots
        self.mode = mode
        self.stems = stems                 # write one WAV per voice next to each loop
        self.midi_files = midi             # write each loop's pattern as a .mid next to it
        self.truncation = truncation       # None = the generator's (the model card's) default
        self.audio = audio                 # AudioSink | None
        self.describe = describe or dict   # -> {"model":..., "device":..., "folder":..., ...}
        self.last_seed: int | None = None
        self._seed_lock = threading.Lock()  # the generator's RNG is not thread-safe
        self._handlers: dict[type, Callable[[Request, Origin], None]] = {
            Generate: self._generate, Variation: self._generate, Morph: self._generate,
            Tempo: self._tempo, Mode: self._mode, Truncation: self._truncation,
            Stems: self._stems, Midi: self._midi,
            Play: self._play, Stop: self._stop,
            Slot: self._slot, Ping: self._ping, Status: self._status,
        }

    def handle(self, request: Request, origin: Origin) -> None:
        self._handlers[type(request)](request, origin)

    def seen(self, seed: int) -> None:
        """The worker calls this when a loop is done: the seed a slot save would keep."""
        self.last_seed = seed

    def random_seed(self) -> int:
        with self._seed_lock:
            return self.gen.random_seed()

    # --- generation -------------------------------------------------------------------------
    def _generate(self, r: Generate | Variation | Morph, origin: Origin) -> None:
        reading = self.tempo.current(time.monotonic(), r.tempo_bpm)
        lo, hi = TEMPO_RANGE_BPM
        if not lo <= reading.tempo_bpm <= hi:
            origin.error(f"the {reading.source} tempo {reading.tempo_bpm:g} bpm is outside "
                         f"{lo:g}..{hi:g} bpm; send a bpm with the request or /beatgan/tempo")
            return
        if isinstance(r, Morph):
            seed, seed_b = self._or_random(r.seed_a), self._or_random(r.seed_b)
        else:
            seed, seed_b = self._or_random(r.seed), None
        job = Job(r, seed, seed_b, reading, self.mode, origin, self.effective_truncation(),
                  stems=self.stems, midi=self.midi_files)
        job.mark("queued")
        try:
            self.worker.submit(job)
        except Rejected as e:
            origin.error(str(e), kind=e.kind)

    def _or_random(self, seed: int | None) -> int:
        return self.random_seed() if seed is None else seed

    # --- control ----------------------------------------------------------------------------
    def _tempo(self, r: Tempo, origin: Origin) -> None:
        self.tempo.set_osc(r.tempo_bpm)
        reading = self.tempo.current(time.monotonic())
        log.info("%s tempo %s -> %g bpm (%s)", origin.who,
                 "cleared" if r.tempo_bpm is None else f"{r.tempo_bpm:g}",
                 reading.tempo_bpm, reading.source)
        if origin.address == "/tempo/raw":
            return  # Reaper's tempo feedback: Reaper does not listen for an answer
        origin.reply("/beatgan/tempo", float(reading.tempo_bpm), reading.source)

    def _mode(self, r: Mode, origin: Origin) -> None:
        self.mode = r.mode
        log.info("%s mode %s", origin.who, r.mode)
        origin.reply("/beatgan/mode", r.mode)

    def _stems(self, r: Stems, origin: Origin) -> None:
        if self._parts_refused(r.state, origin):
            return
        self.stems = bool(r.state)
        log.info("%s stems %s", origin.who, "on" if r.state else "off")
        origin.reply("/beatgan/stems", int(r.state))

    def _midi(self, r: Midi, origin: Origin) -> None:
        if self._parts_refused(r.state, origin):
            return
        self.midi_files = bool(r.state)
        log.info("%s MIDI files %s", origin.who, "on" if r.state else "off")
        origin.reply("/beatgan/midi", int(r.state))

    def _parts_refused(self, on: int, origin: Origin) -> bool:
        """Stems and MIDI files need a drum-machine model; turning them off is always fine."""
        if on:
            try:
                require_drum_machine(self.gen)
            except NotADrumMachine as e:
                origin.error(str(e))
                return True
        return False

    def effective_truncation(self) -> float:
        return self.gen.truncation if self.truncation is None else self.truncation

    def _truncation(self, r: Truncation, origin: Origin) -> None:
        self.truncation = r.truncation
        log.info("%s truncation %s -> %g", origin.who,
                 "model default" if r.truncation is None else f"{r.truncation:g}",
                 self.effective_truncation())
        origin.reply("/beatgan/truncation", float(self.effective_truncation()))

    def _play(self, r: Play, origin: Origin) -> None:
        if not r.state:
            self._stop(Stop(), origin)
            return
        if self.audio is None:
            origin.error("no audio output (see the start-up summary); loops still go to the "
                         "folder")
            return
        self.audio.play()
        log.info("%s play", origin.who)
        origin.reply("/beatgan/playing", 1)

    def _stop(self, r: Stop, origin: Origin) -> None:
        if self.audio is None:
            origin.error("no audio output (see the start-up summary)")
            return
        self.audio.stop()
        log.info("%s stop", origin.who)
        origin.reply("/beatgan/playing", 0)

    def _slot(self, r: Slot, origin: Origin) -> None:
        seed = r.seed if r.seed is not None else self.last_seed
        if seed is None:
            origin.error(f"nothing to save in slot {r.slot}: no loop made yet and no seed given")
            return
        self.slots.set(r.slot, seed)
        log.info("%s slot %d = seed %d", origin.who, r.slot, seed)
        origin.reply("/beatgan/slot", r.slot, seed)

    def _ping(self, r: Ping, origin: Origin) -> None:
        log.debug("%s ping", origin.who)
        origin.reply("/beatgan/pong", *(() if r.token is None else (r.token,)))

    def _status(self, r: Status, origin: Origin) -> None:
        d = self.describe()
        reading = self.tempo.current(time.monotonic())
        log.debug("%s status", origin.who)
        origin.reply("/beatgan/status", d.get("model", ""), d.get("device", ""),
                     float(reading.tempo_bpm), reading.source, self.worker.depth,
                     self.worker.queue_size, d.get("folder", ""), d.get("audio", ""),
                     d.get("midi", ""), self.mode)
