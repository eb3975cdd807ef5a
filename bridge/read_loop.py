"""A user's loop file -> one bar at the model's tempo and rate (what the model's encoder and the
judge compare against). The tempo comes from the file name (`..._124bpm.wav`), its acid chunk, or
the caller; the bar is resampled so it fills the model's bar exactly."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def read_first_bar(path: Path, card, default_bpm: float | None = None) -> np.ndarray:
    """(channels, bar_samples) float32: the first bar of `path`, fitted to `card`'s bar (mono
    duplicated, extra channels dropped). ValueError says in words why a file cannot be used."""
    import soundfile as sf
    import soxr

    from beatgan.generator.musical_time import exact_frames
    from beatgan.training.prepare import find_tempo

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    tempo, _ = find_tempo(path)
    tempo = tempo or default_bpm
    if tempo is None:
        raise ValueError(f"{path.name}: no tempo (name it ..._124bpm.wav or give the tempo)")
    if not 40.0 <= float(tempo) <= 300.0:
        raise ValueError(f"{path.name}: a tempo of {tempo:g} bpm is outside 40-300")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ValueError(f"{path.name}: not an audio file this can read ({e})") from e
    bar_in = exact_frames(card.beats_per_bar, tempo, sr)
    if data.shape[0] < int(bar_in) - 1:
        raise ValueError(f"{path.name}: shorter than one bar at {tempo:g} bpm")
    x = data[:int(np.ceil(bar_in))]
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    x = x[:, :card.channels] if card.channels <= x.shape[1] else np.repeat(x[:, :1], card.channels, 1)
    y = soxr.resample(np.ascontiguousarray(x), sr, sr * card.bar_samples / bar_in, quality="VHQ")
    y = y[:card.bar_samples]
    if len(y) < card.bar_samples:
        y = np.pad(y, ((0, card.bar_samples - len(y)), (0, 0)))
    return np.ascontiguousarray(y.T, np.float32)
