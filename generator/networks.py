"""One place that turns a config into its network, whatever the family."""
from __future__ import annotations

from torch import nn

from .config import GeneratorConfig


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    """The generator network for `cfg`, randomly initialised (torch's RNG)."""
    if cfg.arch == "drum-machine" and cfg.voice_model == "waveform":
        from .waveform_voices import WaveformDrumMachine
        return WaveformDrumMachine(cfg)
    if cfg.arch == "drum-machine":
        from .drum_machine import DrumMachine
        return DrumMachine(cfg)
    from .wavegan import Generator
    return Generator(cfg)
