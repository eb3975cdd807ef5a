"""Load once, generate many: the object the CLI and the daemon hold warm."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .card import ModelCard
from .latent import MAX_SEED, check_truncation, morph_latent, seed_latent, truncate, variation_latent
from .weights import ModelLoadError, load_generator

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _shipped_weights() -> Path:
    """The shipped default model: the `beatgan.weights` package data of an installed wheel, or
    the repository's weights/ folder in a checkout (an editable install maps one onto the other;
    a checkout that was never installed only has the folder)."""
    from importlib.util import find_spec
    try:
        # A data-only package (no __init__.py): its folder is its search location.
        spec = find_spec("beatgan.weights")
    except ImportError:  # no beatgan.weights package here: fall back to the repo's folder
        spec = None
    for where in (spec.submodule_search_locations or []) if spec else []:
        if (Path(where) / "model_card.json").is_file():
            return Path(where)
    return Path(__file__).resolve().parent.parent / "weights"


# The shipped weights; BEATGAN_MODEL points elsewhere without a flag.
DEFAULT_MODEL_DIR = _shipped_weights()


def default_model_dir() -> Path:
    return Path(os.environ.get("BEATGAN_MODEL") or DEFAULT_MODEL_DIR)


def pick_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} requested but CUDA is not available here")
    return device


class BeatGenerator:
    """A warm generator. `generate` returns float32 (n, channels, bar_samples) at card.sample_rate.

    `truncation` (psi) is the default every call uses unless it passes its own: the model card's
    (`beatgan ship --truncation`), else 1 (the latent distribution the network was trained on)."""

    def __init__(self, card: ModelCard, net: torch.nn.Module, device: str, dtype: torch.dtype,
                 source: Path | None = None, truncation: float | None = None):
        self.card, self.net, self.device, self.dtype, self.source = card, net, device, dtype, source
        self.truncation = check_truncation(card.truncation if truncation is None else truncation)
        self._rng = np.random.default_rng()

    @classmethod
    def load(cls, folder: str | Path | None = None, device: str = "auto",
             dtype: str = "fp32", truncation: float | None = None) -> "BeatGenerator":
        folder = Path(folder) if folder else default_model_dir()
        if folder == DEFAULT_MODEL_DIR and not (folder / "model_card.json").exists():
            raise ModelLoadError(f"no trained default weights in {folder} yet: pass --model DIR "
                                 "(a folder made by `beatgan train`/export)")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        dev = pick_device(device)
        card, net = load_generator(folder, dev, DTYPES[dtype])
        if dtype != "fp32" and card.config.arch == "drum-machine":
            raise ModelLoadError(f"{folder}: a drum-machine model runs in fp32 only (it synthesises "
                                 "through FFTs, which have no half-precision kernels); one bar "
                                 "takes a few ms in fp32")
        return cls(card, net, dev, DTYPES[dtype], folder, truncation)

    def random_seed(self) -> int:
        return int(self._rng.integers(0, MAX_SEED + 1))

    @torch.inference_mode()
    def generate_latents(self, z: np.ndarray, batch_size: int = 64,
                         truncation=None) -> np.ndarray:
        """`truncation`: None = self.truncation; a number, or one per latent."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.card.config.latent_dim:
            raise ValueError(f"expected latents of shape (n, {self.card.config.latent_dim}), "
                             f"got {z.shape}")
        z = truncate(z, self.truncation if truncation is None else truncation)
        out = np.empty((len(z), self.card.channels, self.card.bar_samples), np.float32)
        for i in range(0, len(z), batch_size):
            zt = torch.from_numpy(z[i:i + batch_size]).to(self.device, self.dtype)
            audio = self.net(zt)[..., :self.card.bar_samples]  # the bar is the slice's start
            out[i:i + len(zt)] = audio.float().cpu().numpy()
        return out

    @torch.inference_mode()
    def encode(self, bars: np.ndarray) -> np.ndarray:
        """(n, channels, bar_samples) bars at the model tempo and rate -> (n, latent) U(-1, 1)
        latents whose bars rebuild them (drum-machine models only: they ship an encoder)."""
        if not hasattr(self.net, "encode"):
            raise ValueError(f"{self.source or self.card.name}: a {self.card.config.arch} model has "
                             "no encoder; --like needs a drum-machine model")
        x = torch.from_numpy(np.ascontiguousarray(bars, np.float32)).to(self.device)
        return self.net.encode(x).float().cpu().numpy()

    def generate(self, seeds, truncation=None) -> np.ndarray:
        dim = self.card.config.latent_dim
        return self.generate_latents(np.stack([seed_latent(s, dim) for s in seeds]),
                                     truncation=truncation)

    def variation(self, seed: int, amount: float, variant: int = 0,
                  truncation: float | None = None) -> np.ndarray:
        z = variation_latent(seed, amount, variant, self.card.config.latent_dim)
        return self.generate_latents(z[None], truncation=truncation)[0]

    def morph(self, seed_a: int, seed_b: int, t: float,
              truncation: float | None = None) -> np.ndarray:
        z = morph_latent(seed_a, seed_b, t, self.card.config.latent_dim)
        return self.generate_latents(z[None], truncation=truncation)[0]
