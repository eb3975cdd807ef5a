"""`beatgan render-kit`: render a redistributable stand-in for a sample pack of EDM drum loops.

Real recorded one-shots (Debian's Hydrogen kits, or any folder of one-shots) are sequenced into
one-bar EDM grooves (`patterns.py`), mixed with panning and gain, optionally bus-processed,
peak-normalised to -1 dBFS and written as 44.1 kHz stereo 24-bit WAV loops of a few bars named
with their tempo (`0007_techno_HardElectro1_125bpm.wav`), plus `manifest.json` recording the kit,
its licence and the style of every loop. `beatgan prepare` takes the folder as it would a real
sample pack and reads the labels from the manifest.

Deterministic: loop i depends only on (seed, i) and the kits, not on how many loops you render.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from beatgan.generator.musical_time import exact_frames, frames

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
PEAK_DBFS = -1.0
MANIFEST = "manifest.json"
BUS_MODES = ("none", "glue", "drive", "random")

# Mix defaults per role: (gain dB, pan range). Pan -1 = left, +1 = right; each loop draws a pan
# in +-range (sign random) so hats and percussion spread like a real mix; kick and backbeat stay centred.
_MIX = {
    "kick": (0.0, 0.0),
    "snare": (-3.0, 0.08),
    "clap": (-3.0, 0.12),
    "closed_hat": (-10.0, 0.35),
    "open_hat": (-11.0, 0.35),
    "perc": (-10.0, 0.6),
    "tom": (-6.0, 0.4),
    "cymbal": (-14.0, 0.4),
}
# When a kit lacks a role, play the nearest one it has (none left -> the hits are dropped).
_FALLBACK = {
    "clap": ("snare",), "snare": ("clap",), "open_hat": ("closed_hat", "cymbal"),
    "closed_hat": ("open_hat", "cymbal"), "cymbal": ("open_hat", "closed_hat"),
    "tom": ("perc",), "perc": ("tom",), "kick": (),
}


@dataclass(frozen=True)
class RenderConfig:
    loops: int = 600                    # number of loops
    seed: int = 1
    bars: int = 4                       # bars per loop
    tempos_bpm: tuple[float, ...] = (124.0, 125.0)
    beats_per_bar: int = 4
    sample_rate: int = SAMPLE_RATE      # Hz
    styles: tuple[str, ...] = ("house", "techno", "breaks", "electro")
    bus: str = "random"                 # none | glue (compressor) | drive (compressor + saturation) | random
    peak_dbfs: float = PEAK_DBFS
    max_oneshot_s: float = 2.0          # longer one-shots (crashes) are faded out here


def _pick_voice(loaded, role: str, rng):
    for r in (role,) + _FALLBACK.get(role, ()):
        voices = loaded.voices.get(r)
        if voices:
            return r, voices[int(rng.integers(len(voices)))]
    return None, None


def render_loop(loaded, pattern, tempo_bpm: float, rng, sample_rate: int = SAMPLE_RATE,
                bus: str = "glue", peak_dbfs: float = PEAK_DBFS):
    """Mix `pattern` with the voices of `loaded` into float32 (2, n) at `sample_rate`.

    Returns (audio, info) where info names the instrument played per role and the mix settings.
    The loop is cyclic: tails past the end wrap to the start, as in a loop cut from a track.
    """
    import numpy as np

    n = frames(pattern.bars * pattern.beats_per_bar, tempo_bpm, sample_rate)
    out = np.zeros((2, n), np.float32)
    samples_per_beat = exact_frames(1, tempo_bpm, sample_rate)
    starts = np.round(pattern.time_beats * samples_per_beat).astype(np.int64) % n
    roles = np.asarray(pattern.roles)
    info: dict = {"instruments": {}, "gain_db": {}, "pan": {}}
    # Choke: an open hat stops at the next hat hit, as a hi-hat pedal closing does.
    hat_times = np.sort(starts[np.isin(roles, ["closed_hat", "open_hat"])])
    fade = int(0.01 * sample_rate)
    for role in sorted(set(pattern.roles)):
        played, voice = _pick_voice(loaded, role, rng)
        if voice is None:
            continue
        gain_db, pan_range = _MIX[played]
        gain_db += float(rng.uniform(-1.5, 1.5))
        pan = float(rng.uniform(0.3, 1.0) * pan_range * rng.choice([-1.0, 1.0]))
        # Constant-power pan law.
        angle = (pan + 1.0) * np.pi / 4.0
        lr = np.array([np.cos(angle), np.sin(angle)], np.float32)[:, None] * np.sqrt(2.0)
        info["instruments"][role] = voice.name
        info["gain_db"][role] = round(gain_db, 2)
        info["pan"][role] = round(pan, 3)
        sel = np.nonzero(roles == role)[0]
        for i in sel:
            vel = float(pattern.velocity[i])
            layer, layer_gain = voice.layer_for(vel)
            g = 10.0 ** (gain_db / 20.0) * layer_gain * vel ** 1.6
            x = layer
            start = int(starts[i])
            if played == "open_hat":
                later = hat_times[hat_times > start]
                stop = int(later[0]) if len(later) else int(hat_times[0]) + n if len(hat_times) else None
                if stop is not None and stop - start < x.shape[1]:
                    length = max(stop - start + fade, fade)
                    x = x[:, :length].copy()
                    x[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            x = x * (lr * g)
            length = min(x.shape[1], n)
            end = start + length
            if end <= n:
                out[:, start:end] += x[:, :length]
            else:
                out[:, start:] += x[:, :n - start]
                out[:, :end - n] += x[:, n - start:length]
    if bus == "random":
        bus = str(rng.choice(["none", "glue", "drive"]))
    info["bus"] = bus
    out = bus_process(out, sample_rate, bus)
    peak = float(np.max(np.abs(out)))
    if peak > 0:
        out *= 10.0 ** (peak_dbfs / 20.0) / peak
    return out, info


def bus_process(x, sample_rate: int, mode: str):
    """Bus processing of a mixed loop: "none", "glue" (2.5:1 compressor), "drive" (glue + tanh saturation)."""
    import numpy as np

    if mode == "none":
        return x
    if mode not in ("glue", "drive"):
        raise ValueError(f"unknown bus mode {mode!r}; choose from {', '.join(BUS_MODES)}")
    from pedalboard import Compressor, Pedalboard

    peak = float(np.max(np.abs(x))) or 1.0
    y = x / peak
    board = Pedalboard([Compressor(threshold_db=-14.0, ratio=2.5, attack_ms=8.0, release_ms=120.0)])
    y = board(y.astype(np.float32), sample_rate)
    if mode == "drive":
        y = np.tanh(2.0 * y) / np.tanh(2.0)
    return y.astype(np.float32)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def _clear_previous_render(out_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that already holds audio (prepare would mix it in), unless `overwrite`, which
    deletes only the loops a previous render-kit listed in its manifest."""
    from .prepare import find_audio_files

    if not out_dir.is_dir():
        return
    existing = find_audio_files(out_dir)
    if not existing:
        return
    listed: set[str] = set()
    if (out_dir / MANIFEST).is_file():
        try:
            listed = {lp["file"] for lp in json.loads((out_dir / MANIFEST).read_text()).get("loops", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            listed = set()  # unreadable manifest: nothing is known to be ours, so nothing is deleted
    foreign = [p for p in existing if p.relative_to(out_dir).as_posix() not in listed]
    if not overwrite or foreign:
        what = (f"{len(foreign)} audio file(s) render-kit did not make, e.g. {foreign[0].name}" if foreign
                else f"{len(existing)} loops from an earlier render (pass --overwrite to replace them)")
        raise ValueError(f"{out_dir} already holds {what}; `prepare` would mix them in: use an empty folder")
    for p in existing:
        p.unlink()
    (out_dir / MANIFEST).unlink()


def render_folder(out_dir: str | Path, kits, config: RenderConfig = RenderConfig(),
                  progress=None, overwrite: bool = False) -> dict:
    """Render `config.loops` loops from `kits` (a list of kit.Kit) into `out_dir`; returns the manifest.

    Kits missing a kick, a backbeat or a hat are left out and listed in the manifest. Loop i gets
    style `styles[i % n_styles]` and kit `kits[(i // n_styles) % n_kits]`, so the classes are balanced.
    A folder holding audio is refused; with `overwrite`, an earlier render's loops are replaced.
    """
    import numpy as np
    import soundfile as sf

    from . import kit as kitmod
    from . import patterns

    out_dir = Path(out_dir)
    for s in config.styles:
        if s not in patterns.STYLES:
            raise ValueError(f"unknown style {s!r}; choose from {', '.join(patterns.STYLES)}")
    if config.bus not in BUS_MODES:
        raise ValueError(f"unknown bus mode {config.bus!r}; choose from {', '.join(BUS_MODES)}")
    if config.loops < 1:
        raise ValueError(f"--loops must be >= 1, got {config.loops}")
    usable, left_out = [], []
    for k in kits:
        missing = k.missing_roles()
        if missing:
            left_out.append({"kit": k.name, "reason": f"no {', '.join(missing)} instrument"})
            continue
        loaded = kitmod.load_kit(k, config.sample_rate, config.max_oneshot_s)
        if loaded.unreadable:
            log.warning("%s: %d unreadable sample(s), e.g. %s", k.name, len(loaded.unreadable), loaded.unreadable[0])
        if "kick" not in loaded.voices or not any(r in loaded.voices for r in ("snare", "clap")):
            left_out.append({"kit": k.name, "reason": "its kick/snare samples could not be read"})
            continue
        usable.append(loaded)
    if not usable:
        reasons = "; ".join(f"{d['kit']}: {d['reason']}" for d in left_out) or "no kits given"
        raise ValueError(f"no usable kit ({reasons})")
    _clear_previous_render(out_dir, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_styles = len(config.styles)
    loops = []
    for i in range(config.loops):
        rng = np.random.default_rng([config.seed, i])
        style = config.styles[i % n_styles]
        loaded = usable[(i // n_styles) % len(usable)]
        tempo = float(config.tempos_bpm[int(rng.integers(len(config.tempos_bpm)))])
        pattern = patterns.sequence(style, rng, config.bars, tempo, config.beats_per_bar)
        audio, info = render_loop(loaded, pattern, tempo, rng, config.sample_rate, config.bus,
                                  config.peak_dbfs)
        tempo_txt = f"{tempo:g}".replace(".", "p")
        name = f"{i:04d}_{style}_{_slug(loaded.kit.name)}_{tempo_txt}bpm.wav"
        tmp = out_dir / (name + ".part")
        sf.write(str(tmp), audio.T, config.sample_rate, subtype="PCM_24", format="WAV")
        os.replace(tmp, out_dir / name)
        loops.append({"file": name, "style": style, "kit": loaded.kit.name, "tempo_bpm": tempo,
                      "bars": config.bars, "beats_per_bar": config.beats_per_bar,
                      "swing": round(pattern.swing, 4), "humanise_ms": round(pattern.humanise_ms, 3),
                      "licence": loaded.kit.licence, **info})
        if progress is not None:
            progress(i + 1, config.loops)
    manifest = {
        "format": "beatgan-kitloops/1",
        "generator": "beatgan render-kit",
        "seed": config.seed,
        "sample_rate": config.sample_rate,
        "bars": config.bars,
        "beats_per_bar": config.beats_per_bar,
        "tempos_bpm": list(config.tempos_bpm),
        "peak_dbfs": config.peak_dbfs,
        "bus": config.bus,
        "styles": list(config.styles),
        "kits": [lk.kit.as_manifest() for lk in usable],
        "kits_left_out": left_out,
        "loops": loops,
    }
    tmp = out_dir / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out_dir / MANIFEST)
    return manifest


# ---------------------------------------------------------------------------------------------
# the `render-kit` command

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="output folder for the WAV loops and manifest.json")
    p.add_argument("--loops", type=int, default=600, help="number of loops (default 600)")
    p.add_argument("--seed", type=int, default=1, help="random seed; same seed + kits = same loops (default 1)")
    p.add_argument("--bars", type=int, default=4, help="bars per loop (default 4)")
    p.add_argument("--tempos", default="124,125", help="comma-separated tempos in bpm, one drawn per loop (default 124,125)")
    p.add_argument("--styles", default=",".join(RenderConfig.styles),
                   help="comma-separated styles (default house,techno,breaks,electro)")
    p.add_argument("--kits", default=None,
                   help="comma-separated Hydrogen kit folder names, or 'all' (default: the EDM-friendly "
                        "TR808EmulationKit,HardElectro1,ElectricEmpireKit,VariBreaks,Audiophob,GMRockKit)")
    p.add_argument("--kit-dir", type=Path, action="append", default=[],
                   help="a folder of one-shots (or a Hydrogen kit folder) to use as a kit; repeatable. "
                        "With --kit-dir and no --kits, only these folders are used")
    p.add_argument("--licence", default=None, help="licence to record for --kit-dir folders")
    p.add_argument("--drumkits-root", type=Path, default=None,
                   help="where Hydrogen kits live (default /usr/share/hydrogen/data/drumkits)")
    p.add_argument("--bus", choices=BUS_MODES, default="random",
                   help="bus processing: none, glue (compressor), drive (compressor+saturation), "
                        "random (one of them per loop; default)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the loops of an earlier render-kit run in --out (other audio files are never touched)")
    p.add_argument("--list-kits", action="store_true", help="list the kits, their roles and licences, and exit")


def _tempos(text: str) -> tuple[float, ...]:
    try:
        tempos = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ValueError(f"--tempos: expected comma-separated numbers, got {text!r}") from None
    if not tempos or any(not 20 <= t <= 400 for t in tempos):
        raise ValueError(f"--tempos: expected tempos in 20..400 bpm, got {text!r}")
    return tempos


def run(args: argparse.Namespace) -> int:
    from . import kit as kitmod

    root = args.drumkits_root or kitmod.DRUMKITS_ROOT
    names = [n.strip() for n in args.kits.split(",") if n.strip()] if args.kits else None
    kits = []
    if names is not None or not args.kit_dir:
        kits += kitmod.find_kits(names, root)
    kits += [kitmod.folder_kit(d, args.licence) for d in args.kit_dir]
    if args.list_kits:
        for k in kits:
            missing = k.missing_roles()
            print(f"{k.name}  [{k.licence}]  {'usable' if not missing else 'missing ' + ', '.join(missing)}")
            for role, insts in sorted(k.roles().items()):
                print(f"    {role:<10} {', '.join(i.name for i in insts)}")
        return 0
    if args.out is None:
        raise ValueError("--out is required (the folder to write the loops to)")
    config = RenderConfig(loops=args.loops, seed=args.seed, bars=args.bars, tempos_bpm=_tempos(args.tempos),
                          styles=tuple(s.strip() for s in args.styles.split(",") if s.strip()), bus=args.bus)
    t0 = time.perf_counter()
    step = max(1, config.loops // 10)

    def progress(done, total):
        if done % step == 0 or done == total:
            log.info("rendered %d/%d loops", done, total)

    manifest = render_folder(args.out, kits, config, progress, overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for loop in manifest["loops"]:
        counts[loop["kit"]] = counts.get(loop["kit"], 0) + 1
    print(f"rendered {len(manifest['loops'])} loops ({config.bars} bars, {config.sample_rate} Hz stereo) "
          f"to {args.out} in {dt:.1f} s")
    for k in manifest["kits"]:
        print(f"  {k['name']}: {counts.get(k['name'], 0)} loops, licence {k['licence']}")
    for d in manifest["kits_left_out"]:
        print(f"  left out {d['kit']}: {d['reason']}")
    print(f"  manifest: {Path(args.out) / MANIFEST}")
    return 0
