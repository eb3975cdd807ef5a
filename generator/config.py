"""Model configurations: the paper-exact WaveGAN family and the bar-aligned BeatGAN variant.

A config describes the network only; what it was trained on lives in the model card.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields

from .musical_time import frames

LATENT_DIM = 100  # the paper's z ~ U(-1, 1)^100
ARCHS = ("wavegan", "bar", "drum-machine")
VOICE_MODELS = ("parametric", "waveform")  # drum-machine hits (voice_model)


def check_card_fields(sample_rate, tempo_bpm, beats_per_bar, bar_samples=None) -> None:
    """The fields every consumer of a card relies on, or a ValueError that names the bad one.

    sample_rate: Hz, a positive integer. tempo_bpm: the model tempo, finite and > 0 (fractional
    allowed). beats_per_bar: a positive integer. bar_samples (when given): a positive integer,
    round(beats_per_bar * 60 / tempo_bpm * sample_rate) to within one sample (a card written by
    another program may round differently, but not by more).
    """
    def whole(name, v):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")

    whole("sample_rate", sample_rate)
    if (isinstance(tempo_bpm, bool) or not isinstance(tempo_bpm, numbers.Real)
            or not math.isfinite(tempo_bpm) or tempo_bpm <= 0):
        raise ValueError(f"tempo_bpm must be a finite number of beats a minute > 0, got {tempo_bpm!r}")
    whole("beats_per_bar", beats_per_bar)
    try:
        exact = beats_per_bar * 60.0 / float(tempo_bpm) * sample_rate
    except OverflowError:  # integers beyond a float's range
        exact = math.inf
    if not (math.isfinite(exact) and round(exact) >= 1):
        raise ValueError(f"tempo_bpm {tempo_bpm!r} makes a bar of {exact:g} samples at "
                         f"{sample_rate!r} Hz; a bar must be at least one sample and finite")
    if bar_samples is not None:
        whole("bar_samples", bar_samples)
        want = int(round(exact))
        if abs(int(bar_samples) - want) > 1:
            raise ValueError(f"bar_samples {bar_samples!r} disagrees with beats_per_bar "
                             f"{beats_per_bar!r} at {tempo_bpm!r} bpm and {sample_rate!r} Hz "
                             f"({want} samples)")


class StrictDict:
    """JSON round trip for a config dataclass: tuples become lists, and an unknown key is an error
    (a typo in a config file must not silently fall back to a default)."""

    _kind = "config"
    _tuples: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in self._tuples:
            d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict):
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls._kind} keys: {sorted(unknown)}")
        d = dict(d)
        for name in cls._tuples:
            if name in d:
                d[name] = tuple(d[name])
        return cls(**d)


@dataclass(frozen=True)
class GeneratorConfig(StrictDict):
    """One WaveGAN-style network pair (generator + mirrored discriminator)."""

    _tuples = ("strides",)

    arch: str = "wavegan"            # "wavegan" (paper, fixed slices), "bar" (bar-aligned strides)
                                     # or "drum-machine" (voices placed by a pattern: drum_machine.py)
    channels: int = 2                # audio channels; BeatGAN is stereo
    model_size: int = 64             # the paper's d
    slice_samples: int = 32768       # generator output length in samples
    sample_rate: int = 14700         # Hz
    tempo_bpm: float = 125.0         # model tempo of the training loops
    beats_per_bar: int = 4           # beats in the generated unit (the seed's "bar" was 2)
    latent_dim: int = LATENT_DIM
    kernel_len: int = 25             # paper kernel; the bar arch derives its own (6 * stride + 1)
    upsample: str = "zeros"          # "zeros" = transposed conv (paper), "nn" = nearest + conv
    phase_shuffle: int = 2           # discriminator phase shuffle radius n, in samples
    minibatch_std: bool = False      # append a minibatch-stddev channel before D's dense layer
    post_filter: int = 0             # taps of the learned filter after G's tanh (0 = none; the
                                     # official code's --wavegan_genr_pp uses 512)
    envelope: bool = False           # G's output = tanh(carrier) * a learned amplitude envelope
    strides: tuple[int, ...] = field(default=())  # filled in by __post_init__
    # drum-machine only (the WaveGAN archs ignore them):
    voices: int = 8                  # drum voices per bar
    steps: int = 16                  # pattern steps per bar (sixteenth notes)
    bands: int = 32                  # noise bands per voice, log-spaced 40 Hz .. Nyquist (a band
                                     # narrow enough below 200 Hz makes a kick's body)
    oneshot_samples: int = 8192      # length of one voice's hit, samples (0.56 s at 14.7 kHz)
    voice_model: str = "parametric"  # how a hit is made: "parametric" (noise bands + a gliding
                                     # tone, drum_machine.py) or "waveform" (a learned one-shot
                                     # waveform per voice, waveform_voices.py)

    def __post_init__(self) -> None:
        check_card_fields(self.sample_rate, self.tempo_bpm, self.beats_per_bar)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.upsample not in ("zeros", "nn"):
            raise ValueError(f"upsample must be 'zeros' or 'nn', got {self.upsample!r}")
        if self.channels < 1 or self.model_size < 1:
            raise ValueError("channels and model_size must be >= 1")
        if self.post_filter < 0:
            raise ValueError(f"post_filter must be >= 0 taps, got {self.post_filter}")
        if self.voice_model not in VOICE_MODELS:
            raise ValueError(f"voice_model must be one of {', '.join(VOICE_MODELS)}, got "
                             f"{self.voice_model!r}")
        if self.voice_model != "parametric" and self.arch != "drum-machine":
            raise ValueError(f"voice_model {self.voice_model!r} is a drum-machine setting; arch "
                             f"{self.arch!r} has no voices")
        if self.arch == "wavegan":
            strides = _paper_strides(self.slice_samples)
        elif self.arch == "drum-machine":
            strides = ()
            if self.slice_samples != self.bar_samples:
                object.__setattr__(self, "slice_samples", self.bar_samples)
            if min(self.voices, self.steps, self.bands, self.oneshot_samples) < 1:
                raise ValueError("voices, steps, bands and oneshot_samples must be >= 1")
            if self.oneshot_samples > self.bar_samples:
                raise ValueError(f"a hit of {self.oneshot_samples} samples is longer than the bar "
                                 f"({self.bar_samples})")
        else:
            strides = bar_strides(self.bar_samples)
            if self.slice_samples != self.bar_samples:
                # The bar arch makes exactly one bar: no padding to learn.
                object.__setattr__(self, "slice_samples", self.bar_samples)
        if self.strides and tuple(self.strides) != strides:
            raise ValueError(f"strides {self.strides} do not match {self.arch} at "
                             f"{self.slice_samples} samples (expected {strides})")
        object.__setattr__(self, "strides", strides)
        if self.bar_samples > self.slice_samples:
            raise ValueError(f"a bar of {self.bar_samples} samples does not fit in a slice of "
                             f"{self.slice_samples}")

    @property
    def bar_samples(self) -> int:
        """Samples in the generated musical unit at the model tempo and rate."""
        return frames(self.beats_per_bar, self.tempo_bpm, self.sample_rate)

    @property
    def positions(self) -> int:
        """Length of the dense layer's output, in time steps (16 in every WaveGAN config)."""
        if self.arch == "drum-machine":
            return self.steps
        n = self.slice_samples
        for s in self.strides:
            n //= s
        return n

    @property
    def dense_channels(self) -> int:
        # Paper: [16, 16d] for 16384 and [16, 32d] for the longer slices (one layer more).
        return self.model_size * 2 ** (len(self.strides) - 1)

    def kernel_for(self, stride: int) -> int:
        return self.kernel_len if self.arch == "wavegan" else 6 * stride + 1


def _paper_strides(slice_samples: int) -> tuple[int, ...]:
    table = {16384: (4, 4, 4, 4, 4), 32768: (4, 4, 4, 4, 4, 2), 65536: (4, 4, 4, 4, 4, 4)}
    if slice_samples not in table:
        raise ValueError(f"paper WaveGAN supports slices {sorted(table)}, got {slice_samples}")
    return table[slice_samples]


def bar_strides(bar_samples: int, positions: int = 16, max_stride: int = 8) -> tuple[int, ...]:
    """Strides that turn one position per sixteenth note into exactly one bar.

    1764 samples per sixteenth (125 bpm, 14.7 kHz) = 3*3*4*7*7. Factors are merged greedily up to
    max_stride so the network stays shallow; the order is small-to-large (coarse layers are wide
    in channels, cheap in time).
    """
    if bar_samples % positions:
        raise ValueError(f"a bar of {bar_samples} samples does not split into {positions} "
                         "sixteenths; pick a tempo/rate with an integer sixteenth length")
    per_step = bar_samples // positions
    primes, n, p = [], per_step, 2
    while n > 1:
        while n % p == 0:
            primes.append(p)
            n //= p
        p += 1
    if any(q > max_stride for q in primes):
        raise ValueError(f"a sixteenth of {per_step} samples has a prime factor above "
                         f"{max_stride} ({primes}); no bar-aligned strides for this tempo/rate")
    # Merge 2s into 4s (a 2-stride layer is wasted depth), keep the rest.
    twos = primes.count(2)
    rest = [q for q in primes if q != 2]
    merged = [4] * (twos // 2) + [2] * (twos % 2) + rest
    return tuple(sorted(merged))


# Named configs: names are the public handles in the CLI and in model cards.
NAMED_CONFIGS: dict[str, GeneratorConfig] = {
    # The seed notebook exactly: 16384 samples, of which the first 14112 (two beats) are used.
    "wavegan-2beat": GeneratorConfig(slice_samples=16384, beats_per_bar=2),
    # Paper WaveGAN on the full 4/4 bar: slice 32768, bar = first 28224 samples.
    "wavegan": GeneratorConfig(slice_samples=32768),
    "wavegan-65536": GeneratorConfig(slice_samples=65536),
    # Bar-aligned: 16 latent positions = 16 sixteenths, output exactly one bar.
    "beatgan-bar": GeneratorConfig(arch="bar", model_size=16, slice_samples=28224),
    # Voices placed by a pattern (drum_machine.py): d sets the width of its MLP (32 d).
    "drum-machine": GeneratorConfig(arch="drum-machine", model_size=16, slice_samples=28224,
                                    latent_dim=64),
}


def named_config(name: str, **overrides) -> GeneratorConfig:
    if name not in NAMED_CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(NAMED_CONFIGS)}")
    d = NAMED_CONFIGS[name].to_dict()
    d.update(overrides)
    d.pop("strides")  # derived again from the (possibly overridden) slice or bar
    return GeneratorConfig.from_dict(d)
