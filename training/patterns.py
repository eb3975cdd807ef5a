"""An EDM drum sequencer: one-bar grooves per style, repeated over a few bars with variation.

A groove is a grid of 16 sixteenth-note steps per bar and one velocity (0..1, 0 = rest) per role
and step. `sequence` turns it into hits (role, time in beats, velocity) with swing on the odd
sixteenths and humanised timing and velocity. The first bar is the plain groove (that is the bar
`prepare` keeps); later bars vary, and the last may end in a fill.

Roles are those of `kit.ROLES`; the renderer substitutes a kit's nearest role when one is missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STYLES = ("house", "techno", "breaks", "electro")
STEPS = 16  # sixteenth notes per 4/4 bar

# Per style: swing range (delay of the odd sixteenths, in sixteenths) and timing humanisation
# range (std in ms). Drum machines are tight; played breaks drift.
_FEEL = {
    "house": ((0.0, 0.16), (0.0, 2.0)),
    "techno": ((0.0, 0.05), (0.0, 1.5)),
    "breaks": ((0.0, 0.20), (2.0, 7.0)),
    "electro": ((0.0, 0.08), (0.0, 1.5)),
}


@dataclass(frozen=True)
class Pattern:
    style: str
    bars: int
    beats_per_bar: int
    roles: tuple[str, ...]     # per hit
    time_beats: np.ndarray     # (hits,) float64, from the loop start; may be slightly < 0 or past the end
    velocity: np.ndarray       # (hits,) float32 in (0, 1]
    swing: float               # delay of odd sixteenths, in sixteenths
    humanise_ms: float         # std of the timing jitter

    @property
    def length_beats(self) -> float:
        return float(self.bars * self.beats_per_bar)


def _grid() -> dict[str, np.ndarray]:
    return {}


def _put(grid: dict[str, np.ndarray], role: str, steps, velocity) -> None:
    row = grid.setdefault(role, np.zeros(STEPS, np.float32))
    vel = np.broadcast_to(np.asarray(velocity, np.float32), (len(steps),))
    row[list(steps)] = vel


def _hats16(rng: np.random.Generator, base: float) -> np.ndarray:
    # Sixteenths with the off-beat eighth accented, the usual drum-machine hat accent pattern.
    accent = np.tile(np.array([0.55, 0.4, 0.9, 0.4], np.float32), 4)
    return np.clip(accent * base + rng.normal(0, 0.03, STEPS), 0.1, 1).astype(np.float32)


def _house(rng: np.random.Generator) -> dict[str, np.ndarray]:
    g = _grid()
    _put(g, "kick", [0, 4, 8, 12], 1.0)
    _put(g, str(rng.choice(["clap", "clap", "snare"])), [4, 12], 0.9)
    if rng.random() < 0.7:
        _put(g, "open_hat", [2, 6, 10, 14], 0.75)
        if rng.random() < 0.5:
            hats = _hats16(rng, 0.6)
            hats[[2, 6, 10, 14]] = 0
            g["closed_hat"] = hats
    else:
        _put(g, "closed_hat", [2, 6, 10, 14], 0.8)
        if rng.random() < 0.5:
            _put(g, "closed_hat", [1, 3, 5, 7, 9, 11, 13, 15], 0.4)
    if rng.random() < 0.6:
        steps = rng.choice([3, 7, 11, 13, 15, 6, 14], size=int(rng.integers(2, 5)), replace=False)
        _put(g, "perc", sorted(steps), rng.uniform(0.5, 0.8, len(steps)))
    if rng.random() < 0.2:
        _put(g, "cymbal", [2, 6, 10, 14], 0.5)
    return g


def _techno(rng: np.random.Generator) -> dict[str, np.ndarray]:
    g = _grid()
    _put(g, "kick", [0, 4, 8, 12], 1.0)
    if rng.random() < 0.2:
        _put(g, "kick", [int(rng.choice([14, 15, 7]))], 0.6)
    if rng.random() < 0.7:
        g["closed_hat"] = _hats16(rng, 0.7)
    else:
        _put(g, "closed_hat", [0, 2, 4, 6, 8, 10, 12, 14], [0.5, 0.9] * 4)
    if rng.random() < 0.6:
        _put(g, "open_hat", [2, 6, 10, 14], 0.7)
        if "closed_hat" in g:
            g["closed_hat"][[2, 6, 10, 14]] = 0
    if rng.random() < 0.7:
        _put(g, str(rng.choice(["clap", "snare"])), [4, 12], 0.8)
    if rng.random() < 0.35:
        _put(g, "cymbal", [2, 6, 10, 14] if rng.random() < 0.5 else [0, 4, 8, 12], 0.45)
    if rng.random() < 0.5:
        # A three-step cycle against the four-step kick: the classic techno polyrhythm.
        offset = int(rng.integers(0, 3))
        steps = [s for s in range(offset, STEPS, 3)]
        _put(g, str(rng.choice(["perc", "tom"])), steps, rng.uniform(0.45, 0.75, len(steps)))
    return g


# Classic break skeletons: (kick steps, snare steps, ghost snare steps).
_BREAKS = (
    ([0, 2, 10, 11], [4, 12], [7, 9, 15]),        # amen-like
    ([0, 3, 6, 10, 13], [4, 12], [7, 9, 11]),     # funky-drummer-like
    ([0, 6, 10], [4, 12], [3, 15]),               # think-like
    ([0, 10], [4, 12], [7, 14]),                  # two-step
    ([0, 2, 7, 10], [4, 12], [9, 15]),            # hip-hop-ish
)


def _breaks(rng: np.random.Generator) -> dict[str, np.ndarray]:
    g = _grid()
    kicks, snares, ghosts = _BREAKS[int(rng.integers(len(_BREAKS)))]
    _put(g, "kick", kicks, rng.uniform(0.8, 1.0, len(kicks)))
    _put(g, "snare", snares, rng.uniform(0.85, 1.0, len(snares)))
    ghosts = [s for s in ghosts if rng.random() < 0.7]
    if ghosts:
        _put(g, "snare", ghosts, rng.uniform(0.2, 0.4, len(ghosts)))
    if rng.random() < 0.75:
        eighths = list(range(0, STEPS, 2))
        _put(g, "closed_hat", eighths, [0.8, 0.55] * 4)
        if rng.random() < 0.4:
            _put(g, "closed_hat", list(range(1, STEPS, 2)), 0.3)
    else:
        _put(g, "cymbal", list(range(0, STEPS, 2)), [0.6, 0.45] * 4)
    if rng.random() < 0.35:
        step = int(rng.choice([6, 14, 10]))
        _put(g, "open_hat", [step], 0.7)
        if "closed_hat" in g:
            g["closed_hat"][step] = 0
    return g


_ELECTRO_KICKS = ([0, 6, 10], [0, 3, 10, 11], [0, 7, 10, 13], [0, 3, 8, 11], [0, 6, 9, 14])


def _electro(rng: np.random.Generator) -> dict[str, np.ndarray]:
    g = _grid()
    kicks = _ELECTRO_KICKS[int(rng.integers(len(_ELECTRO_KICKS)))]
    _put(g, "kick", kicks, 1.0)
    _put(g, str(rng.choice(["clap", "snare"])), [4, 12], 0.9)
    if rng.random() < 0.6:
        g["closed_hat"] = _hats16(rng, 0.65)
    else:
        _put(g, "closed_hat", list(range(0, STEPS, 2)), 0.7)
    if rng.random() < 0.5:
        steps = sorted(rng.choice([2, 5, 7, 11, 13, 14, 15], size=int(rng.integers(2, 4)), replace=False))
        _put(g, "perc", steps, rng.uniform(0.5, 0.8, len(steps)))
    if rng.random() < 0.3:
        _put(g, "open_hat", [14], 0.7)
        g["closed_hat"][14] = 0
    if rng.random() < 0.3:
        _put(g, "tom", [int(rng.choice([13, 14, 15]))], 0.7)
    return g


_GROOVES = {"house": _house, "techno": _techno, "breaks": _breaks, "electro": _electro}


def groove(style: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One bar: role -> (16,) velocities (0 = rest)."""
    if style not in _GROOVES:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    return _GROOVES[style](rng)


def _vary(bar: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A later bar: the groove with a few hits dropped or added, never on the kick's downbeats."""
    out = {r: v.copy() for r, v in bar.items()}
    for role, row in out.items():
        if role == "kick":
            continue
        hits = np.nonzero(row)[0]
        if len(hits) > 2 and rng.random() < 0.25:
            row[rng.choice(hits)] = 0
        if rng.random() < 0.2:
            rests = np.nonzero(row == 0)[0]
            if len(rests):
                row[rng.choice(rests)] = rng.uniform(0.25, 0.6)
    return out


def _fill(bar: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The last beat as a fill: a snare roll or falling toms."""
    out = {r: v.copy() for r, v in bar.items()}
    role = "tom" if rng.random() < 0.4 else "snare"
    row = out.setdefault(role, np.zeros(STEPS, np.float32))
    row[12:16] = np.linspace(0.5, 0.95, 4)
    for other in ("clap", "closed_hat", "open_hat"):
        if other in out and other != role:
            out[other][13:16] = 0
    return out


def sequence(style: str, rng: np.random.Generator, bars: int = 4, tempo_bpm: float = 125.0,
             beats_per_bar: int = 4, fill_probability: float = 0.4) -> Pattern:
    """Sequence `bars` bars of `style` at `tempo_bpm` (the tempo turns humanisation ms into beats)."""
    if beats_per_bar != 4:
        raise ValueError(f"the EDM grooves are in 4/4, got beats_per_bar={beats_per_bar}")
    if bars < 1:
        raise ValueError(f"bars must be >= 1, got {bars}")
    base = groove(style, rng)
    (swing_lo, swing_hi), (hum_lo, hum_hi) = _FEEL[style]
    swing = float(rng.uniform(swing_lo, swing_hi))
    humanise_ms = float(rng.uniform(hum_lo, hum_hi))
    grids = [base]
    for b in range(1, bars):
        bar = _vary(base, rng)
        if b == bars - 1 and rng.random() < fill_probability:
            bar = _fill(bar, rng)
        grids.append(bar)
    if rng.random() < 0.15:  # a crash on the loop's downbeat, as in loops cut from a track
        grids[0] = {r: v.copy() for r, v in grids[0].items()}
        grids[0].setdefault("cymbal", np.zeros(STEPS, np.float32))[0] = 0.8

    roles: list[str] = []
    steps: list[float] = []
    vels: list[float] = []
    for b, grid in enumerate(grids):
        for role in sorted(grid):
            hit_steps = np.nonzero(grid[role])[0]
            roles += [role] * len(hit_steps)
            steps += list(b * STEPS + hit_steps.astype(np.float64))
            vels += list(grid[role][hit_steps])
    step_arr = np.asarray(steps, np.float64)
    step_arr += swing * (step_arr % 2 == 1)
    ms_per_beat = 60000.0 / tempo_bpm
    # Kicks stay tighter than the rest: in a real groove everything else sits around the kick.
    tight = np.array([0.3 if r == "kick" else 1.0 for r in roles])
    jitter_beats = rng.normal(0.0, humanise_ms, len(roles)) * tight / ms_per_beat
    time_beats = step_arr / 4.0 + jitter_beats
    velocity = np.clip(np.asarray(vels, np.float32) * rng.normal(1.0, 0.06, len(roles)), 0.05, 1.0)
    order = np.argsort(time_beats, kind="stable")
    return Pattern(style, bars, beats_per_bar, tuple(roles[i] for i in order), time_beats[order],
                   velocity[order].astype(np.float32), swing, humanise_ms)
