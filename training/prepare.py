"""The BeatGAN data pipeline: a folder of drum loops -> one dataset file (see dataset.py) + a report.

Per loop (WAV, AIFF or FLAC; any sample rate; mono or stereo):
1. tempo from the file name (`..._124bpm_...`, `124 BPM`) or, failing that, a WAV `acid` chunk;
   loops further than `tolerance_bpm` from the model tempo are skipped, with the reason;
2. the first bar (beats_per_bar beats at the loop's own tempo) is resampled to the model rate so it
   lasts exactly `bar_samples` (28224 = one 4/4 bar at 125 bpm and 14.7 kHz): a 124 bpm loop is
   fitted to the model tempo. With `decimate`, the seed's exact method: every third sample of
   44.1 kHz audio, no anti-alias filter, no tempo fitting;
3. zero-padded (or cut) to `slice_samples`;
4. `copies` noisy copies (no clean copy), as the seed did: uniform integer noise in
   [-noise_lsb24, noise_lsb24) on the 24-bit scale added to the bar (the zero padding stays zero).

Unreadable files are reported, never fatal.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beatgan.generator.musical_time import exact_frames, frames

from .dataset import save_dataset

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc")
MANIFEST = "manifest.json"
FULL_SCALE_24 = 2 ** 23
MAX_PEAK = 0.995  # bars louder than this (of full scale) are scaled down: room for the noise, no clipping


@dataclass(frozen=True)
class PrepareConfig:
    sample_rate: int = 14700          # Hz, the model rate
    tempo_bpm: float = 125.0          # the model tempo
    tolerance_bpm: float = 1.0        # accept loops within +-this of tempo_bpm (124..126 by default)
    beats_per_bar: int = 4
    slice_samples: int = 32768        # 32768 = the paper model; 28224 = the bar-aligned model
    channels: int = 2
    decimate: bool = False            # the seed's x[::3] instead of anti-aliased resampling
    copies: int = 5                   # noisy copies per bar (no clean copy)
    noise_lsb24: int = 10000          # peak of the uniform noise, in 24-bit LSBs (0 = clean copies)
    seed: int = 0                     # augmentation RNG
    default_tempo_bpm: float | None = None  # tempo for loops that state none (None: skip them)

    @property
    def bar_samples(self) -> int:
        return frames(self.beats_per_bar, self.tempo_bpm, self.sample_rate)


class NoUsableLoops(ValueError):
    """Not one loop could be used; `.report` says why for each file."""

    def __init__(self, message: str, report: "Report"):
        super().__init__(message)
        self.report = report


def noise_levels(noise_lsb24: int) -> dict:
    """The augmentation noise level: uniform in [-a, a) with a = noise_lsb24 / 2**23 of full scale."""
    peak = noise_lsb24 / FULL_SCALE_24
    rms = peak / math.sqrt(3.0)  # std of a uniform distribution on [-a, a)
    db = (lambda v: round(20 * math.log10(v), 2) if v > 0 else None)
    return {"noise_peak": peak, "noise_rms": rms, "noise_peak_dbfs": db(peak), "noise_rms_dbfs": db(rms)}


# ---------------------------------------------------------------------------------------------
# tempo

_NAME_TEMPO = re.compile(r"(?<![\d.])(\d{2,3}(?:[.p]\d+)?)\s*[-_ ]?\s*bpm", re.IGNORECASE)


def tempo_from_name(name: str) -> float | None:
    """Tempo stated in a file name: `loop_124bpm_x.wav`, `Kick 124 BPM.aif`, `x_124-bpm`, `x_124p5bpm`."""
    m = _NAME_TEMPO.search(Path(name).stem)
    if not m:
        return None
    tempo = float(m.group(1).replace("p", ".").replace("P", "."))
    return tempo if 20.0 <= tempo <= 400.0 else None


def read_riff_chunks(path: str | Path, max_bytes: int = 1 << 16) -> dict[bytes, bytes]:
    """The chunks of a RIFF/WAVE file up to its `data` chunk (payloads up to max_bytes each)."""
    chunks: dict[bytes, bytes] = {}
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return chunks
        endian = "<" if head[:4] == b"RIFF" else ">"
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                break
            cid, size = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
            if cid == b"data":
                # The acid chunk usually precedes data, but some writers append it after.
                f.seek(size + (size & 1), 1)
                continue
            payload = f.read(min(size, max_bytes))
            chunks.setdefault(cid, payload)
            if size > max_bytes:
                f.seek(size - max_bytes, 1)
            if size & 1:
                f.seek(1, 1)
    return chunks


def tempo_from_acid(path: str | Path) -> float | None:
    """Tempo from a WAV `acid` chunk (Acidized loops): flags u32, root note u16, 2 x u16,
    float, beats u32, meter denominator u16, meter numerator u16, tempo float32 (bpm)."""
    try:
        acid = read_riff_chunks(path).get(b"acid")
    except OSError:
        return None
    if not acid or len(acid) < 24:
        return None
    tempo = struct.unpack("<f", acid[20:24])[0]
    return float(tempo) if math.isfinite(tempo) and 20.0 <= tempo <= 400.0 else None


def find_tempo(path: Path) -> tuple[float | None, str]:
    tempo = tempo_from_name(path.name)
    if tempo is not None:
        return tempo, "name"
    if path.suffix.lower() in (".wav", ".wave"):
        tempo = tempo_from_acid(path)
        if tempo is not None:
            return tempo, "acid"
    return None, ""


# ---------------------------------------------------------------------------------------------
# audio

def fit_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """(ch, n) -> (channels, n): mono is duplicated, stereo averaged to mono, >2 keep the first two."""
    if x.shape[0] == channels:
        return x
    if channels == 1:
        return x[:2].mean(axis=0, keepdims=True)
    if x.shape[0] == 1:
        return np.repeat(x, channels, axis=0)
    return x[:channels]


def decimate_bar(x: np.ndarray, sr_in: int, tempo_bpm: float, config: PrepareConfig) -> np.ndarray:
    """The seed's method: every `sr_in / sample_rate`-th sample (x[:, ::3] for 44.1 -> 14.7 kHz),
    first bar at the loop's own tempo; no filter, no tempo fitting."""
    factor = sr_in / config.sample_rate
    if factor != int(factor):
        raise ValueError(f"--decimate needs a sample rate that is a multiple of {config.sample_rate} Hz, got {sr_in} Hz")
    n_out = frames(config.beats_per_bar, tempo_bpm, config.sample_rate)
    return x[:, : n_out * int(factor): int(factor)]


def resample_bar(x: np.ndarray, sr_in: int, tempo_bpm: float, config: PrepareConfig) -> np.ndarray:
    """The first bar at `tempo_bpm`, resampled (soxr, anti-aliased) to exactly `config.bar_samples`.

    `x` must hold the bar plus a little context after it (`bar_context`), so the filter sees
    what follows the bar instead of an edge.
    """
    import soxr

    bar_in = config.beats_per_bar * 60.0 / tempo_bpm * sr_in  # samples, fractional
    out_rate = sr_in * config.bar_samples / bar_in            # fits the bar to the model tempo
    y = soxr.resample(np.ascontiguousarray(x.T, np.float32), sr_in, out_rate, quality="VHQ").T
    n = config.bar_samples
    if y.shape[1] < n:
        y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    return np.ascontiguousarray(y[:, :n])


def frames_needed(sr_in: int, tempo_bpm: float, config: PrepareConfig) -> int:
    bar_in = exact_frames(config.beats_per_bar, tempo_bpm, sr_in)
    if config.decimate:
        factor = round(sr_in / config.sample_rate)
        return frames(config.beats_per_bar, tempo_bpm, config.sample_rate) * factor
    return int(math.ceil(bar_in)) + int(0.02 * sr_in)  # 20 ms of context for the resampler


def augment_into(out: np.ndarray, bar: np.ndarray, copies: int, noise_lsb24: int,
                 rng: np.random.Generator) -> None:
    """Write `copies` noisy int16 copies of `bar` (float (ch, n), n <= slice) into out (copies, ch, slice).

    Noise: uniform integers in [-noise_lsb24, noise_lsb24) on the 24-bit scale, as the seed did;
    the padding after the bar stays zero.
    """
    ch, n = bar.shape
    x24 = bar.astype(np.float64) * FULL_SCALE_24
    out[:] = 0
    for c in range(copies):
        noisy = x24 + (rng.integers(-noise_lsb24, noise_lsb24, size=(ch, n)) if noise_lsb24 > 0 else 0)
        out[c, :, :n] = np.clip(np.round(noisy / 256.0), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# the pipeline

@dataclass
class Report:
    loops_dir: str
    out: str
    config: dict
    found: int = 0
    used: list[dict] = field(default_factory=list)        # {file, tempo_bpm, tempo_from, seconds, sample_rate, channels}
    skipped: list[dict] = field(default_factory=list)     # {file, reason}
    unreadable: list[dict] = field(default_factory=list)  # {file, error}
    examples: int = 0
    input_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"loops_dir": self.loops_dir, "out": self.out, "config": self.config,
                "counts": self.counts(), "used": self.used, "skipped": self.skipped,
                "unreadable": self.unreadable, "notes": self.notes}

    def counts(self) -> dict:
        sr = self.config["sample_rate"]
        reasons: dict[str, int] = {}
        for s in self.skipped:
            key = s["reason"].split(":")[0].split("(")[0].strip()
            reasons[key] = reasons.get(key, 0) + 1
        tempos: dict[str, int] = {}
        for u in self.used:
            tempos[f"{u['tempo_bpm']:g}"] = tempos.get(f"{u['tempo_bpm']:g}", 0) + 1
        return {"files_found": self.found, "loops_used": len(self.used), "skipped": len(self.skipped),
                "unreadable": len(self.unreadable), "skipped_by_reason": reasons, "tempos_bpm": tempos,
                "input_seconds": round(self.input_seconds, 2),
                "used_bar_seconds": round(len(self.used) * self.config["bar_samples"] / sr, 2),
                "examples": self.examples,
                "dataset_seconds": round(self.examples * self.config["slice_samples"] / sr, 2)}

    def summary(self, max_listed: int = 10) -> str:
        c = self.counts()
        cfg = self.config
        lines = [
            f"prepared {c['loops_used']} of {c['files_found']} audio files from {self.loops_dir} -> {self.out}",
            f"  {c['examples']} examples = {c['loops_used']} bars x {cfg['copies']} noisy copies, "
            f"{cfg['channels']} ch x {cfg['slice_samples']} samples at {cfg['sample_rate']} Hz "
            f"({c['dataset_seconds'] / 60:.1f} min); bar {cfg['bar_samples']} samples",
            f"  input {c['input_seconds'] / 60:.1f} min of audio; tempos used: "
            + (", ".join(f"{k} bpm x{v}" for k, v in sorted(c["tempos_bpm"].items())) or "none"),
            f"  {'decimate x[::3]' if cfg['decimate'] else 'soxr VHQ resampling, bar fitted to the model tempo'}; "
            f"noise +-{cfg['noise_lsb24']} (24-bit LSB) = {cfg['noise_rms_dbfs']} dBFS RMS",
        ]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)}: " + ", ".join(f"{k} x{v}" for k, v in c["skipped_by_reason"].items()))
            lines += [f"    {s['file']}: {s['reason']}" for s in self.skipped[:max_listed]]
            if len(self.skipped) > max_listed:
                lines.append(f"    ... {len(self.skipped) - max_listed} more in the report")
        if self.unreadable:
            lines.append(f"  unreadable {len(self.unreadable)}:")
            lines += [f"    {u['file']}: {u['error']}" for u in self.unreadable[:max_listed]]
            if len(self.unreadable) > max_listed:
                lines.append(f"    ... {len(self.unreadable) - max_listed} more in the report")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def find_audio_files(folder: Path) -> list[Path]:
    """Audio files under `folder` (recursive), sorted so the dataset order is reproducible."""
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                   and not p.name.startswith(".")), key=lambda p: p.relative_to(folder).as_posix())


def read_manifest(folder: Path) -> dict | None:
    """render-kit's manifest.json (labels and licences), if the folder has one."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable manifest ({e}); move it away to prepare the loops without labels") from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("loops"), list):
        raise ValueError(f"{path}: not a render-kit manifest (no 'loops' list)")
    return manifest


def load_bar(path: Path, config: PrepareConfig) -> tuple[np.ndarray | None, dict]:
    """The first bar of one loop, float32 (channels, bar_len) at the model rate, or (None, why skipped).

    Raises on unreadable audio (the caller reports it).
    """
    import soundfile as sf

    info: dict = {"file": None}
    with sf.SoundFile(str(path)) as f:
        sr, n_frames, n_ch = f.samplerate, f.frames, f.channels
        info.update(sample_rate=sr, channels=n_ch, seconds=round(n_frames / sr, 4))
        tempo, tempo_from = find_tempo(path)
        if tempo is None:
            if config.default_tempo_bpm is None:
                return None, {**info, "reason": "no tempo in the file name or an acid chunk"}
            tempo, tempo_from = config.default_tempo_bpm, "default"
        info.update(tempo_bpm=tempo, tempo_from=tempo_from)
        if abs(tempo - config.tempo_bpm) > config.tolerance_bpm + 1e-9:
            return None, {**info, "reason": f"off tempo: {tempo:g} bpm is outside {config.tempo_bpm:g} "
                                            f"+- {config.tolerance_bpm:g} bpm"}
        if config.decimate and sr != config.sample_rate * round(sr / config.sample_rate):
            return None, {**info, "reason": f"--decimate needs a multiple of {config.sample_rate} Hz "
                                            f"(44100 Hz), the file is {sr} Hz"}
        bar_in = exact_frames(config.beats_per_bar, tempo, sr)
        if n_frames < bar_in * 0.99:
            return None, {**info, "reason": f"shorter than one bar ({n_frames / sr:.3f} s < {bar_in / sr:.3f} s)"}
        need = frames_needed(sr, tempo, config)
        data = f.read(frames=min(need, n_frames), dtype="float32", always_2d=True)  # (n, ch)
    if data.shape[0] == 0:
        raise ValueError("no audio frames could be decoded")
    x = fit_channels(np.ascontiguousarray(data.T), config.channels)
    if x.shape[1] < need:  # a loop exactly one bar long (or a hair short): pad the tail
        x = np.pad(x, ((0, 0), (0, need - x.shape[1])))
    bar = decimate_bar(x, sr, tempo, config) if config.decimate else resample_bar(x, sr, tempo, config)
    return bar.astype(np.float32), info


def prepare(loops_dir: str | Path, out: str | Path, config: PrepareConfig = PrepareConfig(),
            progress=None, compress: bool = False) -> Report:
    """Run the pipeline; writes the dataset to `out` (zip-compressed with `compress`) and returns
    the report (not yet written)."""
    loops_dir, out = Path(loops_dir), Path(out)
    if not loops_dir.is_dir():
        raise FileNotFoundError(f"loops folder {loops_dir} does not exist")
    if config.copies < 1:
        raise ValueError(f"copies must be >= 1, got {config.copies}")
    if not 0 <= config.noise_lsb24 < FULL_SCALE_24:
        raise ValueError(f"noise must be in 0..{FULL_SCALE_24 - 1} (24-bit LSBs), got {config.noise_lsb24}")
    if config.channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {config.channels}")
    if config.slice_samples < 1:
        raise ValueError(f"slice must be >= 1 sample, got {config.slice_samples}")
    cfg_dict = {**config.__dict__, "bar_samples": config.bar_samples, **noise_levels(config.noise_lsb24)}
    report = Report(str(loops_dir), str(out), cfg_dict)
    manifest = read_manifest(loops_dir)
    files = find_audio_files(loops_dir)
    report.found = len(files)

    bars: list[np.ndarray] = []
    for i, path in enumerate(files):
        rel = path.relative_to(loops_dir).as_posix()
        try:
            bar, info = load_bar(path, config)
        except Exception as e:  # noqa: BLE001 - any decode failure is reported, the run goes on
            report.unreadable.append({"file": rel, "error": f"{type(e).__name__}: {e}"})
            continue
        info["file"] = rel
        report.input_seconds += info.get("seconds", 0.0)
        if bar is None:
            report.skipped.append({"file": rel, "reason": info["reason"]})
        else:
            peak = float(np.max(np.abs(bar)))
            if peak > MAX_PEAK:
                # Anti-aliasing can push a loop mastered near 0 dBFS over full scale (Gibbs overshoot
                # of clipped/saturated drums): scale the bar down rather than clip it.
                bar = bar * np.float32(MAX_PEAK / peak)
                info["scaled_db"] = round(20 * math.log10(MAX_PEAK / peak), 2)
            if bar.shape[1] > config.slice_samples:
                info["cut_samples"] = int(bar.shape[1] - config.slice_samples)
                bar = bar[:, : config.slice_samples]
            bars.append(bar)
            report.used.append(info)
        if progress is not None:
            progress(i + 1, len(files))
    scaled = [u for u in report.used if u.get("scaled_db")]
    if scaled:
        report.notes.append(f"{len(scaled)} bar(s) peaked above {MAX_PEAK} of full scale after resampling and were "
                            f"scaled down (by up to {-min(u['scaled_db'] for u in scaled):.2f} dB)")
    cut = [u for u in report.used if u.get("cut_samples")]
    if cut:
        report.notes.append(f"{len(cut)} bar(s) longer than the {config.slice_samples}-sample slice were cut "
                            f"(up to {max(u['cut_samples'] for u in cut)} samples)")
    if not bars:
        first = (report.skipped or report.unreadable or [None])[0]
        raise NoUsableLoops(f"no usable loops in {loops_dir}: {len(files)} audio file(s), "
                            f"{len(report.skipped)} skipped, {len(report.unreadable)} unreadable"
                            + (f" (first: {first})" if first else ""), report)

    # Labels and licences from render-kit's manifest; loops it does not list get -1.
    styles: list[str] = list(manifest.get("styles", [])) if manifest else []
    kits: list[str] = [k["name"] for k in manifest.get("kits", [])] if manifest else []
    by_file = {entry["file"]: entry for entry in manifest["loops"]} if manifest else {}
    label_style = np.full(len(bars), -1, np.int16)
    label_kit = np.full(len(bars), -1, np.int16)
    for j, u in enumerate(report.used):
        entry = by_file.get(u["file"])
        if entry:
            label_style[j] = styles.index(entry["style"]) if entry.get("style") in styles else -1
            label_kit[j] = kits.index(entry["kit"]) if entry.get("kit") in kits else -1
    licences = ([{"kit": k["name"], "licence": k.get("licence", "unknown"), "author": k.get("author", ""),
                  "path": k.get("path", "")} for k in manifest.get("kits", [])] if manifest else [])
    if not manifest:
        report.notes.append("no manifest.json in the loops folder: labels are -1 and no licences are recorded")

    rng = np.random.default_rng(config.seed)
    copies = config.copies
    audio = np.zeros((len(bars) * copies, config.channels, config.slice_samples), np.int16)
    for j, bar in enumerate(bars):
        augment_into(audio[j * copies:(j + 1) * copies], bar, copies, config.noise_lsb24, rng)
    source = np.repeat(np.arange(len(bars), dtype=np.int32), copies)
    report.examples = int(audio.shape[0])
    meta = {
        "sample_rate": config.sample_rate,
        "tempo_bpm": config.tempo_bpm,
        "beats_per_bar": config.beats_per_bar,
        "bar_samples": config.bar_samples,
        "slice_samples": config.slice_samples,
        "channels": config.channels,
        "augment": {"copies": copies, "clean_copy": False, "noise": "uniform_int24",
                    "noise_lsb24": config.noise_lsb24, "seed": config.seed,
                    "padding_noisy": False, **noise_levels(config.noise_lsb24)},
        "resample": "decimate" if config.decimate else "soxr-VHQ-tempo-fit",
        "tolerance_bpm": config.tolerance_bpm,
        "styles": styles,
        "kits": kits,
        "sources": [u["file"] for u in report.used],
        "source_tempo_bpm": [u["tempo_bpm"] for u in report.used],
        "licences": licences,
        "loops_dir": str(loops_dir),
        "generator": manifest.get("generator") if manifest else None,
    }
    save_dataset(out, audio, source, np.repeat(label_style, copies), np.repeat(label_kit, copies), meta,
                 compress=compress)
    return report


def report_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".report.json")


def write_report(report: Report, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(report.to_dict(), indent=1))
    tmp.replace(path)
    return path
