"""The one conversion from beats to frames that the model, data, renderer and WAV tag share."""
import pytest

from beatgan.generator.config import named_config
from beatgan.generator.musical_time import exact_frames, frames, sixteenth_seconds


@pytest.mark.parametrize("beats, tempo_bpm, rate, expected", [
    (4, 125.0, 14700, 28224),      # the seed's bar: 16 sixteenths of 1764 samples
    (4, 124.0, 44100, 85355),      # 85354.84 rounds up
    (16, 124.0, 44100, 341419),    # four bars rounded once, not 4 * 85355
    (0.25, 125.0, 14700, 1764),
])
def test_frames(beats, tempo_bpm, rate, expected):
    assert frames(beats, tempo_bpm, rate) == expected
    assert abs(exact_frames(beats, tempo_bpm, rate) - expected) <= 0.5


def test_sixteenth_is_a_quarter_beat():
    assert sixteenth_seconds(120.0) == pytest.approx(0.125)


def test_model_bar_uses_it():
    cfg = named_config("beatgan-bar")
    assert cfg.bar_samples == cfg.slice_samples == frames(cfg.beats_per_bar, cfg.tempo_bpm, cfg.sample_rate)
