"""The fixed quality judge: does a set of bars sound like drum loops, in figures no model can game.

`beatgan evaluate`, `beatgan ship`, training runs and the shipped-weights test all use the one
network committed in `training/judge/` (fp16 safetensors + judge_card.json), as FAD fixes VGGish
and FID fixes Inception-v3: a figure means the same thing in every session. It was trained once,
on real bars only (`beatgan judge build`, see judge_data.py and judge_net.py), and is never
retrained by an evaluation.

Figures per set of bars (judge_figures):
- frechet: Fréchet distance between Gaussians fitted to the set's embeddings and to the reference
  (real training bars) embeddings;
- precision / recall: k-NN precision and recall in the embedding (Kynkäänniemi et al., NeurIPS
  2019, k = 3): precision = share of the set's bars inside the reference manifold (fidelity),
  recall = share of reference bars inside the set's manifold (coverage, variety);
- artefact_db / artefact_hz: the largest peak of the set's average log spectrum over its own
  200 Hz median-smoothed version, 100 Hz - 7 kHz (steady tonal lines, e.g. a stride artefact);
and from evaluate's waveform figures: the within-set nearest score and the similar fraction.

`check_targets` turns them into one `meets_targets`, with the targets written in the judge card.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

JUDGE_DIR = Path(__file__).resolve().parent / "judge"
WEIGHTS_FILE = "judge.safetensors"
CARD_FILE = "judge_card.json"
K_NEIGHBOURS = 3

# The targets every judged set is held to; written into the judge card (`targets`), read back
# from there. Relative targets are relative to the real held-out bars measured the same way.
TARGETS = {
    "frechet_max_x_real": 3.0,          # Fréchet distance <= 3 x the real held-out bars'
    "precision_min": 0.6,               # k-NN precision >= 0.6
    "recall_min": 0.3,                  # k-NN recall >= 0.3
    "artefact_db_max_over_real": 3.0,   # artefact prominence <= the real bars' + 3 dB
    "self_nearest_min_x_real": 0.5,     # within-set nearest score >= half of the real bars'
    "similar_fraction_below": 0.4,      # similar to a training bar: < 40 % of bars
}
TARGET_TEXT = {
    "frechet": "Fréchet distance <= {frechet_max_x_real:g} x real",
    "precision": "precision >= {precision_min:g}",
    "recall": "recall >= {recall_min:g}",
    "artefact_db": "artefact <= real + {artefact_db_max_over_real:g} dB",
    "self_nearest": "within-set nearest >= {self_nearest_min_x_real:g} x real",
    "similar_fraction": "similar < {similar_fraction_below:.0%}",
}


class JudgeUnavailable(ValueError):
    """The committed judge is missing or does not match its card."""


class Judge:
    """The frozen judge network and its card; `embed` maps bars to the embedding."""

    def __init__(self, net, card: dict, folder: Path | None = None):
        self.net = net
        self.card = card
        self.folder = folder

    @property
    def targets(self) -> dict:
        return dict(self.card.get("targets") or TARGETS)

    @property
    def sample_rate(self) -> int:
        return int(self.net.cfg.sample_rate)

    @property
    def bar_samples(self) -> int:
        return int(self.net.cfg.bar_samples)

    @classmethod
    def load(cls, folder: str | Path | None = None, verify: bool = True) -> "Judge":
        """The judge in `folder` (default: the committed one), its weights' sha256 checked."""
        from beatgan.generator.weights import sha256_file

        from .judge_net import load_net
        folder = Path(folder) if folder else JUDGE_DIR
        card_path, weights = folder / CARD_FILE, folder / WEIGHTS_FILE
        if not card_path.is_file() or not weights.is_file():
            raise JudgeUnavailable(f"{folder}: no judge here (expected {CARD_FILE} and "
                                   f"{WEIGHTS_FILE}; `beatgan judge build --out {folder}` makes one)")
        card = json.loads(card_path.read_text())
        if verify:
            want = card.get("files", {}).get(WEIGHTS_FILE)
            got = sha256_file(weights)
            if want != got:
                raise JudgeUnavailable(f"{weights}: sha256 {got[:12]}... does not match the card's "
                                       f"{str(want)[:12]}...")
        return cls(load_net(card["config"], weights), card, folder)

    def embed(self, bars: np.ndarray, batch: int = 64) -> np.ndarray:
        """(n, 2, bar_samples) float bars at the judge's rate -> (n, embed_dim) float64."""
        import torch
        bars = np.asarray(bars)
        assert bars.ndim == 3 and bars.shape[1:] == (2, self.bar_samples), \
            f"expected (n, 2, {self.bar_samples}) bars, got {bars.shape} (use to_judge_bars)"
        out = []
        with torch.no_grad():
            for i in range(0, len(bars), batch):
                x = torch.from_numpy(np.asarray(bars[i:i + batch], np.float32))
                out.append(self.net.embed(x).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.net.cfg.embed_dim))

    def info(self) -> dict:
        c = self.card
        committed = self.folder is not None and Path(self.folder).resolve() == JUDGE_DIR
        return {"folder": "training/judge (committed)" if committed else
                (str(self.folder) if self.folder else None), "name": c.get("name"),
                "sha256": c.get("files", {}).get(WEIGHTS_FILE),
                "heldout_accuracy": c.get("training", {}).get("heldout_accuracy"),
                "targets": self.targets}


_CACHED: dict[str, Judge] = {}


def default_judge() -> Judge:
    """The committed judge, loaded once per process."""
    key = str(JUDGE_DIR)
    if key not in _CACHED:
        _CACHED[key] = Judge.load(JUDGE_DIR)
    return _CACHED[key]


# ---- bars in musical time ----------------------------------------------------------------------
def to_judge_bars(bars: np.ndarray, sample_rate: int, tempo_bpm: float,
                  judge_rate: int = 14700, judge_bar: int = 28224) -> np.ndarray:
    """(n, C, T) bars at (sample_rate, tempo_bpm) -> (n, 2, judge_bar) float32: the first bar,
    resampled so one bar fills judge_bar samples (a bar at another tempo keeps its sixteenth lines
    where the judge expects them), mono duplicated to stereo."""
    from beatgan.generator.musical_time import frames
    bars = np.asarray(bars, np.float32)
    if bars.ndim == 2:
        bars = bars[:, None]
    assert bars.ndim == 3, f"expected (n, channels, samples), got {bars.shape}"
    bar = frames(4, tempo_bpm, sample_rate)
    x = bars[..., :bar]
    if x.shape[-1] < bar:
        x = np.pad(x, ((0, 0), (0, 0), (0, bar - x.shape[-1])))
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    x = x[:, :2]
    if bar != judge_bar:
        import soxr
        x = np.stack([soxr.resample(np.ascontiguousarray(b.T), bar, judge_bar, quality="VHQ").T
                      for b in x])
        if x.shape[-1] < judge_bar:
            x = np.pad(x, ((0, 0), (0, 0), (0, judge_bar - x.shape[-1])))
        x = x[..., :judge_bar]
    return np.ascontiguousarray(x, np.float32)


# ---- figures -----------------------------------------------------------------------------------
def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = (a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None]
    return np.sqrt(np.maximum(d2, 0.0))


def knn_radii(x: np.ndarray, k: int = K_NEIGHBOURS) -> np.ndarray:
    """Per point: distance to its k-th nearest *other* point of the same set."""
    if len(x) <= k:
        raise ValueError(f"need more than k = {k} points for k-NN radii, got {len(x)}")
    d = _pairwise(x, x)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = K_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): a point is inside a set's
    manifold when it lies within the k-NN radius of some point of that set.
    precision = share of `fake` inside real's manifold; recall = share of `real` inside fake's."""
    d = _pairwise(fake, real)                       # (n_fake, n_real)
    precision = float((d <= knn_radii(real, k)[None]).any(axis=1).mean())
    recall = float((d <= knn_radii(fake, k)[:, None]).any(axis=0).mean())
    return precision, recall


def mean_log_spectrum(bars: np.ndarray, sample_rate: int, n_fft: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(freqs in Hz, dB): the set's average log spectrum, mono: each bar's power spectrum (Welch,
    Hann, 50 % overlap) in dB, averaged over the bars. Averaging dB, not power, keeps a loud tonal
    hit in a few bars (a cowbell) from standing out as if every bar had it."""
    x = np.asarray(bars, np.float64)
    x = x.mean(axis=1) if x.ndim == 3 else x
    hop = n_fft // 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2).mean(axis=1)  # (n, F)
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate), (10 * np.log10(power + 1e-20)).mean(axis=0)


def artefact_prominence(bars: np.ndarray, sample_rate: int, fmin: float = 100.0,
                        fmax: float = 7000.0, window_hz: float = 200.0,
                        n_fft: int = 4096) -> tuple[float, float]:
    """(dB, Hz): the largest height of the set's average log spectrum over its own median-smoothed
    version (a `window_hz` running median), between fmin and fmax. Steady tones in every bar, such
    as the lines a strided upsampler leaves at multiples of rate / stride, stand out; drum hits
    average out (real bars: about 2 dB)."""
    freqs, db = mean_log_spectrum(bars, sample_rate, n_fft)
    half = max(1, int(round(window_hz / (freqs[1] - freqs[0]) / 2)))
    padded = np.pad(db, half, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=-1)
    band = (freqs >= fmin) & (freqs <= min(fmax, sample_rate / 2))
    excess = np.where(band, db - smooth, -np.inf)
    i = int(np.argmax(excess))
    return float(excess[i]), float(freqs[i])


class Reference:
    """The real training bars' embeddings the figures compare with (and their Gaussian)."""

    def __init__(self, embeddings: np.ndarray):
        self.emb = np.asarray(embeddings, np.float64)
        self.mu = self.emb.mean(0)
        self.sigma = np.cov(self.emb, rowvar=False)

    def __len__(self) -> int:
        return len(self.emb)


def judge_figures(judge: Judge, bars: np.ndarray, reference: Reference,
                  emb: np.ndarray | None = None) -> dict:
    """Fréchet distance, precision, recall and artefact figure of one set of judge-rate bars."""
    from .evaluate import frechet_from_stats
    emb = judge.embed(bars) if emb is None else emb
    out: dict = {"frechet": None, "precision": None, "recall": None}
    if len(emb) >= 2:
        out["frechet"] = frechet_from_stats(emb.mean(0), np.cov(emb, rowvar=False),
                                            reference.mu, reference.sigma)
    if len(emb) > K_NEIGHBOURS and len(reference) > K_NEIGHBOURS:
        out["precision"], out["recall"] = precision_recall(reference.emb, emb)
    out["artefact_db"], out["artefact_hz"] = artefact_prominence(bars, judge.sample_rate)
    return out


def check_targets(row: dict, real: dict | None, targets: dict = TARGETS) -> dict:
    """Per target: {value, limit, pass}; `meets_targets` is True only when every target can be
    measured and passes. `row` and `real` hold judge_figures plus self_nearest_median and
    similar_fraction (evaluate's figures)."""
    t = {**TARGETS, **(targets or {})}
    real = real or {}

    def rel(key, factor=None, offset=None):
        base = real.get(key)
        if base is None:
            return None
        return base * factor if factor is not None else base + offset

    spec = {
        "frechet": (row.get("frechet"), rel("frechet", factor=t["frechet_max_x_real"]), "<="),
        "precision": (row.get("precision"), t["precision_min"], ">="),
        "recall": (row.get("recall"), t["recall_min"], ">="),
        "artefact_db": (row.get("artefact_db"), rel("artefact_db", offset=t["artefact_db_max_over_real"]), "<="),
        "self_nearest": (row.get("self_nearest_median"),
                         rel("self_nearest_median", factor=t["self_nearest_min_x_real"]), ">="),
        "similar_fraction": (row.get("similar_fraction"), t["similar_fraction_below"], "<"),
    }
    out = {}
    for name, (value, limit, op) in spec.items():
        ok = None
        if value is not None and limit is not None:
            ok = bool(value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit)
        out[name] = {"value": None if value is None else round(float(value), 5),
                     "limit": None if limit is None else round(float(limit), 5), "op": op, "pass": ok}
    return {"meets_targets": all(v["pass"] is True for v in out.values()),
            "failed": [k for k, v in out.items() if v["pass"] is not True], "targets": out}


def target_text(targets: dict = TARGETS) -> dict[str, str]:
    t = {**TARGETS, **(targets or {})}
    return {k: v.format(**t) for k, v in TARGET_TEXT.items()}


class RunJudge:
    """The judge as a training run uses it: built once from the run's data (a fixed reference of
    training bars, one per source loop, and the real held-out row measured once), then
    `figures(bars)` per checkpoint: the judge's figures, the targets, and one `score` to pick the
    best checkpoint by (the real held-out row's Fréchet distance over the generated bars': 1.0 =
    as close to the training bars as real held-out bars; higher is better).

    Bars are (n, C, T) at (sample_rate, tempo_bpm), float or int16 dataset audio."""

    def __init__(self, train_bars: np.ndarray, sample_rate: int, tempo_bpm: float,
                 heldout_bars: np.ndarray | None = None, judge: Judge | None = None):
        self.judge = judge or default_judge()
        self.sample_rate, self.tempo_bpm = int(sample_rate), float(tempo_bpm)
        self.reference = Reference(self.judge.embed(self._judge_bars(train_bars)))
        self.real = None
        if heldout_bars is not None and len(heldout_bars) > K_NEIGHBOURS:
            real = _as_float(heldout_bars)
            self.real = self._measure(real)

    def _judge_bars(self, bars: np.ndarray) -> np.ndarray:
        return to_judge_bars(_as_float(bars), self.sample_rate, self.tempo_bpm,
                             self.judge.sample_rate, self.judge.bar_samples)

    def _measure(self, bars: np.ndarray) -> dict:
        from .evaluate import within_set_nearest
        out = judge_figures(self.judge, self._judge_bars(bars), self.reference)
        out["self_nearest_median"] = float(np.median(within_set_nearest(bars)))
        return out

    def figures(self, bars: np.ndarray) -> dict:
        """Judge figures of a checkpoint's bars; `meets_targets` leaves the similar fraction out
        (it needs every training bar: `beatgan evaluate` measures it)."""
        out = self._measure(_as_float(bars))
        if self.real is not None:
            res = check_targets({**out, "similar_fraction": 0.0}, self.real, self.judge.targets)
            out["meets_targets"] = res["meets_targets"]
            out["failed_targets"] = res["failed"]
            out["score"] = float(self.real["frechet"] / max(out["frechet"], 1e-9))
        else:
            out["score"] = float(1.0 / (1.0 + out["frechet"]))
        return out


    def score_into(self, figs: dict, bars: np.ndarray) -> dict:
        """A checkpoint's evaluation with the judge's figures added (as judge_*) and its score
        replaced by the judge's: the best checkpoint is the one the judge rates closest to real."""
        out = self.figures(bars)
        for k in ("frechet", "precision", "recall", "artefact_db", "artefact_hz",
                  "self_nearest_median", "meets_targets"):
            if out.get(k) is not None:
                figs[f"judge_{k}"] = round(float(out[k]), 4) if k != "meets_targets" else bool(out[k])
        if self.real is not None:
            figs["judge_real_frechet"] = round(float(self.real["frechet"]), 2)
            figs["judge_failed_targets"] = list(out.get("failed_targets", []))
        figs["score"] = float(out["score"])
        return figs


def run_judge_for(audio: np.ndarray, source: np.ndarray, train_idx: np.ndarray,
                  held_idx: np.ndarray, sample_rate: int, tempo_bpm: float,
                  bar_samples: int | None = None, n: int = 256, seed: int = 0) -> RunJudge | None:
    """The judge a `beatgan train` run picks its best checkpoint with: the reference is one
    training bar per source loop and the real row one held-out bar per source loop, as
    `beatgan evaluate` picks them (noisy copies of one bar would be each other's neighbours).
    None where the dataset is too small to measure anything (a toy set)."""
    from .evaluate import one_per_source
    rng = np.random.default_rng(seed)
    ref = one_per_source(np.asarray(train_idx), source, n, rng)
    if len(ref) <= K_NEIGHBOURS:
        return None
    held = one_per_source(np.asarray(held_idx), source, n, rng) if len(held_idx) else held_idx
    return RunJudge(audio[ref][..., :bar_samples], sample_rate, tempo_bpm,
                    audio[held][..., :bar_samples] if len(held) > K_NEIGHBOURS else None)


def _as_float(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.int16:
        return x.astype(np.float32) * np.float32(1.0 / 32768.0)
    return np.asarray(x, np.float32)
