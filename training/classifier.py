"""A small drum-loop classifier whose embedding `beatgan evaluate` uses for a Fréchet distance.

The WaveGAN paper judged its generator with an Inception score from a classifier trained on the
real data's labels (SC09 digits). Drum loops have no such standard classifier, so `evaluate` trains
one on the dataset's own labels (style and kit, from render-kit's manifest): log-mel features ->
four small conv blocks -> a 64-d embedding -> one head per label kind. It trains on the CPU in
well under a minute on a subset and is cached next to the dataset, keyed by the dataset file's
sha256, so evaluating many checkpoints against one dataset trains it once.

Time frames are tied to the bar (64 frames per bar = 4 per sixteenth note) and only frequency is
pooled, so the embedding keeps where in the bar things happen: house and breaks share sounds and
differ in rhythm.
"""
from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from beatgan.generator.weights import sha256_file

log = logging.getLogger(__name__)

CACHE_VERSION = 1
LABEL_KINDS = ("style", "kit")


class ClassifierUnavailable(ValueError):
    """The dataset cannot train a classifier (no labels, or too few classes)."""


@dataclass(frozen=True)
class ClassifierConfig:
    sample_rate: int = 14700         # Hz, the model rate
    bar_samples: int = 28224         # samples per input bar (longer inputs are cropped)
    n_fft: int = 512                 # STFT size, samples (35 ms at 14.7 kHz)
    frames: int = 64                 # time frames per bar (4 per sixteenth note)
    n_mels: int = 48                 # mel bands, 30 Hz .. Nyquist
    width: int = 16                  # channels of the first conv block (doubles, capped at 4x)
    embed_dim: int = 64              # size of the embedding the Fréchet distance uses
    heads: dict = field(default_factory=dict)  # label kind -> number of classes

    @property
    def hop(self) -> int:
        return self.bar_samples // self.frames


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 30.0) -> np.ndarray:
    """Triangular HTK-mel filters, (n_mels, n_fft // 2 + 1), each with unit area."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(sample_rate / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None] - lo) / (mid - lo)
    down = (hi - bins[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down))
    # The lowest bands are narrower than one FFT bin: give each at least its nearest bin.
    for i in range(n_mels):
        if fb[i].sum() == 0:
            fb[i, np.argmin(np.abs(bins - mid[i, 0]))] = 1.0
    return (fb / fb.sum(axis=1, keepdims=True)).astype(np.float32)


class LogMel(nn.Module):
    """(B, C, T) audio -> (B, 1, n_mels, frames) log-mel of the mono sum, roughly in [-4, 1]."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.register_buffer("fb", torch.from_numpy(
            mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        x = x[..., :cfg.bar_samples].float().mean(dim=1)  # (B, T)
        if x.shape[-1] < cfg.bar_samples:
            x = F.pad(x, (0, cfg.bar_samples - x.shape[-1]))
        spec = torch.stft(x, cfg.n_fft, cfg.hop, window=self.window, return_complex=True)
        power = spec.abs().pow(2)[..., :cfg.frames]           # (B, F, frames)
        mel = torch.einsum("mf,bft->bmt", self.fb, power)
        return (torch.log10(mel + 1e-8) / 2.0).unsqueeze(1)   # (B, 1, n_mels, frames)


class DrumLoopClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.features = LogMel(cfg)
        blocks, c_in = [], 1
        for i in range(4):
            c = cfg.width * min(2 ** i, 4)
            blocks += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
            if i < 3:
                blocks.append(nn.MaxPool2d(2))
            c_in = c
        self.convs = nn.Sequential(*blocks)
        t = cfg.frames // 8
        self.embed_layer = nn.Linear(c_in * t, cfg.embed_dim)
        self.heads = nn.ModuleDict({k: nn.Linear(cfg.embed_dim, n) for k, n in cfg.heads.items()})

    def embed_features(self, feats: torch.Tensor) -> torch.Tensor:
        h = self.convs(feats)              # (B, C, n_mels / 8, frames / 8)
        h = h.mean(dim=2).flatten(1)       # pool frequency only: keep the position in the bar
        return F.relu(self.embed_layer(h))  # (B, embed_dim)

    def embed(self, audio: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.features(audio))

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        e = self.embed(audio)
        return {k: head(e) for k, head in self.heads.items()}


# ---- training ----------------------------------------------------------------------------------
@dataclass
class TrainedClassifier:
    model: DrumLoopClassifier
    label_names: dict[str, list[str]]     # label kind -> class names
    info: dict                            # accuracy, examples, seconds, dataset sha256, cache path

    @torch.no_grad()
    def embed(self, bars: np.ndarray, device: str = "cpu", batch: int = 64) -> np.ndarray:
        """(n, C, T) float audio -> (n, embed_dim) float64 embeddings."""
        self.model.to(device).eval()
        out = [self.model.embed(torch.as_tensor(np.asarray(bars[i:i + batch], np.float32),
                                                device=device)).double().cpu().numpy()
               for i in range(0, len(bars), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.model.cfg.embed_dim))

    @torch.no_grad()
    def probabilities(self, bars: np.ndarray, kind: str, device: str = "cpu",
                      batch: int = 64) -> np.ndarray:
        """(n, classes) softmax of one head."""
        self.model.to(device).eval()
        out = []
        for i in range(0, len(bars), batch):
            x = torch.as_tensor(np.asarray(bars[i:i + batch], np.float32), device=device)
            e = self.model.embed(x)
            out.append(F.softmax(self.model.heads[kind](e), dim=1).double().cpu().numpy())
        return np.concatenate(out)


def usable_heads(labels: dict[str, np.ndarray], names: dict[str, list[str]]) -> dict[str, int]:
    """Label kinds with at least two classes present (-1 = unknown is ignored)."""
    heads = {}
    for kind in LABEL_KINDS:
        lab = np.asarray(labels.get(kind, []))
        present = np.unique(lab[lab >= 0])
        if len(present) >= 2:
            heads[kind] = max(len(names.get(kind, [])), int(present.max()) + 1)
    return heads


def spread_subset(groups: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n positions into `groups`, covering as many distinct groups (source loops) as possible
    before taking a second member of any: noisy copies of one bar add little."""
    order = rng.permutation(len(groups))
    rank = np.zeros(len(groups), np.int64)
    seen: dict[int, int] = {}
    for pos in order:
        g = int(groups[pos])
        rank[pos] = seen.get(g, 0)
        seen[g] = rank[pos] + 1
    picked = order[np.argsort(rank[order], kind="stable")][:n]
    return np.sort(picked)


def train_classifier(audio: np.ndarray, labels: dict[str, np.ndarray],
                     label_names: dict[str, list[str]], sample_rate: int, bar_samples: int,
                     val_audio: np.ndarray | None = None, val_labels: dict | None = None,
                     steps: int = 800, max_epochs: int = 60, max_seconds: float = 40.0,
                     batch_size: int = 32, seed: int = 0, device: str = "cpu") -> TrainedClassifier:
    """Train on (n, C, T) float bars with integer labels per kind (-1 = unknown).

    Stops after `steps` optimiser steps or `max_epochs` epochs (whole epochs, at least one), or at
    the end of the epoch in which `max_seconds` of training have passed, whichever comes first.
    """
    heads = usable_heads(labels, label_names)
    if not heads:
        raise ClassifierUnavailable(
            "the dataset has no style or kit labels with two or more classes (prepare a folder made "
            "by `beatgan render-kit`, or one with a manifest.json)")
    cfg = ClassifierConfig(sample_rate=sample_rate, bar_samples=bar_samples, heads=heads)
    torch.manual_seed(seed)
    model = DrumLoopClassifier(cfg).to(device)
    t0 = time.monotonic()
    # Features once up front: the STFT would otherwise be most of every epoch's cost.
    feats = _features(model, audio, device)
    y = {k: torch.as_tensor(np.asarray(labels[k], np.int64), device=device) for k in heads}
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(seed)
    n = len(feats)
    epochs = max(1, min(max_epochs, math.ceil(steps / math.ceil(n / batch_size))))
    done_epochs, last_loss = 0, float("nan")
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            e = model.embed_features(feats[idx])
            loss = sum(F.cross_entropy(model.heads[k](e), y[k][idx], ignore_index=-1)
                       for k in heads)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        done_epochs += 1
        last_loss = total / n
        if time.monotonic() - t0 > max_seconds:
            break
    seconds = time.monotonic() - t0
    clf = TrainedClassifier(model.eval(), {k: list(label_names.get(k, [])) for k in heads}, {})
    info = {"examples": int(n), "epochs": done_epochs,
            "steps": done_epochs * math.ceil(n / batch_size), "seconds": round(seconds, 1),
            "train_loss": round(last_loss, 4), "heads": heads,
            "train_accuracy": accuracy(clf, audio, labels, device)}
    if val_audio is not None and len(val_audio):
        info["heldout_examples"] = int(len(val_audio))
        info["heldout_accuracy"] = accuracy(clf, val_audio, val_labels or {}, device)
    clf.info = info
    return clf


@torch.no_grad()
def _features(model: DrumLoopClassifier, audio: np.ndarray, device: str, batch: int = 128):
    return torch.cat([model.features(torch.as_tensor(np.asarray(audio[i:i + batch], np.float32),
                                                     device=device))
                      for i in range(0, len(audio), batch)])


def accuracy(clf: TrainedClassifier, audio: np.ndarray, labels: dict, device: str = "cpu") -> dict:
    """Share of correctly classified bars per head, over bars whose label is known."""
    out = {}
    for kind in clf.model.heads:
        lab = np.asarray(labels.get(kind, np.full(len(audio), -1)))
        known = lab >= 0
        if not known.any():
            continue
        pred = clf.probabilities(audio[known], kind, device).argmax(axis=1)
        out[kind] = round(float((pred == lab[known]).mean()), 4)
    return out


# ---- cache -------------------------------------------------------------------------------------
def cache_path(dataset_path: Path, digest: str) -> Path:
    """Next to the dataset; in the user cache folder when the dataset's folder is read-only."""
    name = f"{Path(dataset_path).name}.classifier-{digest[:16]}.pt"
    folder = Path(dataset_path).absolute().parent
    if os.access(folder, os.W_OK):
        return folder / name
    import platformdirs
    return Path(platformdirs.user_cache_dir("beatgan")) / "classifiers" / name


def save_classifier(clf: TrainedClassifier, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = asdict(clf.model.cfg)
    blob = {"version": CACHE_VERSION, "config": cfg, "state": clf.model.state_dict(),
            "label_names": clf.label_names, "info": clf.info}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_classifier(path: Path) -> TrainedClassifier:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("version") != CACHE_VERSION:
            raise ValueError(f"cache version {blob.get('version')} != {CACHE_VERSION}")
        model = DrumLoopClassifier(ClassifierConfig(**blob["config"]))
        model.load_state_dict(blob["state"])
    except FileNotFoundError:
        raise
    except Exception as e:  # a damaged or old cache file is simply retrained
        raise ValueError(f"{path}: unusable classifier cache ({e})") from e
    return TrainedClassifier(model.eval(), blob["label_names"], dict(blob["info"]))


def classifier_for_dataset(ds, train_idx: np.ndarray, held_idx: np.ndarray, bar_samples: int,
                           max_examples: int = 1200, max_seconds: float = 40.0,
                           steps: int = 800, retrain: bool = False, device: str = "cpu",
                           digest: str | None = None) -> TrainedClassifier:
    """The cached classifier for this dataset file, training (and caching) it when needed.

    Trains on up to `max_examples` bars of the training split (spread over source loops) and
    reports its accuracy on up to `max_examples` held-out bars."""
    path_ds = Path(ds.path)
    digest = digest or sha256_file(path_ds)
    path = cache_path(path_ds, digest)
    if path.is_file() and not retrain:
        try:
            clf = load_classifier(path)
            if clf.model.cfg.bar_samples == bar_samples:
                clf.info["cache"] = str(path)
                clf.info["cached"] = True
                return clf
            log.info("%s: made for %d-sample bars, retraining for %d", path,
                     clf.model.cfg.bar_samples, bar_samples)
        except ValueError as e:
            log.warning("%s; retraining", e)
    rng = np.random.default_rng(0)
    tr = train_idx[spread_subset(ds.source[train_idx], max_examples, rng)]
    va = held_idx[spread_subset(ds.source[held_idx], max_examples, rng)] if len(held_idx) else held_idx
    names = {"style": list(ds.meta.get("styles", [])), "kit": list(ds.meta.get("kits", []))}
    clf = train_classifier(
        _bars(ds.audio[tr], bar_samples), {k: v[tr] for k, v in ds.labels.items()}, names,
        int(ds.meta["sample_rate"]), bar_samples,
        val_audio=_bars(ds.audio[va], bar_samples) if len(va) else None,
        val_labels={k: v[va] for k, v in ds.labels.items()}, steps=steps,
        max_seconds=max_seconds, device=device)
    clf.info.update(dataset_sha256=digest, trained_on="train split (held-out sources excluded)")
    try:
        save_classifier(clf, path)
        clf.info["cache"] = str(path)
    except OSError as e:  # the evaluation still works; only the next run pays the training again
        log.warning("could not cache the classifier at %s (%s)", path, e)
        clf.info["cache"] = None
    clf.info["cached"] = False
    log.info("classifier: %s", json.dumps(clf.info))
    return clf


def _bars(audio: np.ndarray, bar_samples: int) -> np.ndarray:
    """Float32 bars cropped to `bar_samples` (int16 dataset audio is scaled by 1/32768)."""
    x = audio[..., :bar_samples]
    if x.dtype == np.int16:
        return x.astype(np.float32) * np.float32(1.0 / 32768.0)
    return np.asarray(x, np.float32)


def inception_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))): high when each bar is confidently one class and the classes
    are used evenly. Between 1 and the number of classes."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    py = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p) - np.log(py))).sum(axis=1)
    return float(math.exp(kl.mean()))
