"""Host tempo: its sources, their precedence, and MIDI clock smoothing. Pure: time is passed in.

Precedence (first one known wins):
    tempo in the request > latest OSC tempo > MIDI clock > Ableton Link > model tempo

A MIDI clock that stops ticking for `timeout_s` no longer counts (the host stopped or the cable
was pulled); an OSC tempo counts until a new one arrives or /beatgan/tempo 0 clears it; Link
counts while it has peers.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

PPQN = 24  # MIDI clock ticks per quarter note


@dataclass(frozen=True)
class TempoReading:
    tempo_bpm: float
    source: str  # "request" | "osc" | "midi" | "link" | "model"


class ClockTempo:
    """Tempo and song position from MIDI clock, start/stop/continue and song position pointer.

    The tempo is a line fitted to tick times over the last `window` ticks (one 4/4 bar by
    default), so per-tick jitter of a few milliseconds averages out. Ticks can only arrive late,
    never early (a busy sender or receiver, a MIDI driver delivering once per audio period,
    several delayed ticks arriving in a burst), so after a least-squares fit the ticks that lie
    well above the line are dropped and the line is fitted again. The reported value only moves
    when the fit moves by more than `hysteresis_bpm`, so a steady host reads as one steady
    number. When the last `jump_ticks` ticks disagree with it by more than 4% for `confirm`
    ticks in a row (a burst disagrees only for a tick or two), the window restarts from the
    newest ticks, so a tempo change is followed within about a beat instead of a bar.
    """

    def __init__(self, window: int = 96, timeout_s: float = 1.0, hysteresis_bpm: float = 0.05,
                 jump_ticks: int = 12, confirm: int = 12):
        self.window, self.timeout_s = window, timeout_s
        self.hysteresis_bpm, self.jump_ticks, self.confirm = hysteresis_bpm, jump_ticks, confirm
        self._off = 0             # consecutive ticks that disagree with the reported tempo
        self._times: deque[float] = deque(maxlen=window)
        self._reported: float | None = None
        self._ticks = -1          # song position in ticks of the last clock; -1 = before the first
        self.running = False      # transport state from start/stop/continue
        self._lock = threading.Lock()  # ticks arrive on the MIDI thread, reads come from others

    # --- messages -------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        with self._lock:
            if self._times and now - self._times[-1] > self.timeout_s:
                self._times.clear()  # a gap: the old ticks say nothing about the new tempo
            self._times.append(now)
            if self.running:
                self._ticks += 1
            self._update()

    def start(self) -> None:
        """MIDI Start: the next clock is the downbeat of bar 1."""
        with self._lock:
            self._ticks, self.running = -1, True

    def stop(self) -> None:
        with self._lock:
            self.running = False

    def resume(self) -> None:
        """MIDI Continue: the next clock is the tick after the current position."""
        with self._lock:
            self.running = True

    def song_position(self, sixteenths: int) -> None:
        """MIDI Song Position Pointer (in sixteenth notes = 6 ticks); the next clock plays it."""
        with self._lock:
            self._ticks = sixteenths * (PPQN // 4) - 1

    # --- readings -------------------------------------------------------------------------
    def tempo_bpm(self, now: float) -> float | None:
        with self._lock:
            if not self._times or now - self._times[-1] > self.timeout_s:
                return None
            return self._reported

    def beat_position(self, now: float) -> float | None:
        """Beats since the song start at `now`, or None when stopped or the tempo is unknown."""
        with self._lock:
            if not self.running or self._ticks < 0 or self._reported is None:
                return None
            if now - self._times[-1] > self.timeout_s:
                return None
            tick_s = 60.0 / (self._reported * PPQN)
            since = min(max(now - self._times[-1], 0.0), tick_s)  # never run past the next tick
            return (self._ticks + since / tick_s) / PPQN

    def _update(self) -> None:
        times = self._times
        n = len(times)
        if n < 3:
            return
        if n > self.jump_ticks + 2 and self._reported is not None:
            recent = (times[-1] - times[-self.jump_ticks - 1]) / self.jump_ticks
            expected = 60.0 / (self._reported * PPQN)
            self._off = self._off + 1 if abs(recent / expected - 1.0) > 0.04 else 0
            if self._off >= self.confirm:
                # Keep only the ticks since the change was seen: those are at the new tempo.
                for _ in range(n - self.confirm - 1):
                    times.popleft()
                self._off = 0
        slope = _fit_slope(times)
        if slope <= 0:
            return
        bpm = 60.0 / (slope * PPQN)
        if self._reported is None or abs(bpm - self._reported) > self.hysteresis_bpm:
            self._reported = round(bpm, 2)


def _fit_slope(times) -> float:
    """Seconds per tick: least squares over ticks 0..n-1, then again without the late ones."""
    t0 = times[0]
    ys = [t - t0 for t in times]
    xs = list(range(len(ys)))
    slope, icpt = _line(xs, ys)
    if len(ys) >= 8:
        resid = [y - (icpt + slope * x) for x, y in zip(xs, ys)]
        med = sorted(resid)[len(resid) // 2]
        mad = sorted(abs(r - med) for r in resid)[len(resid) // 2]
        limit = med + max(3.0 * 1.4826 * mad, 0.0005)   # 0.5 ms: never trim plain jitter away
        kept = [(x, y) for x, y, r in zip(xs, ys, resid) if r <= limit]
        if len(kept) >= max(4, len(ys) // 2):
            slope, _ = _line([x for x, _ in kept], [y for _, y in kept])
    return slope


def _line(xs, ys) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    return slope, my - slope * mx


class TempoState:
    """The daemon's tempo sources in one place. Thread-safe; `now` comes from the caller."""

    def __init__(self, model_bpm: float, clock: ClockTempo | None = None,
                 link: Callable[[], float | None] | None = None):
        self.model_bpm = float(model_bpm)
        self.clock = clock
        self.link = link  # returns Link's tempo while it has peers, else None
        self._osc_bpm: float | None = None
        self._lock = threading.Lock()

    def set_osc(self, tempo_bpm: float | None) -> None:
        """None forgets the OSC tempo, so MIDI clock / Link / model take over again."""
        with self._lock:
            self._osc_bpm = tempo_bpm

    def current(self, now: float, request_bpm: float | None = None) -> TempoReading:
        if request_bpm is not None:
            return TempoReading(request_bpm, "request")
        with self._lock:
            osc = self._osc_bpm
        if osc is not None:
            return TempoReading(osc, "osc")
        if self.clock is not None:
            bpm = self.clock.tempo_bpm(now)
            if bpm is not None:
                return TempoReading(bpm, "midi")
        if self.link is not None:
            bpm = self.link()
            if bpm is not None:
                return TempoReading(bpm, "link")
        return TempoReading(self.model_bpm, "model")
