"""The model card: everything a consumer of a model needs, stored as JSON next to the weights."""
from __future__ import annotations

import json
import numbers
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

from .config import GeneratorConfig, check_card_fields
from .latent import check_truncation

CARD_FILE = "model_card.json"
INDEX_FILE = "model.safetensors.index.json"
FORMAT_VERSION = 1


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; a model is meant to be shared
    os.replace(tmp, path)


@dataclass
class ModelCard:
    config: GeneratorConfig
    name: str = "beatgan"
    training: dict = field(default_factory=dict)   # data, recipe, steps, minutes, machine, licences
    evaluation: dict = field(default_factory=dict)  # figures from `beatgan evaluate`
    shards: dict = field(default_factory=dict)      # shard file name -> sha256 hex
    # How bars are drawn by default: {"truncation": psi, "chosen_by": why}; absent = psi 1.
    sampling: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    # The fields a renderer or daemon needs, flattened for convenience.
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def tempo_bpm(self) -> float:
        return self.config.tempo_bpm

    @property
    def beats_per_bar(self) -> int:
        return self.config.beats_per_bar

    @property
    def bar_samples(self) -> int:
        return self.config.bar_samples

    @property
    def slice_samples(self) -> int:
        return self.config.slice_samples

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def truncation(self) -> float:
        return float(self.sampling.get("truncation", 1.0))

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["config"] = self.config.to_dict()
        # Redundant on purpose: a consumer in another language reads these without the config.
        d["sample_rate"] = self.sample_rate
        d["tempo_bpm"] = self.tempo_bpm
        d["beats_per_bar"] = self.beats_per_bar
        d["bar_samples"] = self.bar_samples
        d["slice_samples"] = self.slice_samples
        d["channels"] = self.channels
        d["model_size"] = self.config.model_size
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelCard":
        if not isinstance(d, dict):
            raise ValueError(f"a model card is a JSON object, got {type(d).__name__}")
        d = dict(d)
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version!r} is not supported (expected {FORMAT_VERSION})")
        raw = d.pop("config", None)
        if not isinstance(raw, dict):
            raise ValueError(f"config must be an object, got {raw!r}")
        # The musical fields first: a config builds its bar length from them, and tempo 0 there
        # would be a ZeroDivisionError rather than a sentence.
        defaults = GeneratorConfig.__dataclass_fields__
        try:
            check_card_fields(*(raw.get(k, defaults[k].default)
                                for k in ("sample_rate", "tempo_bpm", "beats_per_bar")))
        except ValueError as e:
            raise ValueError(f"config.{e}") from None
        try:
            cfg = GeneratorConfig.from_dict(raw)
        except ArithmeticError as e:  # a config field out of any float's range (checked above)
            raise ValueError(f"config: {e}") from e
        check_card_fields(cfg.sample_rate, cfg.tempo_bpm, cfg.beats_per_bar, cfg.bar_samples)
        own = {f.name for f in fields(cls)} - {"config"}
        card = cls(config=cfg, **{k: v for k, v in d.items() if k in own})
        # The flattened copies (for readers without the config) must say what the config says.
        for key in ("sample_rate", "tempo_bpm", "beats_per_bar", "bar_samples", "slice_samples",
                    "channels"):
            if key in d and (isinstance(d[key], bool) or not isinstance(d[key], numbers.Real)
                             or d[key] != getattr(card, key)):
                raise ValueError(f"{key} {d[key]!r} disagrees with the config "
                                 f"({getattr(card, key)!r})")
        if not isinstance(card.sampling, dict):
            raise ValueError(f"sampling must be an object, got {card.sampling!r}")
        if "truncation" in card.sampling:
            check_truncation(card.sampling["truncation"])
        return card

    def save(self, folder: Path) -> Path:
        """Written atomically: a reader never sees half a card."""
        path = Path(folder) / CARD_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> "ModelCard":
        path = Path(folder) / CARD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: model card missing")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as e:
            raise ValueError(f"{path}: not a valid model card ({e})") from e

