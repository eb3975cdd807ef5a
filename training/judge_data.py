"""The judge's own training bars: one 4/4 bar per example, rendered in memory from every usable
Hydrogen kit, in every render-kit style, at several tempos, each fitted to the model bar.

Every bar is float32 (2, 28224) at 14.7 kHz: one bar at 125 bpm. A bar rendered at another tempo
is resampled to 28224 samples, so the sixteenth-note lines stay where they are (the judge compares
bars in musical time). Its targets come from the sequencer, not from any dataset's labels:

- kit (every usable kit), style, tempo class, bus mode (one class each);
- the pattern: per role group (kick, snare/clap, hats, perc/tom/cymbal) and per sixteenth step,
  whether a hit starts there (the role the kit actually played, after render-kit's fallbacks).

Deterministic: bar i depends only on (seed, i) and the kits, as in `render-kit`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from beatgan.generator.musical_time import frames

SAMPLE_RATE = 14700          # Hz, the model rate
TEMPO_BPM = 125.0            # the model tempo: every bar is fitted to it
BAR_SAMPLES = 28224          # one 4/4 bar at 125 bpm and 14.7 kHz
STEPS = 16                   # sixteenth notes per bar
# Role groups of the onset targets: what a listener tells apart in a groove.
ROLE_GROUPS = ("kick", "backbeat", "hats", "perc")
_GROUP_OF = {"kick": 0, "snare": 1, "clap": 1, "closed_hat": 2, "open_hat": 2,
             "perc": 3, "tom": 3, "cymbal": 3}
BUS_CLASSES = ("none", "glue", "drive")
MAX_PEAK = 0.995             # as prepare: resampled bars louder than this are scaled down


@dataclass(frozen=True)
class JudgeDataConfig:
    bars_per_kit_style: int = 48                 # bars for each (kit, style) pair
    seed: int = 21                               # render seed: bar i uses rng [seed, i]
    tempos_bpm: tuple[float, ...] = (110.0, 117.0, 125.0, 132.0, 140.0)  # one drawn per bar
    styles: tuple[str, ...] = ("house", "techno", "breaks", "electro")
    kits: tuple[str, ...] | None = None          # Hydrogen kit folder names; None = every usable kit
    heldout_every: int = 10                      # every 10th round of (kit, style) pairs is held out
    max_oneshot_s: float = 2.0                   # as render-kit


@dataclass
class JudgeData:
    audio: np.ndarray            # float32 (N, 2, BAR_SAMPLES)
    onsets: np.ndarray           # float32 (N, len(ROLE_GROUPS), STEPS): 1 = a hit starts there
    labels: dict[str, np.ndarray]  # kit, style, tempo, bus -> int64 (N,)
    classes: dict[str, list]       # the class names per label kind
    heldout: np.ndarray          # bool (N,)
    kits: list[dict] = field(default_factory=list)        # manifest entries (name, licence, ...)
    kits_left_out: list[dict] = field(default_factory=list)

    def digest(self) -> str:
        """sha256 over the rendered audio and every target: two builds that render the same bars
        (same kits, same soxr and pedalboard) agree here."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.audio).tobytes())
        h.update(np.ascontiguousarray(self.onsets).tobytes())
        for k in sorted(self.labels):
            h.update(np.ascontiguousarray(self.labels[k]).tobytes())
        h.update(np.ascontiguousarray(self.heldout).tobytes())
        return h.hexdigest()


def played_role(loaded, role: str) -> str | None:
    """The role render-kit's renderer actually plays for a pattern role (its fallbacks)."""
    from .render_kit import _FALLBACK
    for r in (role,) + _FALLBACK.get(role, ()):
        if loaded.voices.get(r):
            return r
    return None


def onset_grid(pattern, loaded) -> np.ndarray:
    """(len(ROLE_GROUPS), STEPS) hits of a one-bar pattern, by the role group actually played."""
    grid = np.zeros((len(ROLE_GROUPS), STEPS), np.float32)
    for role, t in zip(pattern.roles, pattern.time_beats):
        played = played_role(loaded, role)
        if played is None:
            continue
        step = int(round(float(t) * 4.0)) % STEPS   # swing and humanising stay on their step
        grid[_GROUP_OF[played], step] = 1.0
    return grid


def fit_bar(audio: np.ndarray, bar_samples: int = BAR_SAMPLES) -> np.ndarray:
    """Resample (C, n) audio holding exactly one bar to `bar_samples` (soxr VHQ, as prepare)."""
    import soxr
    n = audio.shape[-1]
    if n == bar_samples:
        return np.ascontiguousarray(audio, np.float32)
    y = soxr.resample(np.ascontiguousarray(audio.T, np.float32), n, bar_samples, quality="VHQ").T
    if y.shape[1] < bar_samples:
        y = np.pad(y, ((0, 0), (0, bar_samples - y.shape[1])))
    y = y[:, :bar_samples]
    peak = float(np.max(np.abs(y)))
    if peak > MAX_PEAK:  # resampling rings over a peak-normalised transient: as prepare, scale down
        y = y * (MAX_PEAK / peak)
    return np.ascontiguousarray(y, np.float32)


def load_kits(names=None, root=None, max_oneshot_s: float = 2.0):
    """(loaded kits, left out) for the Hydrogen kits `names` (None = every kit under root)."""
    from . import kit as kitmod
    kits = kitmod.find_kits(list(names) if names else ["all"], root or kitmod.DRUMKITS_ROOT)
    usable, left_out = [], []
    for k in kits:
        missing = k.missing_roles()
        if missing:
            left_out.append({"kit": k.name, "reason": f"no {', '.join(missing)} instrument"})
            continue
        loaded = kitmod.load_kit(k, SAMPLE_RATE, max_oneshot_s)
        if "kick" not in loaded.voices or not any(r in loaded.voices for r in ("snare", "clap")):
            left_out.append({"kit": k.name, "reason": "its kick/snare samples could not be read"})
            continue
        usable.append(loaded)
    if not usable:
        raise ValueError("no usable Hydrogen kit (install Debian's hydrogen-drumkits and "
                         "hydrogen-data: scripts/setup.sh --test does)")
    return usable, left_out


def render_bar(loaded, style: str, tempo_bpm: float, rng: np.random.Generator,
               bus: str = "random") -> tuple[np.ndarray, np.ndarray, str]:
    """One bar of `style` played by `loaded` at `tempo_bpm`, fitted to the model bar.
    Returns (audio (2, BAR_SAMPLES), onsets (groups, STEPS), bus mode used)."""
    from . import patterns
    from .render_kit import render_loop
    pattern = patterns.sequence(style, rng, 1, tempo_bpm)
    audio, info = render_loop(loaded, pattern, tempo_bpm, rng, SAMPLE_RATE, bus)
    assert audio.shape[1] == frames(4, tempo_bpm, SAMPLE_RATE), audio.shape
    return fit_bar(audio), onset_grid(pattern, loaded), info["bus"]


def heldout_round(i: np.ndarray, n_kits: int, n_styles: int) -> np.ndarray:
    """The round of bar i: how many times its (kit, style) pair came before it."""
    return np.asarray(i) // (n_kits * n_styles)


def render_judge_data(config: JudgeDataConfig = JudgeDataConfig(), loaded=None,
                      left_out=None) -> JudgeData:
    """Every (kit, style) pair `bars_per_kit_style` times; bar i gets rng [seed, i]."""
    if loaded is None:
        loaded, left_out = load_kits(config.kits, max_oneshot_s=config.max_oneshot_s)
    n_kits, n_styles = len(loaded), len(config.styles)
    n = n_kits * n_styles * config.bars_per_kit_style
    audio = np.zeros((n, 2, BAR_SAMPLES), np.float32)
    onsets = np.zeros((n, len(ROLE_GROUPS), STEPS), np.float32)
    labels = {k: np.zeros(n, np.int64) for k in ("kit", "style", "tempo", "bus")}
    for i in range(n):
        rng = np.random.default_rng([config.seed, i])
        style_i = i % n_styles
        kit_i = (i // n_styles) % n_kits
        tempo_i = int(rng.integers(len(config.tempos_bpm)))
        audio[i], onsets[i], bus = render_bar(loaded[kit_i], config.styles[style_i],
                                              config.tempos_bpm[tempo_i], rng)
        labels["kit"][i], labels["style"][i], labels["tempo"][i] = kit_i, style_i, tempo_i
        labels["bus"][i] = BUS_CLASSES.index(bus)
    classes = {"kit": [lk.kit.name for lk in loaded], "style": list(config.styles),
               "tempo": [float(t) for t in config.tempos_bpm], "bus": list(BUS_CLASSES)}
    # Bar i is round i // (kits x styles) of its (kit, style) pair: holding out whole rounds keeps
    # every kit and style in both splits, with patterns and mixes the training never saw.
    heldout = (heldout_round(np.arange(n), n_kits, n_styles) % config.heldout_every) == 0
    kits = [{"name": lk.kit.name, "title": lk.kit.title, "author": lk.kit.author,
             "licence": lk.kit.licence, "licence_source": lk.kit.licence_source} for lk in loaded]
    return JudgeData(audio, onsets, labels, classes, heldout, kits, list(left_out or []))


def real_bars(n: int, seed: int, kits=None, styles=("house", "techno", "breaks", "electro"),
              tempos_bpm=(124.0, 125.0), noise_lsb24: int = 10000, loaded=None) -> np.ndarray:
    """n bars the way `render-kit` + `prepare` make the standard dataset (default kits, 124/125
    bpm fitted to 125, the dataset's uniform noise), rendered in memory: for tests and probes.
    Bar i gets rng [seed, i], style i % styles, kit (i // styles) % kits."""
    from . import kit as kitmod
    if loaded is None:
        loaded, _ = load_kits(kits or kitmod.DEFAULT_KITS)
    out = np.zeros((n, 2, BAR_SAMPLES), np.float32)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        lk = loaded[(i // len(styles)) % len(loaded)]
        tempo = float(tempos_bpm[int(rng.integers(len(tempos_bpm)))])
        out[i] = render_bar(lk, styles[i % len(styles)], tempo, rng)[0]
        if noise_lsb24:
            out[i] += rng.integers(-noise_lsb24, noise_lsb24, out[i].shape) / np.float32(2 ** 23)
    return out
