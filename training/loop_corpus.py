"""A corpus of drum loops with known hit times, for measuring the renderer (docs/render.md).

    from beatgan.training.loop_corpus import corpus
    for loop in corpus():                 # eight loops, the same for the same seed
        loop.bar                          # (channels, loop.card.bar_samples) float32 at 14.7 kHz
        loop.card                         # sample_rate, tempo_bpm (124 or 125), beats_per_bar, bar_samples
        loop.hits                         # every hit: its source sample, role, level, one-shot

Each loop is one bar assembled from recorded one-shots of Debian's Hydrogen drum kits
(`hydrogen-drumkits`, `hydrogen-data`; loaded with `training.kit`), not from the model, with
what real loops have and the renderer must survive: human timing (every hit jittered off the
sixteenth grid), flams and close double hits (a weak hit, then a strong one 10-20 ms later),
sustained cymbals and open hats under other hits, ghost notes, mono and stereo. Every hit's
time is the sample where its one-shot starts in the bar (a one-shot starts 1 ms before its
attack, see `kit.read_oneshot`), so a measurement can compare an output with where each hit
belongs. A tail that runs past the bar's end wraps to its start, as the loop sounds when it
repeats.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beatgan.generator.musical_time import frames

from .kit import DRUMKITS_ROOT, find_kits, read_oneshot

SAMPLE_RATE = 14700      # Hz: the model's rate
MAX_SHOT_S = 1.8         # longest one-shot kept, seconds (under a bar, so a cymbal wraps once)
PEAK = 0.9               # the bar's peak, linear
ATTACK_DB = -20.0        # a hit's attack starts where its one-shot first reaches this re its peak


@dataclass(frozen=True)
class LoopCard:
    """What the renderer reads from a ModelCard: the bar's rate, tempo and beats."""
    sample_rate: int = SAMPLE_RATE     # Hz
    tempo_bpm: float = 125.0           # the loop's own tempo
    beats_per_bar: int = 4

    @property
    def bar_samples(self) -> int:
        return frames(self.beats_per_bar, self.tempo_bpm, self.sample_rate)


@dataclass(frozen=True)
class Hit:
    time: int                # source sample where the one-shot starts, 0 <= time < bar_samples
    role: str                # kick, snare, closed_hat, ...
    instrument: str          # the kit's instrument name
    level_db: float          # the one-shot's peak in the bar, dBFS
    shot: np.ndarray         # (channels, n) float32: the one-shot exactly as mixed into the bar
    weak_lead: bool = False  # the weak first stroke of a flam or close double hit

    @property
    def attack(self) -> int:
        """Source sample where the hit's attack starts: its one-shot first reaches ATTACK_DB
        under its own peak (a one-shot starts a little before its attack), modulo the bar is
        the caller's business."""
        env = np.max(np.abs(self.shot), axis=0)
        return self.time + int(np.argmax(env >= env.max() * 10.0 ** (ATTACK_DB / 20.0)))


@dataclass(frozen=True)
class CorpusLoop:
    name: str
    description: str
    kit: str                 # the Hydrogen kit's folder name
    card: LoopCard
    bar: np.ndarray          # (channels, bar_samples) float32, peak PEAK
    hits: tuple[Hit, ...]    # sorted by time

    @property
    def times(self) -> np.ndarray:
        """(H,) source samples where the hits' one-shots start."""
        return np.array([h.time for h in self.hits], dtype=np.int64)

    @property
    def attacks(self) -> np.ndarray:
        """(H,) source samples where the hits' attacks start, in [0, bar_samples)."""
        return np.array([h.attack for h in self.hits], dtype=np.int64) % self.card.bar_samples


# ---- the loops ----
# A recipe: kit, tempo, channels, timing jitter (std, ms), and its hits as
# (sixteenth step, instrument, velocity 0..1, pan -1..1). A flam is ("flam", step, instrument,
# velocity, pan, grace_instrument, grace_db): a weak stroke grace_db under the main one,
# 10-20 ms before it (drawn from the seed).

def _eighths(inst, vel, pan, accent=1.0):
    return [(s, inst, vel * (accent if s % 4 == 0 else 1.0), pan) for s in range(0, 16, 2)]


def _sixteenths(inst, vels, pan):
    return [(s, inst, vels[s % len(vels)], pan) for s in range(16)]


RECIPES: dict[str, dict] = {
    "rock": dict(
        kit="GMRockKit", tempo=125.0, channels=2, jitter_ms=4.0,
        text="rock beat, stereo kit, ghost snare, open hat",
        hits=[(0, "Kick", 1.0, 0.0), (7, "Kick", 0.7, 0.0), (8, "Kick", 0.95, 0.0),
              (10, "Kick", 0.8, 0.0), (4, "Snare", 1.0, -0.1), (12, "Snare", 1.0, -0.1),
              (15, "Snare", 0.3, -0.1), *_eighths("Hat Closed", 0.6, 0.4, accent=1.3)[:7],
              (14, "Hat Open", 0.7, 0.4)]),
    "breaks-flams": dict(
        kit="VariBreaks", tempo=124.0, channels=1, jitter_ms=6.0,
        text="break, mono, flammed snares, ghost notes, loose timing",
        hits=[(0, "VariBreaks Kick 1", 1.0, 0), (3, "VariBreaks Kick 1", 0.6, 0),
              (10, "VariBreaks Kick 1", 0.9, 0), (11, "VariBreaks Kick 1", 0.7, 0),
              ("flam", 4, "VariBreaks Snare 1", 1.0, 0, "VariBreaks Snare 1", -14.0),
              ("flam", 12, "VariBreaks Snare 1", 1.0, 0, "VariBreaks Snare 1", -18.0),
              (7, "VariBreaks Snare 2", 0.3, 0), (9, "VariBreaks Snare 2", 0.35, 0),
              *_sixteenths("VariBreaks Hat 1 Cl", [0.7, 0.3, 0.5, 0.3], 0)]),
    "crash-ride": dict(
        kit="The Black Pearl 1.0", tempo=125.0, channels=2, jitter_ms=3.0,
        text="crash on the one ringing through the bar, ride on quarters, quiet hats under it",
        hits=[(0, "Sabian Crash", 1.0, -0.5), *[(s, "Paiste Ride", 0.6, 0.5) for s in (4, 8, 12)],
              (0, "Pearl Kick", 1.0, 0), (6, "Pearl Kick", 0.7, 0), (8, "Pearl Kick", 0.9, 0),
              (4, "Pearl Snare", 0.95, -0.1), (12, "Pearl Snare", 1.0, -0.1),
              *[(s, "Sabian Hat Pedal", 0.4, 0.3) for s in (2, 6, 10, 14)]]),
    "electro-doubles": dict(
        kit="HardElectro1", tempo=124.0, channels=1, jitter_ms=2.0,
        text="electro, mono, long kicks, each clap led by a weak hat 10-20 ms before it",
        hits=[(0, "Kick 1", 1.0, 0), (6, "Kick 1", 0.8, 0), (10, "Kick 1", 0.9, 0),
              ("flam", 4, "Clap 1", 1.0, 0, "Closed HH 2", -16.0),
              ("flam", 12, "Clap 1", 1.0, 0, "Closed HH 2", -22.0),
              *_sixteenths("Closed HH 1", [0.5, 0.25, 0.7, 0.25], 0), (14, "Open HH", 0.6, 0)]),
    "toms-stereo": dict(
        kit="ForzeeStereo", tempo=125.0, channels=2, jitter_ms=5.0,
        text="stereo-recorded kit, crash/ride wash, a tom fill of sixteenths",
        hits=[(0, "Crash/Ride (Paiste Rude Crash/Ride 18\")", 0.8, 0.0),
              (0, "Kick (Tama Superstar 22\")", 1.0, 0), (8, "Kick (Tama Superstar 22\")", 0.9, 0),
              (4, "Snare (Pearl Free Floating Maple 14x3.5)", 1.0, 0),
              *[(s, "Hi-Hat Closed (Paiste Alpha Metal edge 14\")", 0.5, 0) for s in (2, 4, 6, 8, 10)],
              (12, "Tom High (Tama Superstar 12\")", 0.9, 0),
              (13, "Tom High (Tama Superstar 12\")", 0.7, 0),
              (14, "Tom Mid (Tama Superstar 13\")", 0.9, 0),
              (15, "Tom Low (Tama Superstar 16\")", 1.0, 0)]),
    "808-sparse": dict(
        kit="TR808EmulationKit", tempo=125.0, channels=2, jitter_ms=1.0,
        text="sparse 808, long kick and open hat, cowbell and clave",
        hits=[(0, "Kick Long", 1.0, 0), (11, "Kick Long", 0.8, 0), (4, "Snare 1", 0.9, -0.2),
              (12, "Clap", 0.9, 0.2), (6, "Cowbell", 0.5, 0.6), (9, "Clave", 0.6, -0.6),
              (2, "Open Hat", 0.6, 0.4), (10, "Open Hat", 0.6, 0.4),
              ("flam", 14, "Closed Hat", 0.7, 0.4, "Closed Hat", -12.0)]),
    "djembe": dict(
        kit="circAfrique v4", tempo=124.0, channels=1, jitter_ms=7.0,
        text="hand drums, mono, slaps and bass tones, double strokes, loose timing",
        hits=[(0, "Djembe1 Bass", 1.0, 0), (3, "Djembe1 Tone", 0.6, 0), (4, "Djembe1 Slap", 0.9, 0),
              (6, "Djembe1 Tone", 0.7, 0), (7, "Djembe1 Tone", 0.5, 0), (8, "Djembe1 Bass", 0.9, 0),
              ("flam", 10, "Djembe1 Slap", 1.0, 0, "Djembe1 Slap", -12.0), (11, "Djembe1 Tone", 0.5, 0),
              (12, "Djembe1 Slap", 0.8, 0), (14, "Djembe1 Tone", 0.7, 0), (15, "Djembe1 Slap", 0.6, 0),
              *[(s, "Djembe2 Tone", 0.35, 0) for s in (1, 5, 9, 13)]]),
    "house-openhats": dict(
        kit="ElectricEmpireKit", tempo=125.0, channels=2, jitter_ms=1.5,
        text="house, four on the floor, open hats ringing on the off-beats, clap doubles",
        hits=[*[(s, "Kick Power", 1.0, 0) for s in (0, 4, 8, 12)],
              *[(s, "Hat Op Dirty", 0.6, 0.3) for s in (2, 6, 10, 14)],
              ("flam", 4, "Clap", 0.9, -0.2, "Clap", -10.0),
              ("flam", 12, "Clap", 0.9, -0.2, "Hat Closed Bs", -18.0),
              *[(s, "Hat Closed Bs", 0.35, 0.5) for s in (1, 3, 5, 7, 9, 11, 13, 15)],
              (7, "Conga 1", 0.5, -0.5), (15, "Conga 2", 0.45, -0.5)]),
}
NAMES = tuple(RECIPES)


def available(root: str | Path = DRUMKITS_ROOT) -> str | None:
    """None when every kit the corpus needs is installed, else a line that says what is missing."""
    root = Path(root)
    missing = sorted({r["kit"] for r in RECIPES.values()} - {p.parent.name
                                                              for p in root.glob("*/drumkit.xml")})
    if missing:
        return (f"the loop corpus needs the Hydrogen kits {', '.join(missing)} under {root} "
                "(apt-get install hydrogen-drumkits hydrogen-data)")
    return None


def corpus(seed: int = 0, names: tuple[str, ...] = NAMES,
           root: str | Path = DRUMKITS_ROOT) -> tuple[CorpusLoop, ...]:
    """The corpus loops `names`, built from the seed (the same seed gives the same bars)."""
    return tuple(_build(name, seed, str(root)) for name in names)


@functools.lru_cache(maxsize=64)
def _build(name: str, seed: int, root: str) -> CorpusLoop:
    r = RECIPES[name]
    kit = find_kits([r["kit"]], root)[0]
    by_name = {inst.name: inst for inst in kit.instruments}
    card = LoopCard(tempo_bpm=float(r["tempo"]))
    sr, b, c = card.sample_rate, card.bar_samples, int(r["channels"])
    rng = np.random.default_rng([seed, NAMES.index(name)])
    step = b / 16.0
    ms = sr / 1000.0

    def shot(inst_name: str, velocity: float, pan: float) -> np.ndarray:
        inst = by_name[inst_name]
        x = _oneshot(inst, velocity, sr)                               # (2, n) peak 1
        gain = velocity * inst.volume
        if c == 1:
            return (gain * x.mean(axis=0, keepdims=True)).astype(np.float32)
        a = 0.25 * math.pi * (pan + 1.0)                              # constant-power pan
        return (gain * math.sqrt(2.0) * x * np.array([[math.cos(a)], [math.sin(a)]])).astype(np.float32)

    placed: list[tuple[int, str, str, np.ndarray, bool]] = []
    for item in r["hits"]:
        jitter = int(round(rng.normal(0.0, r["jitter_ms"]) * ms))
        if item[0] == "flam":
            _, s, inst, vel, pan, grace, grace_db = item
            t = int(round(s * step)) + jitter
            gap = int(round(rng.uniform(10.0, 20.0) * ms))
            placed.append((t, by_name[inst].role, inst, shot(inst, vel, pan), False))
            g = shot(grace, vel, pan)
            g *= 10.0 ** (grace_db / 20.0) * np.max(np.abs(placed[-1][3])) / np.max(np.abs(g))
            placed.append((t - gap, by_name[grace].role, grace, g, True))
        else:
            s, inst, vel, pan = item
            placed.append((int(round(s * step)) + jitter, by_name[inst].role, inst,
                           shot(inst, vel, pan), False))

    bar = np.zeros((c, b), dtype=np.float64)
    for t, _, _, x, _ in placed:
        idx = (t + np.arange(x.shape[1])) % b     # the tail wraps (a shot is under a bar long)
        bar[:, idx] += x
    scale = PEAK / float(np.max(np.abs(bar)))
    hits = sorted((Hit(t % b, role, inst, 20.0 * math.log10(scale * float(np.max(np.abs(x)))),
                       (scale * x).astype(np.float32), weak)
                   for t, role, inst, x, weak in placed), key=lambda h: (h.time, -h.level_db))
    return CorpusLoop(name, r["text"], r["kit"], card, (scale * bar).astype(np.float32), tuple(hits))


def _oneshot(inst, velocity: float, sr: int) -> np.ndarray:
    """The instrument's layer for this velocity (nearest when no range holds it), as
    `kit.read_oneshot` loads it: (2, n) float32, peak 1, starting 1 ms before its attack."""
    inside = [la for la in inst.layers if la.min_velocity <= velocity <= la.max_velocity]
    layer = inside[0] if inside else min(
        inst.layers, key=lambda la: abs(0.5 * (la.min_velocity + la.max_velocity) - velocity))
    return _read(layer.path, sr) * layer.gain


@functools.lru_cache(maxsize=256)
def _read(path: Path, sr: int) -> np.ndarray:
    return read_oneshot(path, sr, MAX_SHOT_S)
