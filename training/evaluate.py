"""`beatgan evaluate`'s figures: does a model make drum loops, and are they its own?

Three sets of bars are measured the same way, so every figure has a floor and a ceiling next to it:

- generated: the model's bars for seeds first_seed .. first_seed + n - 1;
- real, held-out: bars of the source loops the trainer never saw
  (`Dataset.split_by_source(0.1, seed=0)`, as `beatgan train` splits);
- untrained: the same network, randomly initialised (what "no learning" scores).

Figures per set: the seed's similarity score sum((A-B)^2)/sum(A^2) of each bar against every
training bar (the share with a score <= 0.1 to some training bar: the seed reported 30-40 %),
onset alignment to the sixteenth-note grid at the model tempo, frame-energy dynamics, loudness,
and a Fréchet distance to real training bars in the embedding of a small drum-loop classifier
trained on the dataset's style/kit labels (the WaveGAN paper's Inception-score method, adapted;
its Inception score over the style head is reported too).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .metrics import (GRID_TOLERANCE_S, SIMILAR_BELOW, dynamics_db, onset_grid_score, onset_timing,
                      similarity_matrix, spectral_flux)
from beatgan.generator.latent import check_truncation

log = logging.getLogger(__name__)

SETS = ("generated", "real_heldout", "untrained")
SET_TITLES = {"generated": "generated", "real_heldout": "real, held-out",
              "untrained": "untrained network"}


@dataclass
class EvalOptions:
    n: int = 64                       # generated bars (seeds first_seed .. first_seed + n - 1)
    first_seed: int = 0
    device: str = "auto"              # auto, cpu, cuda, cuda:1 ...
    holdout_fraction: float = 0.1     # as `beatgan train` splits the dataset
    holdout_seed: int = 0
    threshold: float = SIMILAR_BELOW  # similarity score that counts as "similar"
    classifier: bool = True           # train/load the classifier for the Fréchet distance
    retrain_classifier: bool = False
    classifier_seconds: float = 40.0  # training budget when the cache is missing, seconds
    reference_bars: int = 1024        # real training bars whose embeddings are the FD reference
    untrained_seed: int = 0           # torch seed of the random initialisation
    truncation: float | None = None   # latent truncation psi; None = the model card's default


@dataclass
class EvalResult:
    figures: dict                                   # everything that goes into the JSON
    bars: dict[str, np.ndarray] = field(default_factory=dict)  # set -> (n, C, bar) float32
    per_bar: dict[str, dict] = field(default_factory=dict)     # set -> {figure: (n,) array}


# ---- pure figures ------------------------------------------------------------------------------
def similarity_scores(generated: np.ndarray, training: np.ndarray, device: str | None = None,
                      chunk: int = 256) -> np.ndarray:
    """(n, N) seed similarity scores of each generated bar against every training bar.

    `training` may be int16 dataset audio (scaled by 1/32768 a chunk at a time, so a large
    dataset is never held as float). device None = NumPy; otherwise torch on that device.
    """
    a = np.asarray(generated, np.float32).reshape(len(generated), -1)
    n_train = len(training)
    flat = int(np.prod(training.shape[1:])) if n_train else a.shape[1]
    if flat != a.shape[1]:
        raise ValueError(f"bars differ in length: {a.shape[1]} vs {flat} samples")
    out = np.empty((len(a), n_train), np.float64)
    if device is None:
        for j in range(0, n_train, chunk):
            out[:, j:j + chunk] = similarity_matrix(a, _float(training[j:j + chunk]))
        return out
    import torch
    at = torch.as_tensor(a, device=device)
    aa = (at.double() ** 2).sum(1)
    for j in range(0, n_train, chunk):
        bj = torch.as_tensor(_float(training[j:j + chunk]).reshape(-1, a.shape[1]), device=device)
        bb = (bj.double() ** 2).sum(1)
        ab = (at @ bj.T).double()
        score = (aa[:, None] - 2.0 * ab + bb[None]) / aa.clamp_min(1e-12)[:, None]
        out[:, j:j + chunk] = score.clamp_min(0.0).cpu().numpy()
    return out


def _float(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.int16:
        return x.astype(np.float32) * np.float32(1.0 / 32768.0)
    return np.asarray(x, np.float32)


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (rows = examples):
    |mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2))."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"need at least 2 examples per set, got {len(x)} and {len(y)}")
    return frechet_from_stats(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    # tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), which is symmetric PSD,
    # so eigh suffices (no scipy.linalg.sqrtm and its complex round-off).
    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = r1 @ s2 @ r1
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    d = float(((np.asarray(mu1) - np.asarray(mu2)) ** 2).sum() + np.trace(s1) + np.trace(s2)
              - 2.0 * tr_sqrt)
    return max(d, 0.0)


def within_set_nearest(bars: np.ndarray) -> np.ndarray:
    """Per bar: the similarity score to the closest *other* bar of the same set. A low median
    means the set repeats itself (mode collapse, or truncation pushed too far)."""
    scores = similarity_matrix(bars, bars)
    np.fill_diagonal(scores, np.inf)
    return scores.min(axis=1)


def per_bar_figures(bars: np.ndarray, sample_rate: int, tempo_bpm: float,
                    flux: np.ndarray | None = None) -> dict[str, np.ndarray]:
    rms = np.sqrt((np.asarray(bars, np.float64) ** 2).mean(axis=(1, 2)))
    return {"grid": onset_grid_score(bars, sample_rate, tempo_bpm, flux=flux),
            "dynamics_db": dynamics_db(bars),
            "rms_db": 20 * np.log10(rms + 1e-12)}


def _timing(bars: dict[str, np.ndarray], sample_rate: int, tempo_bpm: float,
            flux: dict[str, np.ndarray]) -> dict:
    shares = {}
    for name, b in bars.items():
        edges, shares[name] = onset_timing(b, sample_rate, tempo_bpm, flux=flux[name])
    return {"edges_ms": [round(1000 * float(e), 3) for e in edges],
            "share": {name: [round(float(v), 5) for v in sh] for name, sh in shares.items()}}


def bar_quality(grid: np.ndarray, dyn_db: np.ndarray, ref_grid: float, ref_dyn_db: float) -> np.ndarray:
    """Per bar: the weaker of onset-grid alignment and dynamics, each relative to real bars
    (1.0 = as good as a typical real bar on both). Ranks the best and worst generated bars."""
    return np.minimum(np.asarray(grid) / max(ref_grid, 1e-6), np.asarray(dyn_db) / max(ref_dyn_db, 1e-6))


def _summary(per_bar: dict[str, np.ndarray], nearest: np.ndarray, threshold: float) -> dict:
    return {
        "n": int(len(nearest)),
        "similar_fraction": float((nearest <= threshold).mean()) if len(nearest) else None,
        "nearest_score_median": float(np.median(nearest)) if len(nearest) else None,
        "self_nearest_median": (float(np.median(per_bar["self_nearest_score"]))
                                if "self_nearest_score" in per_bar else None),
        "grid": float(per_bar["grid"].mean()),
        "dynamics_db": float(per_bar["dynamics_db"].mean()),
        "rms_db": float(20 * np.log10(np.mean(10 ** (per_bar["rms_db"] / 20)) + 1e-12)),
    }


# ---- I/O edges ---------------------------------------------------------------------------------
def pick_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    return device


def load_model(path: Path, device: str):
    """A BeatGenerator from a model folder (weights format) or a training checkpoint (.pt; its EMA
    generator when it has one)."""
    import torch

    from beatgan.generator import ModelCard
    from beatgan.generator.engine import BeatGenerator
    from beatgan.generator.weights import ModelLoadError

    path = Path(path)
    if path.is_file():
        from .trainer import generator_from_checkpoint, load_checkpoint
        ckpt = load_checkpoint(path)
        if not isinstance(ckpt, dict) or "model_config" not in ckpt or "G" not in ckpt:
            raise ValueError(f"{path}: not a `beatgan train` checkpoint")
        gcfg, net, key = generator_from_checkpoint(ckpt)
        net.to(device).eval().requires_grad_(False)
        card = ModelCard(config=gcfg, name=path.stem,
                         training={"steps": ckpt.get("step"), "generator_weights": key,
                                   "recipe": ckpt.get("train_config"),
                                   "data": {"dataset": ckpt.get("data_meta", {}).get("dataset")}})
        return BeatGenerator(card, net, device, torch.float32, path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model folder or checkpoint")
    try:
        return BeatGenerator.load(path, device=device)
    except ModelLoadError as e:
        raise ValueError(str(e)) from e


def untrained_like(gen, seed: int):
    """The same config, randomly initialised: what the figures look like before any training."""
    import torch

    from beatgan.generator.engine import BeatGenerator
    from beatgan.generator.wavegan import Generator

    torch.manual_seed(seed)
    net = Generator(gen.card.config).to(gen.device).eval().requires_grad_(False)
    return BeatGenerator(gen.card, net, gen.device, torch.float32, None, gen.truncation)


def check_compatible(card, meta: dict, dataset_path: Path) -> None:
    problems = []
    if int(meta["sample_rate"]) != card.sample_rate:
        problems.append(f"sample rate {meta['sample_rate']} Hz vs the model's {card.sample_rate} Hz")
    if abs(float(meta["tempo_bpm"]) - card.tempo_bpm) > 1e-6:
        problems.append(f"tempo {meta['tempo_bpm']} bpm vs the model's {card.tempo_bpm} bpm")
    if int(meta["channels"]) != card.channels:
        problems.append(f"{meta['channels']} channels vs the model's {card.channels}")
    if int(meta["slice_samples"]) < card.bar_samples:
        problems.append(f"examples of {meta['slice_samples']} samples are shorter than the model's "
                        f"bar of {card.bar_samples}")
    if problems:
        raise ValueError(f"{dataset_path}: does not fit the model: {'; '.join(problems)}")


def evaluate(model_path: Path, dataset_path: Path, opts: EvalOptions | None = None) -> EvalResult:
    """Measure a model against a dataset; returns the figures and the bars (nothing is written)."""
    from . import classifier as clf_mod
    from .dataset import load_dataset

    opts = opts or EvalOptions()
    if opts.n < 2:
        raise ValueError(f"--n must be at least 2 (a Fréchet distance needs two bars), got {opts.n}")
    t_start = time.monotonic()
    device = pick_device(opts.device)
    gen = load_model(model_path, device)
    if opts.truncation is not None:
        gen.truncation = check_truncation(opts.truncation)
    card = gen.card
    ds = load_dataset(dataset_path, float_audio=False)  # int16: half the memory
    check_compatible(card, ds.meta, Path(dataset_path))
    bar = card.bar_samples
    train_idx, held_idx = ds.split_by_source(opts.holdout_fraction, seed=opts.holdout_seed)
    if not len(train_idx):
        raise ValueError(f"{dataset_path}: no training bars left after holding out sources")
    train_audio = ds.audio[train_idx][..., :bar]
    rng = np.random.default_rng(opts.holdout_seed)

    seeds = list(range(opts.first_seed, opts.first_seed + opts.n))
    bars = {"generated": gen.generate(seeds), "untrained": untrained_like(gen, opts.untrained_seed).generate(seeds)}
    held_pick = (held_idx[clf_mod.spread_subset(ds.source[held_idx], opts.n, rng)]
                 if len(held_idx) else held_idx)
    if len(held_pick) >= 2:
        bars["real_heldout"] = _float(ds.audio[held_pick][..., :bar])
    t_gen = time.monotonic()

    sim_device = device if device.startswith("cuda") else None
    figures: dict = {"sets": {}, "threshold": opts.threshold}
    per_bar: dict[str, dict] = {}
    flux = {name: spectral_flux(b) for name, b in bars.items()}  # grid score and timing share it
    names = [name for name in SETS if name in bars]
    # One pass over the training bars for all sets: converting int16 chunks is half the cost.
    all_scores = similarity_scores(np.concatenate([bars[name] for name in names]), train_audio,
                                   sim_device)
    offsets = np.cumsum([0] + [len(bars[name]) for name in names])
    for name, lo, hi in zip(names, offsets[:-1], offsets[1:]):
        scores = all_scores[lo:hi]
        nearest = scores.min(axis=1)
        pb = per_bar_figures(bars[name], card.sample_rate, card.tempo_bpm, flux[name])
        pb["nearest_score"] = nearest
        pb["self_nearest_score"] = within_set_nearest(bars[name])
        pb["nearest_source"] = np.array(
            [ds.meta["sources"][int(ds.source[train_idx[j]])] for j in scores.argmin(axis=1)])
        per_bar[name] = pb
        figures["sets"][name] = _summary(pb, nearest, opts.threshold)
    figures["onset_timing"] = _timing(bars, card.sample_rate, card.tempo_bpm, flux)
    t_sim = time.monotonic()

    clf_info = None
    if opts.classifier:
        try:
            clf = clf_mod.classifier_for_dataset(ds, train_idx, held_idx, bar,
                                                 max_seconds=opts.classifier_seconds,
                                                 retrain=opts.retrain_classifier, device=device)
            ref_idx = train_idx[clf_mod.spread_subset(ds.source[train_idx], opts.reference_bars, rng)]
            ref = clf.embed(_float(ds.audio[ref_idx][..., :bar]), device)
            for name in bars:
                emb = clf.embed(bars[name], device)
                figures["sets"][name]["frechet"] = frechet_distance(emb, ref)
                if "style" in clf.model.heads:
                    figures["sets"][name]["style_inception_score"] = clf_mod.inception_score(
                        clf.probabilities(bars[name], "style", device))
            clf_info = {**clf.info, "reference_bars": int(len(ref_idx))}
        except clf_mod.ClassifierUnavailable as e:
            clf_info = {"unavailable": str(e)}
    t_clf = time.monotonic()

    ref_set = "real_heldout" if "real_heldout" in per_bar else None
    if ref_set:
        ref_grid = float(np.median(per_bar[ref_set]["grid"]))
        ref_dyn = float(np.median(per_bar[ref_set]["dynamics_db"]))
    else:  # no held-out loops (a tiny dataset): fall back to the training bars
        sample = _float(train_audio[:opts.n])
        pbt = per_bar_figures(sample, card.sample_rate, card.tempo_bpm)
        ref_grid, ref_dyn = float(np.median(pbt["grid"])), float(np.median(pbt["dynamics_db"]))
    for pb in per_bar.values():
        pb["quality"] = bar_quality(pb["grid"], pb["dynamics_db"], ref_grid, ref_dyn)
    for name, pb in per_bar.items():
        figures["sets"][name]["quality_median"] = float(np.median(pb["quality"]))

    figures.update({
        "model": {"path": str(model_path), "name": card.name, "config": card.config.to_dict(),
                  "training": {k: card.training.get(k) for k in ("steps", "recipe", "wall_minutes",
                                                                  "generator_weights", "data")
                               if k in card.training}},
        "dataset": {"path": str(dataset_path), "examples": len(ds), "train_bars": int(len(train_idx)),
                    "heldout_bars": int(len(held_idx)),
                    "heldout_sources": int(len(np.unique(ds.source[held_idx]))),
                    "holdout_fraction": opts.holdout_fraction, "holdout_seed": opts.holdout_seed},
        "seeds": [seeds[0], seeds[-1]], "device": device, "untrained_seed": opts.untrained_seed,
        "truncation": gen.truncation,
        "quality_reference": {"set": ref_set or "training", "grid": ref_grid, "dynamics_db": ref_dyn},
        "classifier": clf_info,
        "seconds": {"generate": round(t_gen - t_start, 2), "similarity": round(t_sim - t_gen, 2),
                    "classifier": round(t_clf - t_sim, 2), "total": round(time.monotonic() - t_start, 2)},
    })
    trained_on = (card.training.get("data") or {}).get("dataset") if isinstance(
        card.training.get("data"), dict) else None
    if trained_on and Path(trained_on).name != Path(dataset_path).name:
        figures["warning"] = (f"the model card says it was trained on {trained_on}; the held-out "
                              "split is only held out if it is the same dataset")
    return EvalResult(figures, bars, per_bar)


# ---- report ------------------------------------------------------------------------------------
def write_report(result: EvalResult, out_dir: Path, n_pictures: int = 4) -> Path:
    """report.md, evaluation.json, best_worst.png (+ real_heldout.png) and the best/worst WAVs."""
    import soundfile as sf

    from .artifacts import onset_timing_png, spectrogram_grid

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = result.figures
    sr = int(fig["model"]["config"]["sample_rate"])
    gen_pb = result.per_bar["generated"]
    order = np.argsort(-gen_pb["quality"], kind="stable")
    k = min(n_pictures, len(order) // 2) or 1
    best, worst = order[:k], order[::-1][:k]
    first_seed = fig["seeds"][0]
    spectrogram_grid(np.concatenate([result.bars["generated"][best], result.bars["generated"][worst]]),
                     sr, out_dir / "best_worst.png", cols=k,
                     title=f"top row: best {k} generated bars, bottom row: worst {k} (log-spectrogram, 0-{sr // 2000} kHz)")
    pictures = ["best_worst.png"]
    if "real_heldout" in result.bars:
        spectrogram_grid(result.bars["real_heldout"][:k], sr, out_dir / "real_heldout.png", cols=k,
                         title=f"{k} real held-out bars, for comparison")
        pictures.append("real_heldout.png")
    if fig.get("onset_timing"):
        onset_timing_png(fig["onset_timing"], out_dir / "onset_timing.png",
                         labels=SET_TITLES, tolerance_ms=1000 * GRID_TOLERANCE_S)
        pictures.append("onset_timing.png")
    for old in [*out_dir.glob("best_*_seed*.wav"), *out_dir.glob("worst_*_seed*.wav")]:
        old.unlink()  # an earlier report's bars: the new report.md would not link them
    rows = []
    for label, idx in (("best", best), ("worst", worst)):
        for rank, i in enumerate(idx, 1):
            wav = f"{label}_{rank}_seed{first_seed + int(i)}.wav"
            sf.write(out_dir / wav, result.bars["generated"][i].T, sr, subtype="PCM_24")
            rows.append({"rank": f"{label} {rank}", "seed": first_seed + int(i), "wav": wav,
                         **{key: _json_value(gen_pb[key][i]) for key in
                            ("quality", "grid", "dynamics_db", "rms_db", "nearest_score", "nearest_source")}})
    fig = {**fig, "best_worst": rows, "pictures": pictures,
           "per_bar": {name: {key: [_json_value(v) for v in arr] for key, arr in pb.items()}
                       for name, pb in result.per_bar.items()}}
    (out_dir / "evaluation.json").write_text(json.dumps(fig, indent=1) + "\n")
    report = out_dir / "report.md"
    report.write_text(_markdown(fig))
    return report


def _json_value(v):
    if isinstance(v, (np.floating, float)):
        return round(float(v), 5)
    if isinstance(v, (np.integer, int)):
        return int(v)
    return str(v)


def _fmt(v, spec: str = ".3f", pct: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.0f} %" if pct else format(v, spec)


def _markdown(fig: dict) -> str:
    m, d, sets = fig["model"], fig["dataset"], fig["sets"]
    cfg = m["config"]
    lines = [
        f"# Evaluation of `{m['path']}`",
        "",
        f"- Model: {m['name']}, arch {cfg['arch']}, d = {cfg['model_size']}, slice {cfg['slice_samples']} "
        f"samples, {cfg['channels']} ch, {cfg['sample_rate']} Hz, {cfg['tempo_bpm']} bpm; "
        f"trained {m['training'].get('steps', 'n/a')} steps.",
        f"- Dataset: `{d['path']}`: {d['train_bars']} training bars, {d['heldout_bars']} held-out bars "
        f"from {d['heldout_sources']} source loops (split_by_source({d['holdout_fraction']}, "
        f"seed={d['holdout_seed']}), as `beatgan train` splits).",
        f"- Generated: seeds {fig['seeds'][0]}..{fig['seeds'][1]} on {fig['device']}, latent "
        f"truncation {fig.get('truncation', 1.0):g} (1 = none); the untrained network is the same "
        f"config initialised with torch seed {fig['untrained_seed']}, drawn the same way.",
    ]
    if fig.get("warning"):
        lines.append(f"- **Warning**: {fig['warning']}.")
    lines += [
        "",
        "## Figures",
        "",
        f"| set | bars | similar to a training bar (score <= {fig['threshold']}) | median nearest score "
        "| within-set nearest score | onset grid | dynamics (dB) | RMS (dBFS) | Fréchet distance "
        "| style IS | quality (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SETS:
        if name not in sets:
            continue
        s = sets[name]
        lines.append(
            f"| {SET_TITLES[name]} | {s['n']} | {_fmt(s['similar_fraction'], pct=True)} | "
            f"{_fmt(s['nearest_score_median'])} | {_fmt(s.get('self_nearest_median'))} | "
            f"{_fmt(s['grid'])} | {_fmt(s['dynamics_db'], '.1f')} | "
            f"{_fmt(s['rms_db'], '.1f')} | {_fmt(s.get('frechet'), '.2f')} | "
            f"{_fmt(s.get('style_inception_score'), '.2f')} | {_fmt(s['quality_median'], '.2f')} |")
    q = fig["quality_reference"]
    lines += [
        "",
        "What the columns mean:",
        "",
        "- **similar to a training bar**: share of bars whose seed similarity score "
        "sum((A-B)^2)/sum(A^2) to the closest training bar is at most the threshold (the seed "
        "notebook reported 30-40 % for its model). Lower is more novel; 0 % with a poor onset grid "
        "means noise, not novelty.",
        "- **within-set nearest score**: median over the set's bars of the similarity score to "
        "the closest other bar of the same set; lower means the set repeats itself (real bars "
        "share patterns and kits, so they score low too; compare with the real row).",
        "- **onset grid**: share of spectral-flux (onset) energy within 15 ms of a sixteenth-note "
        "line at the model tempo; white noise scores about 0.25.",
        "- **dynamics**: 95th minus 10th percentile of 256-sample frame energy, in dB; hits over "
        "silence score high, a constant noise floor scores near 0.",
        "- **Fréchet distance**: between Gaussians fitted to classifier embeddings of the set and of "
        "real training bars (lower is closer). The real held-out row is the floor for this many bars.",
        "- **style IS**: the Inception score of the classifier's style head (1 = one style or no "
        "confidence, up to the number of styles).",
        f"- **quality**: per bar, the weaker of onset grid / {q['grid']:.3f} and dynamics / "
        f"{q['dynamics_db']:.1f} dB (the medians of the {q['set'].replace('_', ' ')} bars); 1.0 is "
        "a typical real bar. It ranks the best and worst bars below.",
        "",
        "## Classifier",
        "",
    ]
    c = fig.get("classifier")
    if not c:
        lines.append("Not used (`--no-classifier`).")
    elif "unavailable" in c:
        lines.append(f"Not available: {c['unavailable']}.")
    else:
        acc = ", ".join(f"{k} {100 * v:.0f} %" for k, v in c.get("heldout_accuracy", {}).items())
        tr = ", ".join(f"{k} {100 * v:.0f} %" for k, v in c.get("train_accuracy", {}).items())
        lines.append(
            f"Log-mel conv classifier with heads {c['heads']} trained on {c['examples']} bars of the "
            f"training split ({c['epochs']} epochs, {c['seconds']} s); accuracy on its training bars: "
            f"{tr}; on held-out bars: {acc or 'n/a (no held-out bars)'}. "
            f"{'Loaded from' if c.get('cached') else 'Cached at'} `{c.get('cache')}`. "
            f"Reference for the Fréchet distance: {c['reference_bars']} training bars.")
    if "onset_timing.png" in fig["pictures"]:
        lines += ["", "## Onset timing", "",
                  "Where each set's spectral-flux (onset) mass lands relative to the nearest "
                  "sixteenth-note line; the shaded band is the onset grid's +-15 ms. A drum machine "
                  "peaks just before the line (the analysis window sees a hit before its centre "
                  "reaches it); mass spread late means smeared attacks, a flat floor means noise "
                  "between the hits.", "", "![onset_timing.png](onset_timing.png)"]
    lines += ["", "## Best and worst generated bars", ""]
    lines += [f"![{p}]({p})" for p in fig["pictures"] if p != "onset_timing.png"]
    lines += ["", "| bar | seed | quality | onset grid | dynamics (dB) | RMS (dBFS) | nearest score "
              "| nearest training loop | WAV |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in fig["best_worst"]:
        lines.append(f"| {r['rank']} | {r['seed']} | {r['quality']:.2f} | {r['grid']:.3f} | "
                     f"{r['dynamics_db']:.1f} | {r['rms_db']:.1f} | {r['nearest_score']:.3f} | "
                     f"{r['nearest_source']} | [{r['wav']}]({r['wav']}) |")
    s = fig["seconds"]
    lines += ["", f"Took {s['total']:.1f} s (generation {s['generate']:.1f} s, similarity "
              f"{s['similarity']:.1f} s, classifier {s['classifier']:.1f} s). All figures are in "
              "`evaluation.json`.", ""]
    return "\n".join(lines)
