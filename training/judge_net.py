"""The judge network: one 4/4 bar in musical time -> a 128-d embedding, and what it was taught.

Read top-down: config, features (mid and side log-mel, 6 frames per sixteenth note), the network
(conv blocks over mel x time, one grid-aligned cell per sixteenth, an embedding), training with
augmentation, and the committed format (fp16 safetensors + judge_card.json).

Input: float32 (B, 2, 28224) at 14.7 kHz = one bar at 125 bpm. The embedding is the layer every
head reads: kit, style, tempo class, bus mode, and the pattern (per role group and sixteenth step,
whether a hit starts there), so bars that differ in timbre, in groove or in where their hits fall
land apart.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


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


@dataclass(frozen=True)
class JudgeConfig:
    sample_rate: int = 14700         # Hz, the model rate
    bar_samples: int = 28224         # samples per bar (one 4/4 bar at 125 bpm)
    n_fft: int = 512                 # STFT size, samples (35 ms)
    frames: int = 96                 # time frames per bar: 6 per sixteenth note (hop 294 = 20 ms)
    n_mels: int = 48                 # mel bands, 30 Hz .. Nyquist
    width: int = 8                   # channels of the first conv block (x2, x4, x4 after)
    embed_dim: int = 128             # the embedding the Fréchet distance and k-NN use
    steps: int = 16                  # sixteenth steps per bar (onset targets)
    groups: int = 4                  # role groups of the onset targets
    # Mel power added before the log: 10x the power the dataset's noise floor (prepare's +-10000
    # 24-bit LSB, -63 dBFS RMS) leaves in a band of the mid signal. The judge hears nothing below
    # it, so a clean bar and the same bar over the dataset's noise embed alike.
    floor_power: float = 4.5e-4
    heads: dict = field(default_factory=dict)  # label kind -> number of classes

    @property
    def hop(self) -> int:
        assert self.bar_samples % self.frames == 0, f"{self.frames} frames do not divide the bar"
        return self.bar_samples // self.frames


class StereoLogMel(nn.Module):
    """(B, 2, T) audio -> (B, 2, n_mels, frames): log-mel of mid (L+R)/2 and of side (L-R)/2,
    about -0.84 (silence, the floor) .. 1 (full scale)."""

    def __init__(self, cfg: JudgeConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.register_buffer("fb", torch.from_numpy(
            mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return log_scale(self.mel_power(x), self.cfg.floor_power)

    def mel_power(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, T) audio -> (B, 2, n_mels, frames) mel power of mid and side."""
        cfg = self.cfg
        assert x.ndim == 3 and x.shape[1] == 2, f"expected (B, 2, T) audio, got {tuple(x.shape)}"
        x = x[..., :cfg.bar_samples].float()
        if x.shape[-1] < cfg.bar_samples:
            x = F.pad(x, (0, cfg.bar_samples - x.shape[-1]))
        ms = torch.stack([x.sum(1), x[:, 0] - x[:, 1]], dim=1) * 0.5    # (B, 2, T)
        b = ms.shape[0]
        spec = torch.stft(ms.reshape(2 * b, -1), cfg.n_fft, cfg.hop, window=self.window,
                          return_complex=True)
        power = spec.abs().pow(2)[..., :cfg.frames]                      # (2B, F, frames)
        mel = torch.einsum("mf,bft->bmt", self.fb, power)
        return mel.reshape(b, 2, cfg.n_mels, cfg.frames)


def log_scale(mel_power: torch.Tensor, floor_power: float) -> torch.Tensor:
    return torch.log10(mel_power + floor_power) / 4.0


def _block(c_in: int, c_out: int, pool: tuple[int, int] | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(pool))
    return layers


class JudgeNet(nn.Module):
    def __init__(self, cfg: JudgeConfig):
        super().__init__()
        self.cfg = cfg
        self.features = StereoLogMel(cfg)
        w = cfg.width
        self.convs = nn.Sequential(*_block(2, w, (2, 2)), *_block(w, 2 * w, (2, 1)),
                                   *_block(2 * w, 4 * w, (2, 1)), *_block(4 * w, 4 * w, None))
        mel_out, t_out = cfg.n_mels // 8, cfg.frames // 2          # (6, 48)
        assert t_out % cfg.steps == 0, f"{t_out} frames do not split into {cfg.steps} steps"
        per_step = t_out // cfg.steps                                 # 3 frames per sixteenth
        # One cell per sixteenth, aligned to the grid: where a hit starts within its step matters.
        self.cell = nn.Conv1d(4 * w * mel_out, 128, per_step, stride=per_step)
        self.groove = nn.Conv1d(128, 128, 3, padding=1, padding_mode="circular")
        self.embed_layer = nn.Linear(128 * cfg.steps, cfg.embed_dim)
        self.heads = nn.ModuleDict({k: nn.Linear(cfg.embed_dim, n) for k, n in cfg.heads.items()})
        self.onsets = nn.Linear(cfg.embed_dim, cfg.groups * cfg.steps)

    def embed_features(self, feats: torch.Tensor) -> torch.Tensor:
        h = self.convs(feats)                                 # (B, 4w, 6, 48)
        h = h.flatten(1, 2)                                   # (B, 4w * 6, 48)
        h = F.relu(self.cell(h))                              # (B, 128, 16)
        h = F.relu(self.groove(h)) + h                        # (B, 128, 16)
        return self.embed_layer(h.flatten(1))                 # (B, embed_dim)

    def embed(self, audio: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.features(audio))

    def predict(self, e: torch.Tensor) -> dict[str, torch.Tensor]:
        h = F.relu(e)
        out = {k: head(h) for k, head in self.heads.items()}
        out["onsets"] = self.onsets(h).view(-1, self.cfg.groups, self.cfg.steps)
        return out

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.predict(self.embed(audio))


# ---- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgeTrainConfig:
    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3                 # Adam; halved for the last quarter of the epochs
    onset_weight: float = 4.0        # weight of the onset BCE (mean over groups x steps)
    seed: int = 0                    # torch seed: initialisation, batch order, augmentation
    gain_db: float = 6.0             # augmentation: gain uniform in +-gain_db
    shift_ms: float = 5.0            # augmentation: circular time shift uniform in +-shift_ms
    noise_p: float = 0.5             # augmentation: probability of the dataset's noise floor
    noise_peak: float = 10000 / 2 ** 23  # its uniform peak (prepare's +-10000 24-bit LSB, -63 dBFS RMS)


SHIFT_VARIANTS = 3                   # precomputed time shifts per bar: -shift_ms, 0, +shift_ms
NOISE_VARIANTS = 16                  # precomputed noise-floor realisations


@torch.no_grad()
def mel_powers(net: JudgeNet, audio: np.ndarray, shift: int = 0, batch: int = 64) -> torch.Tensor:
    """(N, 2, n_mels, frames) mel power of float bars, circularly shifted by `shift` samples."""
    out = []
    for i in range(0, len(audio), batch):
        x = torch.from_numpy(np.asarray(audio[i:i + batch], np.float32))
        out.append(net.features.mel_power(torch.roll(x, shift, dims=-1) if shift else x))
    return torch.cat(out)


def augmented_features(power: torch.Tensor, noise: torch.Tensor, idx: torch.Tensor,
                       cfg: "JudgeTrainConfig", gen: torch.Generator,
                       floor_power: float) -> torch.Tensor:
    """Log-mel of a batch with augmentation applied in the mel-power domain (the STFT is then
    computed once per bar, not per epoch): a precomputed shift variant, a gain, and for some bars
    a precomputed noise floor (powers add)."""
    b = len(idx)
    variant = torch.randint(0, power.shape[0], (b,), generator=gen)
    gain = 10 ** ((torch.rand(b, generator=gen) * 2 - 1) * cfg.gain_db / 10)   # power gain
    noisy = (torch.rand(b, generator=gen) < cfg.noise_p).float()
    pick = torch.randint(0, noise.shape[0], (b,), generator=gen)
    p = power[variant, idx] * gain[:, None, None, None] + noise[pick] * noisy[:, None, None, None]
    return log_scale(p, floor_power)


def train_judge(data, cfg: JudgeConfig | None = None, tcfg: JudgeTrainConfig = JudgeTrainConfig(),
                log=None) -> tuple[JudgeNet, dict]:
    """Train on the non-held-out bars of `data` (judge_data.JudgeData); one CPU thread, fixed seeds,
    so the same data gives the same weights. Returns (network in eval mode, info with accuracies)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(data, cfg, tcfg, log)
    finally:
        torch.set_num_threads(threads)


def _train(data, cfg, tcfg, log):
    heads = {k: len(v) for k, v in data.classes.items()}
    cfg = cfg or JudgeConfig(heads=heads)
    torch.manual_seed(tcfg.seed)
    net = JudgeNet(cfg)
    gen = torch.Generator().manual_seed(tcfg.seed)
    t0 = time.monotonic()
    train_idx = np.nonzero(~data.heldout)[0]
    train_audio = data.audio[train_idx]
    max_shift = int(round(tcfg.shift_ms * 1e-3 * cfg.sample_rate))
    shifts = np.linspace(-max_shift, max_shift, SHIFT_VARIANTS).round().astype(int)
    power = torch.stack([mel_powers(net, train_audio, int(s)) for s in shifts])  # (V, N, 2, M, T)
    rng = np.random.default_rng(tcfg.seed)
    noise_audio = rng.uniform(-tcfg.noise_peak, tcfg.noise_peak,
                              (NOISE_VARIANTS, 2, cfg.bar_samples)).astype(np.float32)
    noise = mel_powers(net, noise_audio)
    onsets = torch.from_numpy(data.onsets[train_idx])
    labels = {k: torch.from_numpy(v[train_idx]) for k, v in data.labels.items()}
    t_feat = time.monotonic() - t0
    opt = torch.optim.Adam(net.parameters(), tcfg.lr)
    history = []
    n = len(train_idx)
    for epoch in range(tcfg.epochs):
        if epoch == (3 * tcfg.epochs) // 4:
            for group in opt.param_groups:
                group["lr"] = tcfg.lr / 2
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, tcfg.batch_size):
            idx = perm[i:i + tcfg.batch_size]
            feats = augmented_features(power, noise, idx, tcfg, gen, cfg.floor_power)
            out = net.predict(net.embed_features(feats))
            loss = sum(F.cross_entropy(out[k], labels[k][idx]) for k in cfg.heads)
            loss = loss + tcfg.onset_weight * F.binary_cross_entropy_with_logits(
                out["onsets"], onsets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(round(total / n, 4))
        if log:
            log(f"epoch {epoch + 1}/{tcfg.epochs}: loss {total / n:.4f} "
                f"({time.monotonic() - t0:.0f} s)")
    net.eval().requires_grad_(False)
    info = {"epochs": tcfg.epochs, "train_loss": history,
            "feature_seconds": round(t_feat, 1), "train_seconds": round(time.monotonic() - t0, 1),
            "train_bars": int(n), "heldout_bars": int(data.heldout.sum()),
            "heldout_accuracy": accuracy(net, data, data.heldout),
            "train_accuracy": accuracy(net, data, ~data.heldout)}
    return net, info


@torch.no_grad()
def accuracy(net: JudgeNet, data, mask: np.ndarray, batch: int = 128) -> dict:
    """Per head: share of bars classified right; onsets: share of (group, step) cells right and
    the F1 of the hits."""
    idx = np.nonzero(mask)[0]
    preds: dict[str, list] = {k: [] for k in net.cfg.heads}
    hits = []
    for i in range(0, len(idx), batch):
        out = net(torch.from_numpy(data.audio[idx[i:i + batch]]))
        for k in net.cfg.heads:
            preds[k].append(out[k].argmax(1).numpy())
        hits.append((out["onsets"] > 0).numpy())
    acc = {k: round(float((np.concatenate(v) == data.labels[k][idx]).mean()), 4) for k, v in preds.items()}
    pred, true = np.concatenate(hits), data.onsets[idx] > 0.5
    tp = float((pred & true).sum())
    acc["onset_cells"] = round(float((pred == true).mean()), 4)
    acc["onset_f1"] = round(2 * tp / max(float(pred.sum() + true.sum()), 1.0), 4)
    return acc


# ---- the committed format ----------------------------------------------------------------------
def save_weights(net: JudgeNet, path) -> None:
    """fp16 safetensors of the state dict, keys sorted: the same weights give the same bytes."""
    from safetensors.torch import save_file
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in sorted(net.state_dict().items())}
    save_file(state, str(path), metadata={"format": "beatgan-judge/1"})


def load_net(config: dict, path) -> JudgeNet:
    from safetensors.torch import load_file
    cfg = JudgeConfig(**config)
    net = JudgeNet(cfg)
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


def config_dict(cfg: JudgeConfig) -> dict:
    return asdict(cfg)


def n_parameters(net: nn.Module) -> int:
    return int(sum(math.prod(p.shape) for p in net.parameters()))
