"""MIDI in: notes trigger loops, clock sets the host tempo, start/stop/SPP give the bar phase.

mido + python-rtmidi, imported lazily: the daemon starts without a MIDI backend and says why.
By default a virtual input port named BeatGAN is created (Linux, macOS); --midi-in NAME opens an
existing port instead (Windows: loopMIDI; macOS: an IAC bus) and reopens it when it comes back
after vanishing. The note map is documented in docs/midi.md.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable

from .requests import SLOTS, Generate, Origin, Request, Slot, Variation
from .tempo import ClockTempo

log = logging.getLogger("beatgan.bridge")

VIRTUAL_PORT = "BeatGAN"
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


# Windows MIDI (WinMM) cannot create ports; a loopback driver provides one the daemon opens.
WINDOWS_NO_VIRTUAL = ("virtual MIDI ports do not exist on Windows: create a port named BeatGAN "
                      "in loopMIDI (tobias-erichsen.de) and start with --midi-in BeatGAN")


class MidiUnavailable(Exception):
    """No MIDI input: no backend, no port, or the port refused to open."""


class PortMissing(MidiUnavailable):
    """The backend works but the named port is not there (yet): poll() opens it when it is."""


def velocity_amount(velocity: int) -> float:
    """Velocity 1 = the slot's own bar (amount 0), 127 = an unrelated one (amount 1)."""
    return (min(max(velocity, 1), 127) - 1) / 126.0


class NoteMap:
    """Notes to requests. Pure apart from the slot store it reads and fills.

    base_note .. base_note+11: seed slots 0..11. An empty slot gets a fresh random seed, kept
      in the slot, so pressing the key again gives the same bar. Velocity sets the variation
      amount (1 = the slot's bar itself). With the sustain pedal down (CC 64 >= 64) the key
      saves the last generated seed into the slot instead of playing.
    any other note: a loop from a fresh random seed.
    """

    def __init__(self, slots, random_seed: Callable[[], int], base_note: int = 36, bars: int = 1):
        self.slots, self.random_seed = slots, random_seed
        self.base_note, self.bars = base_note, bars
        self.sustain = False

    def translate(self, msg) -> Request | None:
        if msg.type == "control_change" and msg.control == 64:
            self.sustain = msg.value >= 64
            return None
        if msg.type != "note_on" or msg.velocity == 0:
            return None  # note-off (or note-on with velocity 0, which means note-off)
        slot = msg.note - self.base_note
        if not 0 <= slot < SLOTS:
            return Generate(seed=None, bars=self.bars)
        if self.sustain:
            return Slot(slot=slot)
        seed = self.slots.get(slot)
        if seed is None:
            seed = self.random_seed()
            self.slots.set(slot, seed)
        amount = velocity_amount(msg.velocity)
        if amount == 0.0:
            return Generate(seed=seed, bars=self.bars)
        return Variation(seed=seed, amount=amount, bars=self.bars)


def match_port(names: list[str], want: str) -> str | None:
    """The port called `want`: an exact name, else a port whose name after the client prefix
    is `want` (JACK/ALSA add 'Client:' prefixes and numbers that change between runs), else the
    one port containing it (case-insensitive)."""
    if want in names:
        return want
    for n in names:
        port = n.split(":", 1)[-1]
        if port == want or port.rsplit(" ", 1)[0] == want:
            return n
    hits = [n for n in names if want.lower() in n.lower()]
    if len(hits) > 1:
        log.warning("MIDI input %r matches %d ports (%s); using %r", want, len(hits),
                    ", ".join(hits), hits[0])
    return hits[0] if hits else None


class MidiInput:
    """One MIDI input port feeding the note map and the clock."""

    def __init__(self, note_map: NoteMap, clock: ClockTempo,
                 handle: Callable[[Request, Origin], None], port: str = "", backend: str = "",
                 send: Callable[..., None] | None = None):
        self.note_map, self.clock, self.handle = note_map, clock, handle
        self.want = port               # "" = a virtual port named BeatGAN
        self.backend_name = backend
        self.send = send               # where answers to MIDI-triggered requests go (or None)
        self.backend = None
        self.port = None
        self._lister = None            # one rtmidi client kept for listing ports (see poll)
        self.state = "closed"
        self.messages = 0

    # --- opening ----------------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        if self.backend_name:
            return [self.backend_name]
        if os.environ.get("MIDO_BACKEND"):
            return [os.environ["MIDO_BACKEND"]]
        # Named APIs, so the port lister below can use the same one. On Linux, ALSA first;
        # without an ALSA sequencer (containers, CI) JACK works when a JACK server runs.
        if sys.platform.startswith("linux"):
            return ["mido.backends.rtmidi/LINUX_ALSA", JACK_BACKEND]
        return ["mido.backends.rtmidi"]

    def open(self) -> str:
        """Open the port; returns a one-line description. Raises MidiUnavailable with every
        backend's reason when none works."""
        try:
            import mido
        except ImportError as e:
            raise MidiUnavailable(f"mido is not installed ({e})") from None
        if not self.want and sys.platform == "win32":
            # Said before any backend is tried, so the summary is this one line.
            raise MidiUnavailable(WINDOWS_NO_VIRTUAL)
        reasons, working = [], None
        for name in self._candidates():
            try:
                self.backend = mido.Backend(name, load=True)
                self._open_port()
                return self.describe()
            except PortMissing as e:
                working = working or self.backend
                reasons.append(f"{name}: {e}")
            except Exception as e:  # noqa: BLE001 - rtmidi raises its own error types; each
                # backend's reason is kept and reported together below.
                reasons.append(f"{name}: {type(e).__name__}: {e}")
            self._lister = None
            self.backend = None
        if working is not None:
            self.backend, self.state = working, "waiting"
            raise PortMissing("; ".join(reasons))
        raise MidiUnavailable("; ".join(reasons))

    def _open_port(self) -> None:
        if not self.want:
            if sys.platform == "win32":
                raise MidiUnavailable(WINDOWS_NO_VIRTUAL)
            self.port = self.backend.open_input(VIRTUAL_PORT, virtual=True,
                                                client_name=VIRTUAL_PORT,
                                                callback=self._on_message)
            self.state = "open"
            return
        names = self._names()
        name = match_port(names, self.want)
        if name is None:
            raise PortMissing(f"no MIDI input port matches {self.want!r}; inputs: "
                                  f"{', '.join(names) or 'none'}")
        self.port = self.backend.open_input(name, callback=self._on_message)
        self.state = "open"

    def _names(self) -> list[str]:
        """Input port names. mido's get_input_names() opens and closes a new rtmidi client per
        call; under JACK that graph change garbles events arriving on the open port at that
        moment (notes lost, duplicated, reordered), so a once-a-second poll must not do it.
        One lister client, made once, lists ports without touching the graph."""
        if self._lister is None and self.backend.name.startswith("mido.backends.rtmidi"):
            import rtmidi
            api = getattr(rtmidi, f"API_{self.backend.api}", None) if self.backend.api else None
            self._lister = rtmidi.MidiIn(rtapi=api if api is not None
                                         else rtmidi.API_UNSPECIFIED)
        if self._lister is not None:
            return list(self._lister.get_ports())
        return list(self.backend.get_input_names())

    def _api(self) -> str:
        name = (self.backend.name if self.backend else "") or "?"
        try:  # which rtmidi API the default backend settled on (ALSA, JACK, CoreMIDI...)
            import rtmidi
            rt = getattr(self.port, "_rt", None)
            if rt is not None and "/" not in name:
                name += "/" + rtmidi.get_api_name(rt.get_current_api())
        except Exception:  # noqa: BLE001 - only a detail of the description
            pass
        return name

    def describe(self) -> str:
        api = self._api()
        if not self.want:
            return f"virtual input {VIRTUAL_PORT!r} ({api})"
        name = self.port.name if self.port is not None else self.want
        return f"{name!r} ({api}, {self.state})"

    # --- housekeeping (main thread, about once a second) ---------------------------------
    def poll(self) -> None:
        """Notice a named port that vanished, and reopen it when it is back."""
        if not self.want or self.backend is None:
            return
        try:
            names = self._names()
        except Exception as e:  # noqa: BLE001 - a backend hiccup; try again next poll
            log.warning("MIDI: could not list ports (%s)", e)
            return
        if self.port is not None and self.port.name not in names:
            log.warning("MIDI input %r vanished; waiting for it to come back", self.port.name)
            self._close_port()
            self.state = "waiting"
        if self.port is None:
            name = match_port(names, self.want)
            if name is not None:
                try:
                    self.port = self.backend.open_input(name, callback=self._on_message)
                    self.state = "open"
                    log.info("MIDI input %r is back; reopened", name)
                except Exception as e:  # noqa: BLE001 - retried on the next poll
                    log.warning("MIDI input %r is back but did not open (%s)", name, e)

    def _close_port(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception as e:  # noqa: BLE001 - the port is gone anyway; say so and go on
                log.debug("closing MIDI port: %s", e)

    def close(self) -> None:
        self._close_port()
        if self._lister is not None:
            lister, self._lister = self._lister, None
            lister.delete()
        self.state = "closed"

    # --- messages (rtmidi's thread) -------------------------------------------------------
    def _on_message(self, msg) -> None:
        now = time.monotonic()
        try:
            self.messages += 1
            kind = msg.type
            if kind == "clock":
                self.clock.tick(now)
            elif kind == "start":
                self.clock.start()
            elif kind == "stop":
                self.clock.stop()
            elif kind == "continue":
                self.clock.resume()
            elif kind == "songpos":
                self.clock.song_position(msg.pos)
            else:
                log.debug("MIDI in: %s", msg)
                self._note(msg)
        except Exception:  # noqa: BLE001 - a bad message must not kill the MIDI thread
            log.exception("MIDI message %s failed", msg)

    def _note(self, msg) -> None:
        received_s = time.perf_counter()
        where = f"midi:{msg.type} {getattr(msg, 'note', getattr(msg, 'control', ''))}".strip()
        origin = Origin(where, "midi", received_s, self.send)
        try:
            request = self.note_map.translate(msg)
        except (TypeError, ValueError) as e:
            origin.error(str(e))
            return
        if request is not None:
            self.handle(request, origin)
