"""The daemon's wiring: build every part from a BridgeConfig, print one summary, serve until a
signal, then shut down in order (stop input, finish the batch in flight, answer the rest, close).

Threads: the main thread (signals, MIDI port housekeeping), one OSC receive thread, one worker
thread; PortAudio and rtmidi add their own callback threads, and Link (when on) one more.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from .cli import UserError
from .flush import FLUSH_WORDS
from .settings import BridgeConfig

log = logging.getLogger("beatgan.bridge")

POLL_S = 1.0  # MIDI port housekeeping period, s


class Daemon:
    def __init__(self, cfg: BridgeConfig):
        self.cfg = cfg
        self.summary: dict[str, str] = {}
        self.gen = self.folder = self.audio = self.midi = self.link = None
        self.worker = self.controller = self.server = None
        self.stop_event = threading.Event()
        self.signal_name: str | None = None
        self.started = False  # "stopped" is only logged for a daemon that was ready

    # --- start ------------------------------------------------------------------------------
    def start(self) -> "Daemon":
        cfg = self.cfg
        from .osc_server import OscServer
        # Bind first: a port in use is reported before seconds of model loading.
        self.server = OscServer(None, cfg.host, cfg.osc_port, cfg.reply_port, cfg.allow)
        self._load_model()
        self._open_folder()

        from .tempo import ClockTempo, TempoState
        clock = ClockTempo(timeout_s=cfg.clock_timeout_s)
        self.clock = clock
        link_tempo = self._open_link()
        self.tempo = TempoState(self.gen.card.tempo_bpm, clock, link_tempo)
        self._open_audio()

        from .controller import Controller
        from .osc_api import OscApi
        from .slots import SeedSlots
        from .worker import Worker
        self.worker = Worker(self.gen, self.folder, self.audio, rate=cfg.rate,
                             headroom_db=cfg.headroom_db, queue_size=cfg.queue_size,
                             max_batch=cfg.max_batch, flusher=self._flusher())
        self.slots = SeedSlots(cfg.slots_path())
        self.controller = Controller(self.gen, self.worker, self.tempo, self.slots, cfg.mode,
                                     self.audio, self.describe, stems=cfg.stems,
                                     midi=cfg.midi_file)
        self.worker.on_done = self.controller.seen
        self.server.api = OscApi(self.controller.handle)
        reply = ("replies to the sender's own port" if not cfg.reply_port else
                 f"replies to the sender's host at port {cfg.reply_port}")
        allow = f"; allowed clients: {', '.join(cfg.allow)}" if cfg.allow else ""
        self.summary["osc"] = f"listening on {self.server.host}:{self.server.port} (UDP), {reply}{allow}"
        self._open_midi()
        freeze_heap()
        self.worker.start()
        self.server.start()
        self.started = True
        return self

    def _load_model(self) -> None:
        cfg = self.cfg
        import torch

        from beatgan.generator.engine import BeatGenerator
        from beatgan.generator.weights import ModelLoadError
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        try:
            self.gen = BeatGenerator.load(cfg.model or None, device=cfg.device, dtype=cfg.dtype,
                                          truncation=cfg.truncation or None)
        except ModelLoadError as e:
            raise UserError(str(e)) from None
        from .loop_parts import check_parts_request
        try:
            check_parts_request(self.gen, cfg.mode, cfg.stems, cfg.midi_file)
        except ValueError as e:
            raise UserError(str(e)) from None
        card = self.gen.card
        c = card.config
        self.summary["model"] = (f"{card.name} ({c.arch}, d={c.model_size}, {card.sample_rate} Hz, "
                                 f"{card.tempo_bpm:g} bpm, {card.beats_per_bar} beats a bar, "
                                 f"truncation {self.gen.truncation:g}"
                                 f"{'' if cfg.truncation else ' from its card'}) from "
                                 f"{self.gen.source}")
        warm_ms = self._warm_up() if cfg.warmup else 0.0
        n = torch.get_num_threads()
        threads = f", {n} thread{'s' * (n != 1)}" if self.gen.device == "cpu" else ""
        warm = f"warm-up {warm_ms:.0f} ms" if cfg.warmup else "no warm-up"
        self.summary["device"] = f"{self.gen.device}, {cfg.dtype}{threads} ({warm})"

    def _warm_up(self) -> float:
        """Run every code path a request takes once (each batch size up to max_batch, every fit
        mode, a WAV write) so the first request costs what the hundredth does."""
        from .loopfolder import LoopFolder
        from .render import render
        t0 = time.perf_counter()
        gen, card, cfg = self.gen, self.gen.card, self.cfg
        sizes = sorted({1, 2, cfg.max_batch} | {n for n in (4, 8, 16, 32) if n < cfg.max_batch})
        for n in sizes:
            bars = gen.generate(list(range(n)))
        gen.variation(0, 0.5)
        gen.morph(0, 1, 0.5)
        for mode in ("beats", "repitch", "stretch"):
            audio = render(bars[0], card, card.tempo_bpm * 0.9, bars=1, rate=cfg.rate, mode=mode,
                           headroom_db=cfg.headroom_db)
        with tempfile.TemporaryDirectory(prefix="beatgan-warmup-") as tmp:
            LoopFolder(Path(tmp)).write(audio, cfg.rate, card.tempo_bpm * 0.9, 1, 0,
                                        beats_per_bar=card.beats_per_bar)
            if card.config.arch == "drum-machine":
                # The re-timed pattern with its stems and MIDI file (every batch size too).
                from .bar_parts import bar_parts
                from .loop_parts import make_loops, write_loop_files
                for n in sizes:
                    bar_parts(gen, list(range(n)))
                made = make_loops(gen, [0], card.tempo_bpm * 0.9, 1, cfg.rate, cfg.headroom_db)
                write_loop_files(LoopFolder(Path(tmp)), *made[0], 0,
                                 beats_per_bar=card.beats_per_bar, stems=True, midi=True)
        return (time.perf_counter() - t0) * 1000.0

    def _open_folder(self) -> None:
        cfg = self.cfg
        if not cfg.folder:
            self.summary["folder"] = "off (--no-folder)"
            return
        from .loopfolder import LoopFolder
        out = cfg.out_path()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot use {out} as the output folder ({e.strerror or e}); pass "
                            "--out DIR") from None
        spares = None
        if cfg.spare_files:
            from .spare_files import SpareFiles
            spares = SpareFiles(out)
        self.folder = LoopFolder(out, fsync=cfg.flush == "before", spares=spares)
        parts = [what for what, on in (("stems", cfg.stems), ("MIDI files", cfg.midi_file)) if on]
        self.summary["folder"] = (f"{out} (WAV, {cfg.rate} Hz"
                                  f"{', with ' + ' and '.join(parts) if parts else ''}; "
                                  f"flushed to disk {FLUSH_WORDS[cfg.flush]})")
        note_folder(out.resolve())


    def _flusher(self):
        """The background fsync of flush = "after" (None for the other modes, or no folder)."""
        if self.folder is None or self.cfg.flush != "after":
            return None
        from .flush import Flusher
        return Flusher()

    def _open_audio(self) -> None:
        cfg = self.cfg
        if not cfg.audio:
            self.summary["audio"] = "off (--no-audio)"
            return
        from .audio_sink import AudioSink, AudioUnavailable
        sink = AudioSink(cfg.audio_device, self.gen.card.channels, self.beat_position)
        try:
            sink.open()
        except AudioUnavailable as e:
            self.summary["audio"] = f"off: {e}. Loops still go to the folder."
            return
        self.audio = sink
        self.summary["audio"] = sink.describe()
        # Warm the render path at the device's rate too, when it differs from the WAV rate.
        if sink.rate != cfg.rate and cfg.warmup:
            from .render import render
            render(self.gen.generate([0])[0], self.gen.card, self.gen.card.tempo_bpm,
                   rate=sink.rate, headroom_db=cfg.headroom_db)

    def _open_link(self):
        if not self.cfg.link:
            return None
        from .link import LinkClock, LinkUnavailable
        link = LinkClock(self.gen.card.tempo_bpm, quantum=self.gen.card.beats_per_bar)
        try:
            self.summary["link"] = link.open()
        except LinkUnavailable as e:
            self.summary["link"] = f"off: {e}"
            return None
        self.link = link
        return link.tempo_bpm

    def _open_midi(self) -> None:
        cfg = self.cfg
        if not cfg.midi:
            self.summary["midi"] = "off (--no-midi)"
            return
        from .midi_in import MidiInput, MidiUnavailable, NoteMap, PortMissing
        note_map = NoteMap(self.slots, self.controller.random_seed, cfg.slot_base_note, cfg.bars)
        send = None
        if cfg.reply_port:
            server, dest = self.server, ("127.0.0.1", cfg.reply_port)

            def send(address, *args):
                server.send_to(dest, address, *args)
        midi = MidiInput(note_map, self.clock, self.controller.handle, cfg.midi_in,
                         cfg.midi_backend, send)
        base = cfg.slot_base_note
        try:
            where = midi.open()
        except PortMissing as e:
            # A named port may appear later (loopMIDI started after us): keep looking.
            self.midi = midi
            self.summary["midi"] = f"waiting for {cfg.midi_in!r} ({e}); opened when it appears"
            return
        except MidiUnavailable as e:
            self.summary["midi"] = f"off: {e}. OSC still works."
            return
        self.midi = midi
        self.summary["midi"] = (f"{where}; notes {base}-{base + 11} = seed slots, other notes "
                                "= random seeds, clock = tempo")

    # --- state for status and the summary ---------------------------------------------------
    def beat_position(self) -> float | None:
        now = time.monotonic()
        pos = self.clock.beat_position(now)
        if pos is None and self.link is not None:
            pos = self.link.beat_position()
        return pos

    def describe(self) -> dict[str, str]:
        card = self.gen.card
        return {
            "model": card.name,
            "device": self.gen.device,
            "folder": str(self.cfg.out_path()) if self.folder is not None else "off",
            "audio": self.audio.describe() if self.audio is not None else "off",
            "midi": self.midi.describe() if self.midi is not None else "off",
        }

    def print_summary(self, stream=sys.stdout) -> None:
        reading = self.tempo.current(time.monotonic())
        self.summary["tempo"] = (f"{reading.tempo_bpm:g} bpm ({reading.source}); precedence: "
                                 "request > OSC > MIDI clock > Link > model")
        self.summary["stop"] = ("Ctrl-C (or SIGTERM) stops the daemon; the loops in progress "
                                "are finished and answered first")
        lines = ["beatgan serve: ready"]
        for key in ("config", "model", "device", "osc", "midi", "link", "folder", "audio",
                    "tempo", "stop"):
            if key in self.summary:
                lines.append(f"  {key:<8}{self.summary[key]}")
        print("\n".join(lines), file=stream, flush=True)

    # --- run and stop -----------------------------------------------------------------------
    def catch_signals(self) -> None:
        """From here on SIGINT/SIGTERM stop the daemon in order. Installed before the summary
        is printed, so a client that waits for the summary can always stop us cleanly."""
        def on_signal(signum, frame):
            self.signal_name = signal.Signals(signum).name
            self.stop_event.set()
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def serve_forever(self) -> int:
        from .ratelimit import LIMITER
        while not self.stop_event.wait(POLL_S):
            if self.midi is not None:
                self.midi.poll()
            LIMITER.flush_due()  # "... N more queue-full refusals" once a flood's window ends
        log.info("%s: stopping", self.signal_name or "stop requested")
        self.close()
        return 130 if self.signal_name == "SIGINT" else 0

    def close(self) -> None:
        if self.midi is not None:
            self.midi.close()
        if self.worker is not None:
            # The batch in flight is finished and the queue answered; meanwhile OSC still
            # answers (new generation requests with "shutting down", ping as usual).
            self.worker.close()
        if self.folder is not None and self.folder.spares is not None:
            self.folder.spares.close()   # the hidden spares go with the daemon
        if self.server is not None:
            if self.server.api is not None:
                self.server.stop()
                self.server.drain()    # datagrams already received by the kernel get answers
            self.server.close()
        if self.audio is not None:
            self.audio.close()
        if self.link is not None:
            self.link.close()
        from .ratelimit import LIMITER
        LIMITER.flush()  # counts of rate-limited lines still open
        if self.started:  # after a start-up error the error line is the last word, not this
            log.info("stopped")


def freeze_heap() -> None:
    """Leave everything made so far (torch, the model, the warm-up: ~170,000 objects) out of the
    garbage collector's walks: it lives as long as the daemon, and a full collection over it
    took ~95 ms on a 2-core machine, a pause in the middle of some request (and young
    collections still walked part of it: 5 % of the daemon's CPU under load)."""
    import gc
    gc.collect()
    gc.freeze()


def note_folder(out: Path) -> None:
    """Write the loop folder where the REAPER scripts look for it (settings.folder_note_path),
    so their default folder is the daemon's, whatever --out or the OS's music folder is."""
    from .settings import folder_note_path
    note = folder_note_path()
    tmp = note.with_name(note.name + ".tmp")
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(f"{out}\n", encoding="utf-8")
        os.replace(tmp, note)   # atomic: a script never reads half a path
    except OSError as e:  # the daemon works without it; only the scripts' default is affected
        log.warning("could not note the loop folder in %s (%s); set the folder in REAPER's "
                    "beatgan_settings.lua", note, e.strerror or e)


def run(cfg: BridgeConfig, config_file: Path | None = None) -> int:
    daemon = Daemon(cfg)
    daemon.summary["config"] = str(config_file) if config_file else "defaults and flags only"
    try:
        daemon.start()
    except BaseException:
        daemon.close()
        raise
    daemon.catch_signals()
    daemon.print_summary()
    return daemon.serve_forever()
