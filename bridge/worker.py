"""The worker: one bounded queue, batched generation, then render -> folder -> audio.

One thread owns the generator. Producers (the OSC thread, the MIDI thread) `submit` and never
wait: a full queue is an immediate, explicit rejection, so a flood cannot grow memory and cannot
delay ping. Each job is answered exactly once, on /beatgan/done or /beatgan/error.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .bar_parts import BarParts, bar_parts
from .loop_parts import (check_parts_request, done_extras, retime_with_pattern, retimes,
                         write_loop_files)
from .render import render
from .requests import DONE, Generate, Morph, Origin, Variation
from .retime import retime
from .tempo import TempoReading

log = logging.getLogger("beatgan.bridge")
# BEATGAN_TRACE_STAGES=1: log, per request, the ms from the datagram's arrival to each stage of
# its path (queued, picked up, generated, re-timed, written, synced, replied), to find where
# latency goes (bench/latency.py).
TRACE_STAGES = os.environ.get("BEATGAN_TRACE_STAGES", "") not in ("", "0")


class Rejected(Exception):
    """A request that could not be queued; the message says why, `kind` names it in the
    rate-limited log ("queue-full refusals")."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Job:
    request: Generate | Variation | Morph
    seed: int                        # the resolved seed (seed_a for a morph)
    seed_b: int | None               # morph only
    tempo: TempoReading
    mode: str
    origin: Origin
    truncation: float | None = None  # psi, resolved at arrival like the mode; None = model's
    stems: bool = False              # one WAV per voice next to the loop (drum machine)
    midi: bool = False               # the loop's pattern as a .mid next to it (drum machine)
    stamps: list = field(default_factory=list)  # (stage, perf_counter s), BEATGAN_TRACE_STAGES

    def mark(self, stage: str) -> None:
        """Note when the request reached `stage` (only when stages are traced)."""
        if TRACE_STAGES:
            self.stamps.append((stage, time.perf_counter()))

    def stages(self) -> str:
        """'queued 0.1 picked 0.3 ...': ms since the datagram arrived, for the log."""
        t0 = self.origin.received_s
        return " ".join(f"{name} {(t - t0) * 1000.0:.1f}" for name, t in self.stamps)

    def tag(self) -> str | None:
        r = self.request
        # Tags are letters, digits, '-' and '_' only (file names): amounts in percent.
        if isinstance(r, Variation):
            return f"var{round(r.amount * 100):03d}" + (f"-v{r.variant}" if r.variant else "")
        if isinstance(r, Morph):
            return f"morph{self.seed_b}-t{round(r.t * 100):03d}"
        return None


class Worker:
    def __init__(self, generator, folder, audio=None, rate: int = 44100,
                 headroom_db: float = 1.0, queue_size: int = 64, max_batch: int = 8,
                 on_done=None, flusher=None):
        self.gen, self.card = generator, generator.card
        # flush = "after" (bridge/flush.py): the files are fsynced after the reply, by this
        self.flusher = flusher
        self.folder, self.audio = folder, audio   # LoopFolder | None, AudioSink | None
        self.rate, self.headroom_db, self.max_batch = rate, headroom_db, max_batch
        self.queue_size = queue_size
        self.on_done = on_done or (lambda seed: None)
        self._q: queue.Queue[Job] = queue.Queue(maxsize=queue_size)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.busy = 0            # jobs in the batch being worked on (for status)
        self.done = self.failed = 0

    # --- producers ------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        if self._closing.is_set():
            raise Rejected("the daemon is shutting down", "shutting-down refusals")
        try:
            self._q.put_nowait(job)
        except queue.Full:
            raise Rejected(f"queue full ({self.queue_size} requests waiting); send again after "
                           "a /beatgan/done", "queue-full refusals") from None

    @property
    def depth(self) -> int:
        return self._q.qsize() + self.busy

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Worker":
        self._thread = threading.Thread(target=self._loop, name="beatgan-worker", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batch in flight (its files are written and answered), then answer every
        job still queued with an error, then return."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the worker did not finish its batch within %.0f s", timeout)
        self._reject_queued("the daemon is shutting down")
        if self.flusher is not None and not self.flusher.wait(timeout):
            log.error("some loop files were not flushed to disk within %.0f s", timeout)

    def _reject_queued(self, why: str) -> None:
        while True:
            try:
                job = self._q.get_nowait()
            except queue.Empty:
                return
            self._fail(job, why, in_batch=False)

    # --- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closing.is_set():
            try:
                first = self._q.get(timeout=0.2)  # wakes up to notice close()
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            self.busy = len(batch)
            for job in batch:
                job.mark("picked")
            # Spare files are made between requests, never during one (bridge/spare_files.py).
            spares = self.folder.spares if self.folder is not None else None
            if spares is not None:
                spares.hold()
            try:
                self.run_batch(batch)
            finally:
                self.busy = 0
                if spares is not None:
                    spares.refill()   # the files just taken, made again while idle

    def run_batch(self, batch: list[Job]) -> None:
        """Generate every plain request of the batch in one device call, then finish the jobs in
        arrival order. A failure fails only the jobs it concerns."""
        bars: dict[int, np.ndarray | BarParts] = {}
        plain = [j for j in batch if isinstance(j.request, Generate)]
        batch_error = None
        # A drum machine in beats mode hands over its parts (the pattern is re-timed); every
        # other model and mode, the flat bar.
        parts = [j for j in plain if retimes(self.gen, j.mode)]
        flat = [j for j in plain if not retimes(self.gen, j.mode)]
        try:
            if flat:
                out = self.gen.generate([j.seed for j in flat],  # (n, channels, bar_samples)
                                        [self._psi(j) for j in flat])
                bars.update({id(j): b for j, b in zip(flat, out)})
            if parts:
                made = bar_parts(self.gen, [j.seed for j in parts],
                                 truncation=[self._psi(j) for j in parts])
                bars.update({id(j): p for j, p in zip(parts, made)})
        except Exception as e:  # noqa: BLE001 - reported on each job below, never lost
            log.exception("generation failed")
            batch_error = f"generation failed ({type(e).__name__}: {e})"
        for job in batch:
            job.mark("generated")
        for job in batch:
            if isinstance(job.request, Generate) and batch_error:
                self._fail(job, batch_error)
                continue
            try:
                self._finish(job, bars.get(id(job)))
            except OSError as e:
                self._fail(job, f"could not write the loop: {e.strerror or e}")
            except ValueError as e:
                self._fail(job, str(e))
            except Exception as e:  # noqa: BLE001 - a bug must fail one request, not the daemon
                log.exception("request failed: %s", job.request.describe())
                self._fail(job, f"internal error ({type(e).__name__}: {e})")

    def _finish(self, job: Job, bar: np.ndarray | BarParts | None) -> None:
        r = job.request
        check_parts_request(self.gen, job.mode, job.stems, job.midi)   # ValueError: one line
        pattern = retimes(self.gen, job.mode)
        if isinstance(r, Variation):
            bar = (bar_parts(self.gen, variation=(job.seed, r.amount, r.variant),
                             truncation=self._psi(job))[0] if pattern else
                   self.gen.variation(job.seed, r.amount, r.variant, self._psi(job)))
        elif isinstance(r, Morph):
            bar = (bar_parts(self.gen, morph=(job.seed, job.seed_b, r.t),
                             truncation=self._psi(job))[0] if pattern else
                   self.gen.morph(job.seed, job.seed_b, r.t, self._psi(job)))
        assert bar is not None, "plain generate requests are made in run_batch"
        bpm = job.tempo.tempo_bpm
        path, files, written = "", None, []
        if isinstance(bar, BarParts):
            parts_on = self.folder is not None and (job.stems or job.midi)
            retimed, pattern = retime_with_pattern(bar, bpm, r.bars, self.rate, self.headroom_db,
                                                   pattern=parts_on)
            job.mark("retimed")
            audio = retimed.loop
            if self.folder is not None:
                files = write_loop_files(
                    self.folder, retimed, pattern, job.seed,
                    beats_per_bar=self.card.beats_per_bar, tag=job.tag(), stems=job.stems,
                    midi=job.midi, mark=job.mark)
                path, written = str(files.loop), files.paths()
        else:
            audio = render(bar, self.card, bpm, bars=r.bars, rate=self.rate, mode=job.mode,
                           headroom_db=self.headroom_db)
            if self.folder is not None:
                path = str(self.folder.write(audio, self.rate, bpm, r.bars, job.seed,
                                             beats_per_bar=self.card.beats_per_bar,
                                             tag=job.tag()))
                written = [path]
            job.mark("written")
        latency_ms = (time.perf_counter() - job.origin.received_s) * 1000.0
        self.done += 1
        self.busy -= 1  # before the reply, so a status sent after it sees the job gone
        self.on_done(job.seed)
        job.origin.reply(DONE, path, job.seed, float(bpm), r.bars, float(latency_ms),
                         *done_extras(files, job.stems, job.midi))
        if self.flusher is not None and written:
            self.flusher.flush(written, then=self._trace_flush(job, len(written)))
        log.info("%s %s seed=%d bpm=%g(%s) bars=%d mode=%s -> %s %.1f ms", job.origin.who,
                 type(r).__name__.lower(), job.seed, bpm, job.tempo.source, r.bars, job.mode,
                 path or "(no folder)", latency_ms)
        if TRACE_STAGES:
            job.mark("replied")
            log.info("stages seed=%d (ms since the datagram): %s", job.seed, job.stages())
        if self.audio is not None:
            try:
                self._to_audio(job, bar, audio)
            except Exception:  # noqa: BLE001 - the loop was delivered; only playback failed
                log.exception("could not hand seed %d to the audio device", job.seed)

    @staticmethod
    def _trace_flush(job: Job, files: int):
        """With BEATGAN_TRACE_STAGES: a log line when the job's files are on disk (None: no
        line)."""
        if not TRACE_STAGES:
            return None

        def then(failed: int) -> None:
            ms = (time.perf_counter() - job.origin.received_s) * 1000.0
            log.info("flushed seed=%d: %d files on disk %.1f ms after the datagram%s", job.seed,
                     files - failed, ms, f", {failed} failed" if failed else "")
        return then

    def _psi(self, job: Job) -> float:
        return self.gen.truncation if job.truncation is None else job.truncation

    def _to_audio(self, job: Job, bar: np.ndarray | BarParts, audio: np.ndarray) -> None:
        # After the reply: a second render for a device at another rate must not delay it.
        r = job.request
        if self.audio.rate != self.rate and isinstance(bar, BarParts):
            audio = retime(bar, job.tempo.tempo_bpm, r.bars, self.audio.rate,
                           self.headroom_db).loop
        elif self.audio.rate != self.rate:
            audio = render(bar, self.card, job.tempo.tempo_bpm, bars=r.bars, rate=self.audio.rate,
                           mode=job.mode, headroom_db=self.headroom_db)
        self.audio.show(audio, beats=r.bars * self.card.beats_per_bar)

    def _fail(self, job: Job, why: str, in_batch: bool = True) -> None:
        self.failed += 1
        if in_batch:
            self.busy -= 1
        job.origin.error(why, latency_ms=(time.perf_counter() - job.origin.received_s) * 1000.0)
