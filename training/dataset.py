"""The BeatGAN dataset file: one `.npz` that `beatgan prepare` writes and the trainer/evaluator read.

Arrays (N examples):
  audio        int16 (N, channels, slice_samples)  bars at the model rate, zero-padded, augmented
  source       int32 (N,)   index into meta["sources"] of the loop each example came from
  label_style  int16 (N,)   index into meta["styles"], -1 = unknown
  label_kit    int16 (N,)   index into meta["kits"], -1 = unknown
  meta         JSON string: sample_rate, tempo_bpm, beats_per_bar, bar_samples, slice_samples,
               channels, augment {copies, noise...}, styles, kits, sources, licences, ...

int16 full scale is 32768: float audio = int16 / 32768.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "beatgan-dataset/1"
REQUIRED_META = ("sample_rate", "tempo_bpm", "beats_per_bar", "bar_samples", "slice_samples",
                 "channels", "augment", "styles", "kits", "sources", "licences")
ARRAYS = ("audio", "source", "label_style", "label_kit", "meta")


class DatasetError(ValueError):
    """A dataset file that is missing, not a BeatGAN dataset, or inconsistent."""


@dataclass
class Dataset:
    audio: np.ndarray         # float32 (N, channels, slice_samples), int16 / 32768
    source: np.ndarray        # int32 (N,)
    label_style: np.ndarray   # int16 (N,)
    label_kit: np.ndarray     # int16 (N,)
    meta: dict
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    @property
    def labels(self) -> dict[str, np.ndarray]:
        return {"style": self.label_style, "kit": self.label_kit}

    @property
    def sample_rate(self) -> int:
        return int(self.meta["sample_rate"])

    def split_by_source(self, holdout_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(train, held-out) example indices, holding out whole source loops so no noisy copy of a
        held-out loop is trained on."""
        if not 0.0 <= holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}")
        sources = np.unique(self.source)
        rng = np.random.default_rng(seed)
        n_hold = int(round(holdout_fraction * len(sources)))
        held = rng.permutation(sources)[:n_hold]
        mask = np.isin(self.source, held)
        return np.nonzero(~mask)[0], np.nonzero(mask)[0]


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float in [-1, 1) -> int16 with full scale 32768 (rounded, clipped)."""
    return np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def save_dataset(path: str | Path, audio: np.ndarray, source: np.ndarray, label_style: np.ndarray,
                 label_kit: np.ndarray, meta: dict, compress: bool = False) -> Path:
    """Write the dataset atomically (a temporary file in the same folder, then rename).

    `audio` is int16, or float (converted with `to_int16`).
    """
    path = Path(path)
    audio = np.asarray(audio)
    if audio.dtype != np.int16:
        audio = to_int16(audio)
    if audio.ndim != 3:
        raise ValueError(f"audio: expected (N, channels, samples), got shape {audio.shape}")
    n = audio.shape[0]
    source = np.asarray(source, np.int32)
    label_style = np.asarray(label_style, np.int16)
    label_kit = np.asarray(label_kit, np.int16)
    for name, arr in (("source", source), ("label_style", label_style), ("label_kit", label_kit)):
        if arr.shape != (n,):
            raise ValueError(f"{name}: expected shape ({n},), got {arr.shape}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"meta lacks {', '.join(missing)}")
    meta = {"format": FORMAT, **meta, "examples": int(n)}
    if audio.shape[1] != meta["channels"] or audio.shape[2] != meta["slice_samples"]:
        raise ValueError(f"audio shape {audio.shape} disagrees with meta channels={meta['channels']} "
                         f"slice_samples={meta['slice_samples']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(
                f, audio=audio, source=source, label_style=label_style, label_kit=label_kit,
                meta=np.array(json.dumps(meta)))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_meta(path: str | Path) -> dict:
    """Only the meta dict (cheap: does not read the audio)."""
    path = Path(path)
    with _open(path) as z:
        return _meta(path, z)


def load_dataset(path: str | Path, float_audio: bool = True) -> Dataset:
    """Load and check a dataset file. `float_audio=False` keeps `.audio` as int16 (half the memory)."""
    path = Path(path)
    with _open(path) as z:
        meta = _meta(path, z)
        try:
            audio = z["audio"]
            source = z["source"]
            label_style = z["label_style"]
            label_kit = z["label_kit"]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
            raise DatasetError(f"{path}: corrupt dataset file ({e})") from e
    n = audio.shape[0] if audio.ndim else -1
    if audio.dtype != np.int16 or audio.ndim != 3:
        raise DatasetError(f"{path}: audio must be int16 (N, channels, samples), got {audio.dtype} {audio.shape}")
    if audio.shape[1:] != (meta["channels"], meta["slice_samples"]):
        raise DatasetError(f"{path}: audio shape {audio.shape} disagrees with meta channels={meta['channels']} "
                           f"slice_samples={meta['slice_samples']}")
    for name, arr in (("source", source), ("label_style", label_style), ("label_kit", label_kit)):
        if arr.shape != (n,):
            raise DatasetError(f"{path}: {name} has shape {arr.shape}, expected ({n},)")
    if n and (source.min() < 0 or source.max() >= len(meta["sources"])):
        raise DatasetError(f"{path}: source indices outside 0..{len(meta['sources']) - 1}")
    if float_audio:
        audio = audio.astype(np.float32)
        audio *= np.float32(1.0 / 32768.0)
    return Dataset(audio, source.astype(np.int32), label_style.astype(np.int16), label_kit.astype(np.int16),
                   meta, path)


def _open(path: Path):
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file (make one with `beatgan prepare LOOPS_DIR --out {path}`)")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{path}: not a BeatGAN dataset (.npz) file ({e})") from e
    if not hasattr(z, "files"):
        raise DatasetError(f"{path}: not a BeatGAN dataset: a bare .npy array, expected an .npz archive")
    missing = [a for a in ARRAYS if a not in z.files]
    if missing:
        z.close()
        raise DatasetError(f"{path}: not a BeatGAN dataset: missing {', '.join(missing)}")
    return z


def _meta(path: Path, z) -> dict:
    try:
        meta = json.loads(str(z["meta"]))
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{path}: unreadable meta ({e})") from e
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: meta is not a JSON object")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise DatasetError(f"{path}: meta lacks {', '.join(missing)}")
    return meta
