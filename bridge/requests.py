"""Typed requests: what a producer can ask the daemon for, validated once at the edge.

OSC arguments and MIDI messages are turned into these frozen dataclasses, and everything behind
the edge (controller, worker, sinks) trusts them. Construction raises TypeError for a wrong type
and ValueError for a value out of range; both name the field and the accepted range, because the
message goes straight back to the producer on /beatgan/error.

Numbers are lenient in one way only: an int is accepted where a float is expected, and a float
with no fractional part (Pd sends every number as a float) where an int is expected. Booleans,
strings, NaN and infinities are never numbers.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, fields
from dataclasses import field as dc_field
from typing import Callable, ClassVar

from beatgan.generator.latent import MAX_SEED, TRUNCATION_RANGE

from .ratelimit import LIMITER
from .render import TEMPO_RANGE_BPM

RANDOM_SEED = -1          # the wire value for "pick a fresh random seed"
HOST_TEMPO = 0.0          # the wire value for "use the current host tempo"
MODEL_TRUNCATION = 0.0    # the wire value for "the model card's truncation"
MAX_BARS = 8              # longest loop one request may ask for, in bars
MODES = ("beats", "repitch", "stretch")
SLOTS = 12                # MIDI seed slots, one per note of an octave


log = logging.getLogger("beatgan.bridge")

ERROR = "/beatgan/error"
DONE = "/beatgan/done"


@dataclass
class Origin:
    """Where a request came from and where its replies go (the envelope of a request)."""

    address: str                     # OSC address, or "midi:note_on 36" for a MIDI note
    who: str                         # "osc 127.0.0.1:53211" or "midi BeatGAN", for the log
    received_s: float                # time.perf_counter() when the bytes arrived
    send: Callable[..., None] | None = dc_field(default=None, repr=False)  # send(address, *args)

    def reply(self, address: str, *args) -> None:
        if self.send is not None:
            self.send(address, *args)

    def error(self, message: str, latency_ms: float | None = None,
              kind: str | None = None) -> None:
        """Answer on /beatgan/error and log it: a rejection is never silent. The log is
        rate-limited per `kind` (a flood of one error is a few lines and a count); the
        default kind is the message with its numbers left out."""
        took = "" if latency_ms is None else f" {latency_ms:.1f} ms"
        kind = kind or f"errors like '{_clip(re.sub(r'[0-9]+', 'N', message), 60)}'"
        LIMITER.log(logging.WARNING, kind, "%s %s -> error: %s%s", self.who,
                    _clip(self.address, 80), message, took)
        self.reply(ERROR, _clip(self.address, 256), message)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _number(field: str, value, kind: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{field} must be {kind}, got {type(value).__name__} {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {value}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_int(field: str, value, lo: int, hi: int, what: str = "") -> int:
    value = _number(field, value, "an int")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{field} must be a whole number, got {value}")
        value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{field} must be in {lo}..{hi}{what}, got {value}")
    return value


def as_float(field: str, value, lo: float, hi: float, what: str = "") -> float:
    value = float(_number(field, value, "a number"))
    if not lo <= value <= hi:
        raise ValueError(f"{field} must be in {lo:g}..{hi:g}{what}, got {value:g}")
    return value


def as_seed(field: str, value) -> int | None:
    """-1 (or None) = a fresh random seed, chosen when the request is queued."""
    if value is None:
        return None
    seed = as_int(field, value, RANDOM_SEED, MAX_SEED, " (-1 = random)")
    return None if seed == RANDOM_SEED else seed


def as_tempo(field: str, value) -> float | None:
    """0 (or None) = the current host tempo."""
    if value is None:
        return None
    bpm = float(_number(field, value, "a number (bpm)"))
    if bpm == HOST_TEMPO:
        return None
    lo, hi = TEMPO_RANGE_BPM
    if not lo <= bpm <= hi:
        raise ValueError(f"{field} must be 0 (host tempo) or in {lo:g}..{hi:g} bpm, got {bpm:g}")
    return bpm


def as_bars(field: str, value) -> int:
    return as_int(field, value, 1, MAX_BARS)


def _wire(name: str) -> str:
    return "bpm" if name == "tempo_bpm" else name


class Request:
    """Base of every request. OSC_ARGS names the fields OSC arguments bind to, in order, with
    their OSC type tag for messages; the first OSC_REQUIRED of them must be present."""

    OSC_ARGS: ClassVar[tuple[tuple[str, str], ...]] = ()
    OSC_REQUIRED: ClassVar[int] = 0
    generates: ClassVar[bool] = False

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    @classmethod
    def from_osc(cls, args) -> "Request":
        """Bind positional OSC arguments to fields; the field validators do the rest."""
        args = list(args)
        spec = ", ".join(f"{tag} {_wire(name)}" for name, tag in cls.OSC_ARGS) or "no arguments"
        if len(args) > len(cls.OSC_ARGS):
            raise TypeError(f"expected at most {len(cls.OSC_ARGS)} args ({spec}), got {len(args)}")
        if len(args) < cls.OSC_REQUIRED:
            missing = [_wire(name) for name, _ in cls.OSC_ARGS[len(args):cls.OSC_REQUIRED]]
            raise TypeError(f"missing {', '.join(missing)} (expects {spec})")
        return cls(**{name: value for (name, _), value in zip(cls.OSC_ARGS, args)})

    def describe(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                parts.append(f"{f.name}={value:g}" if isinstance(value, float)
                             else f"{f.name}={value}")
        return f"{type(self).__name__.lower()} {' '.join(parts)}".strip()


@dataclass(frozen=True)
class Generate(Request):
    seed: int | None = None          # None = random
    tempo_bpm: float | None = None   # bpm; None = host tempo
    bars: int = 1                    # loop length in bars

    OSC_ARGS = (("seed", "i"), ("tempo_bpm", "f"), ("bars", "i"))
    generates = True

    def __post_init__(self):
        self._set("seed", as_seed("seed", self.seed))
        self._set("tempo_bpm", as_tempo("bpm", self.tempo_bpm))
        self._set("bars", as_bars("bars", self.bars))


@dataclass(frozen=True)
class Variation(Request):
    seed: int | None
    amount: float                    # 0 = the seed's own bar, 1 = unrelated
    tempo_bpm: float | None = None
    bars: int = 1
    variant: int = 0                 # another direction at the same distance

    OSC_ARGS = (("seed", "i"), ("amount", "f"), ("tempo_bpm", "f"), ("bars", "i"),
                ("variant", "i"))
    OSC_REQUIRED = 2
    generates = True

    def __post_init__(self):
        self._set("seed", as_seed("seed", self.seed))
        self._set("amount", as_float("amount", self.amount, 0.0, 1.0))
        self._set("tempo_bpm", as_tempo("bpm", self.tempo_bpm))
        self._set("bars", as_bars("bars", self.bars))
        self._set("variant", as_int("variant", self.variant, 0, MAX_SEED))


@dataclass(frozen=True)
class Morph(Request):
    seed_a: int | None
    seed_b: int | None
    t: float                         # 0 = seed_a's bar, 1 = seed_b's bar
    tempo_bpm: float | None = None
    bars: int = 1

    OSC_ARGS = (("seed_a", "i"), ("seed_b", "i"), ("t", "f"), ("tempo_bpm", "f"), ("bars", "i"))
    OSC_REQUIRED = 3
    generates = True

    def __post_init__(self):
        self._set("seed_a", as_seed("seed_a", self.seed_a))
        self._set("seed_b", as_seed("seed_b", self.seed_b))
        self._set("t", as_float("t", self.t, 0.0, 1.0))
        self._set("tempo_bpm", as_tempo("bpm", self.tempo_bpm))
        self._set("bars", as_bars("bars", self.bars))


@dataclass(frozen=True)
class Tempo(Request):
    tempo_bpm: float | None          # None (wire 0) = forget the OSC tempo, fall back to MIDI/Link

    OSC_ARGS = (("tempo_bpm", "f"),)
    OSC_REQUIRED = 1

    def __post_init__(self):
        if self.tempo_bpm is None:
            raise TypeError("missing bpm")
        self._set("tempo_bpm", as_tempo("bpm", self.tempo_bpm))


@dataclass(frozen=True)
class Mode(Request):
    mode: str                        # how a bar is fitted to the tempo

    OSC_ARGS = (("mode", "s"),)
    OSC_REQUIRED = 1

    def __post_init__(self):
        if not isinstance(self.mode, str):
            raise TypeError(f"mode must be a string ({'|'.join(MODES)}), "
                            f"got {type(self.mode).__name__} {_short(self.mode)}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {'|'.join(MODES)}, got {_short(self.mode)}")


@dataclass(frozen=True)
class Truncation(Request):
    truncation: float | None         # psi; None (wire 0) = back to the model card's default

    OSC_ARGS = (("truncation", "f"),)
    OSC_REQUIRED = 1

    def __post_init__(self):
        if self.truncation is None:
            return
        psi = float(_number("truncation", self.truncation, "a number"))
        if psi != MODEL_TRUNCATION:
            lo, hi = TRUNCATION_RANGE
            psi = as_float("truncation", psi, lo, hi, " (0 = the model's default, 1 = none)")
        self._set("truncation", None if psi == MODEL_TRUNCATION else psi)


@dataclass(frozen=True)
class Stems(Request):
    state: int                       # 1 = write one WAV per voice next to each loop, 0 = not

    OSC_ARGS = (("state", "i"),)
    OSC_REQUIRED = 1

    def __post_init__(self):
        self._set("state", as_int("state", self.state, 0, 1, " (1 = on, 0 = off)"))


@dataclass(frozen=True)
class Midi(Request):
    state: int                       # 1 = write the loop's pattern as a .mid next to it, 0 = not

    OSC_ARGS = (("state", "i"),)
    OSC_REQUIRED = 1

    def __post_init__(self):
        self._set("state", as_int("state", self.state, 0, 1, " (1 = on, 0 = off)"))


@dataclass(frozen=True)
class Slot(Request):
    slot: int                        # 0..11
    seed: int | None = None          # None = the last seed this daemon generated

    OSC_ARGS = (("slot", "i"), ("seed", "i"))
    OSC_REQUIRED = 1

    def __post_init__(self):
        self._set("slot", as_int("slot", self.slot, 0, SLOTS - 1))
        self._set("seed", as_seed("seed", self.seed))


@dataclass(frozen=True)
class Ping(Request):
    token: int | None = None         # echoed in the pong, so a client can match replies

    OSC_ARGS = (("token", "i"),)

    def __post_init__(self):
        if self.token is not None:
            self._set("token", as_int("token", self.token, -2**31, 2**31 - 1))


@dataclass(frozen=True)
class Play(Request):
    state: int = 1                   # 1 = play, 0 = stop (REAPER's play toggle sends 1.0 / 0.0)

    OSC_ARGS = (("state", "i"),)

    def __post_init__(self):
        self._set("state", as_int("state", self.state, 0, 1, " (1 = play, 0 = stop)"))


@dataclass(frozen=True)
class Stop(Request):
    pass


@dataclass(frozen=True)
class Status(Request):
    pass
