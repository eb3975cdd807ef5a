"""`beatgan evaluate`'s figures: does a model make drum loops, and are they its own?

Sets of bars measured the same way, so every figure has a floor and a ceiling next to it:

- generated: the model's bars for seeds first_seed .. first_seed + n - 1;
- real, held-out: one bar from each of up to n source loops the trainer never saw
  (`Dataset.split_by_source(0.1, seed=0)`, as `beatgan train` splits): the reference row;
- white noise at the real bars' RMS, and the untrained network (the same config, randomly
  initialised): what "no drums" and "no learning" score;
- any folder of WAVs (`compare`): the first bar of each file, fitted to the model bar.

The verdict comes from the fixed judge only (judge.py, committed in training/judge/): a Fréchet
distance to the training bars' statistics in its embedding, k-NN precision and recall (k = 3), an
artefact figure (steady tonal lines), the within-set nearest score and the seed's similar
fraction, each against the targets in the judge card; `meets_targets` is the generated set's.
The older figures (onset grid, dynamics, loudness, nearest training bar) stay as descriptions.
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

SETS = ("generated", "real_heldout", "untrained")       # figures["sets"]: the model's rows
OTHER_SETS = ("noise",)                                 # figures["other_sets"] (+ compare:NAME)
SET_TITLES = {"generated": "generated", "real_heldout": "real, held-out",
              "untrained": "untrained network", "noise": "white noise"}


def set_title(name: str) -> str:
    return SET_TITLES.get(name, name.replace("compare:", "compare: "))


@dataclass
class EvalOptions:
    n: int = 64                       # generated bars (seeds first_seed .. first_seed + n - 1)
    first_seed: int = 0
    device: str = "auto"              # auto, cpu, cuda, cuda:1 ...
    holdout_fraction: float = 0.1     # as `beatgan train` splits the dataset
    holdout_seed: int = 0
    threshold: float = SIMILAR_BELOW  # similarity score that counts as "similar"
    judge: bool = True                # the judge's figures and meets_targets
    judge_dir: Path | None = None     # None = the committed judge (training/judge)
    reference_bars: int = 512         # real training bars (one per source loop) = the reference
    untrained_seed: int = 0           # torch seed of the random initialisation
    noise_seed: int = 0               # seed of the white-noise row
    truncation: float | None = None   # latent truncation psi; None = the model card's default
    compare: dict = field(default_factory=dict)  # row name -> folder of WAVs to judge as well
    compare_bpm: float | None = None  # tempo of compare WAVs that state none (name, acid chunk)


@dataclass
class EvalResult:
    figures: dict                                   # everything that goes into the JSON
    bars: dict[str, np.ndarray] = field(default_factory=dict)  # set -> (n, C, bar) float32
    per_bar: dict[str, dict] = field(default_factory=dict)     # set -> {figure: (n,) array}
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # judge: set/"reference" -> (n, D)


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
    from beatgan.generator.networks import build_generator

    torch.manual_seed(seed)
    net = build_generator(gen.card.config).to(gen.device).eval().requires_grad_(False)
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


def one_per_source(idx: np.ndarray, source: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n of the example indices `idx`, one from each of up to n distinct source loops
    (a dataset holds noisy copies of each bar: two copies would be each other's nearest neighbour)."""
    _, first = np.unique(source[idx], return_index=True)
    pick = idx[np.sort(first)]
    if len(pick) > n:
        pick = pick[np.sort(rng.permutation(len(pick))[:n])]
    return pick


def white_noise_like(bars: np.ndarray, seed: int) -> np.ndarray:
    """Gaussian white noise, independent per channel, at the RMS of `bars`."""
    rms = float(np.sqrt((np.asarray(bars, np.float64) ** 2).mean())) if len(bars) else 0.1
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(np.shape(bars)) * rms).astype(np.float32)


def evaluate(model_path: Path, dataset_path: Path, opts: EvalOptions | None = None) -> EvalResult:
    """Measure a model against a dataset; returns the figures and the bars (nothing is written)."""
    from .dataset import load_dataset

    opts = opts or EvalOptions()
    if opts.n < 2:
        raise ValueError(f"--n must be at least 2 (a Fréchet distance needs two bars), got {opts.n}")
    t_start = time.monotonic()
    device = pick_device(opts.device)
    judge = None
    if opts.judge:
        from .judge import Judge, default_judge
        judge = Judge.load(opts.judge_dir) if opts.judge_dir else default_judge()
    gen = load_model(model_path, device)
    if opts.truncation is not None:
        gen.truncation = check_truncation(opts.truncation)
    card = gen.card
    ds = load_dataset(dataset_path, float_audio=False)  # int16: half the memory
    check_compatible(card, ds.meta, Path(dataset_path))
    bar = card.bar_samples
    compare = {f"compare:{name}": read_wav_folder(folder, card, opts.compare_bpm)
               for name, folder in opts.compare.items()}
    train_idx, held_idx = ds.split_by_source(opts.holdout_fraction, seed=opts.holdout_seed)
    if not len(train_idx):
        raise ValueError(f"{dataset_path}: no training bars left after holding out sources")
    train_audio = ds.audio[train_idx][..., :bar]
    rng = np.random.default_rng(opts.holdout_seed)

    seeds = list(range(opts.first_seed, opts.first_seed + opts.n))
    bars = {"generated": gen.generate(seeds), "untrained": untrained_like(gen, opts.untrained_seed).generate(seeds)}
    held_pick = one_per_source(held_idx, ds.source, opts.n, rng) if len(held_idx) else held_idx
    if len(held_pick) < 2:  # a tiny dataset (one held-out loop): its noisy copies, so the row exists
        held_pick = held_idx[:opts.n]
    if len(held_pick) >= 2:
        bars["real_heldout"] = _float(ds.audio[held_pick][..., :bar])
    bars["noise"] = white_noise_like(bars.get("real_heldout", _float(train_audio[:opts.n])),
                                     opts.noise_seed)
    bars.update(compare)
    t_gen = time.monotonic()

    sim_device = device if device.startswith("cuda") else None
    figures: dict = {"sets": {}, "other_sets": {}, "threshold": opts.threshold}
    per_bar: dict[str, dict] = {}
    flux = {name: spectral_flux(b) for name, b in bars.items()}  # grid score and timing share it
    names = [name for name in (*SETS, *OTHER_SETS, *compare) if name in bars]
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
        _set_figures(figures, name)[name] = _summary(pb, nearest, opts.threshold)
    figures["onset_timing"] = _timing({k: bars[k] for k in SETS if k in bars}, card.sample_rate,
                                      card.tempo_bpm, flux)
    t_sim = time.monotonic()

    judge_info, embeddings = None, {}
    if judge is not None:
        from .judge import Reference, check_targets, judge_figures, to_judge_bars
        ref_idx = one_per_source(train_idx, ds.source, opts.reference_bars, rng)
        ref = Reference(judge.embed(to_judge_bars(_float(ds.audio[ref_idx][..., :bar]),
                                                  card.sample_rate, card.tempo_bpm)))
        embeddings["reference"] = ref.emb
        for name in names:
            jb = to_judge_bars(bars[name], card.sample_rate, card.tempo_bpm)
            embeddings[name] = judge.embed(jb)
            _set_figures(figures, name)[name].update(judge_figures(judge, jb, ref, embeddings[name]))
        real = figures["sets"].get("real_heldout")
        for name in names:
            row = _set_figures(figures, name)[name]
            row["targets"] = check_targets(row, real, judge.targets)
        judge_info = {**judge.info(), "reference_bars": int(len(ref_idx)),
                      "reference": "training bars, one per source loop"}
        figures["meets_targets"] = figures["sets"]["generated"]["targets"]["meets_targets"]
        figures["targets"] = figures["sets"]["generated"]["targets"]["targets"]
        if real is None:
            figures["meets_targets"] = False
            figures["warning_judge"] = ("no real held-out bars: the relative targets cannot be "
                                        "measured, so meets_targets is false")
    t_judge = time.monotonic()

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
        _set_figures(figures, name)[name]["quality_median"] = float(np.median(pb["quality"]))

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
        "noise_seed": opts.noise_seed,
        "compare": {f"compare:{k}": str(v) for k, v in opts.compare.items()},
        "truncation": gen.truncation,
        "quality_reference": {"set": ref_set or "training", "grid": ref_grid, "dynamics_db": ref_dyn},
        "judge": judge_info,
        # The per-dataset classifier is gone: the judge is loaded, never trained by evaluate.
        "classifier": None if judge_info is None else {"superseded_by": "judge", "cached": True},
        "seconds": {"generate": round(t_gen - t_start, 2), "similarity": round(t_sim - t_gen, 2),
                    "judge": round(t_judge - t_sim, 2), "total": round(time.monotonic() - t_start, 2)},
    })
    figures.setdefault("meets_targets", None)
    trained_on = (card.training.get("data") or {}).get("dataset") if isinstance(
        card.training.get("data"), dict) else None
    if trained_on and Path(trained_on).name != Path(dataset_path).name:
        figures["warning"] = (f"the model card says it was trained on {trained_on}; the held-out "
                              "split is only held out if it is the same dataset")
    return EvalResult(figures, bars, per_bar, embeddings)


def _set_figures(figures: dict, name: str) -> dict:
    return figures["sets"] if name in SETS else figures["other_sets"]


def all_sets(figures: dict) -> dict:
    """Every row in table order: the model's sets, then noise and the compare folders."""
    rows = {k: figures["sets"][k] for k in SETS if k in figures["sets"]}
    rows.update(figures.get("other_sets") or {})
    return rows


def read_wav_folder(folder: Path, card, default_bpm: float | None = None) -> np.ndarray:
    """The first bar of every WAV/FLAC/AIFF in `folder` (sorted by name), fitted to the model bar
    (bridge/read_loop.py: tempo from the name, an acid chunk or `default_bpm`)."""
    from beatgan.bridge.read_loop import read_first_bar

    from .prepare import find_audio_files

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--compare: {folder} is not a folder of WAVs")
    out, skipped = [], []
    for path in find_audio_files(folder):
        try:
            out.append(read_first_bar(path, card, default_bpm))
        except ValueError as e:
            skipped.append(str(e).replace("give the tempo", "pass --compare-bpm"))
    if skipped:
        log.warning("--compare %s: skipped %d file(s): %s", folder, len(skipped), "; ".join(skipped[:5]))
    if len(out) < 2:
        raise ValueError(f"--compare: {folder} has {len(out)} usable loop(s); the figures need at "
                         f"least 2" + (f" (skipped: {'; '.join(skipped[:3])})" if skipped else ""))
    return np.stack(out)


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
    # The first 16 generated bars next to 16 real held-out bars, drawn alike.
    spectrogram_grid(result.bars["generated"][:16], sr, out_dir / "generated_16.png",
                     title=f"generated, seeds {first_seed}-{first_seed + min(16, len(order)) - 1}")
    pictures.append("generated_16.png")
    if "real_heldout" in result.bars:
        spectrogram_grid(result.bars["real_heldout"][:16], sr, out_dir / "real_16.png",
                         title="real, held-out")
        pictures.append("real_16.png")
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
    if result.embeddings:  # the judge embeddings behind the figures: a test can re-measure them
        np.savez_compressed(out_dir / "judge_embeddings.npz",
                            **{k.replace(":", "_"): v.astype(np.float32)
                               for k, v in result.embeddings.items()})
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


def _pass_cell(row: dict, key: str, text: str) -> str:
    t = (row.get("targets") or {}).get("targets", {}).get(key)
    if not t or t["pass"] is None:
        return text
    return text if t["pass"] else f"**{text}** ✗"


def _verdict(row: dict) -> str:
    t = row.get("targets")
    if not t:
        return "n/a"
    return "yes" if t["meets_targets"] else "no: " + ", ".join(t["failed"])


def judge_table(rows: dict) -> list[str]:
    """The judge's table: one row per set; a failed target is bold and marked ✗."""
    lines = ["| set | bars | Fréchet distance | precision | recall | artefact (dB @ Hz) "
             "| within-set nearest | similar | meets targets |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, s in rows.items():
        art = (f"{s['artefact_db']:.1f} @ {s['artefact_hz']:.0f}"
               if s.get("artefact_db") is not None else "n/a")
        lines.append(
            f"| {set_title(name)} | {s['n']} | {_pass_cell(s, 'frechet', _fmt(s.get('frechet'), '.0f'))} | "
            f"{_pass_cell(s, 'precision', _fmt(s.get('precision'), '.2f'))} | "
            f"{_pass_cell(s, 'recall', _fmt(s.get('recall'), '.2f'))} | "
            f"{_pass_cell(s, 'artefact_db', art)} | "
            f"{_pass_cell(s, 'self_nearest', _fmt(s.get('self_nearest_median'), '.3f'))} | "
            f"{_pass_cell(s, 'similar_fraction', _fmt(s.get('similar_fraction'), pct=True))} | "
            f"{_verdict(s)} |")
    return lines


def _markdown(fig: dict) -> str:
    from .judge import target_text
    m, d = fig["model"], fig["dataset"]
    rows = all_sets(fig)
    cfg = m["config"]
    lines = [
        f"# Evaluation of `{m['path']}`",
        "",
        f"- Model: {m['name']}, arch {cfg['arch']}, d = {cfg['model_size']}, slice {cfg['slice_samples']} "
        f"samples, {cfg['channels']} ch, {cfg['sample_rate']} Hz, {cfg['tempo_bpm']} bpm; "
        f"trained {m['training'].get('steps', 'n/a')} steps.",
        f"- Dataset: `{d['path']}`: {d['train_bars']} training bars, {d['heldout_bars']} held-out bars "
        f"from {d['heldout_sources']} source loops (split_by_source({d['holdout_fraction']}, "
        f"seed={d['holdout_seed']}), as `beatgan train` splits); the real held-out row takes one "
        "bar per source loop.",
        f"- Generated: seeds {fig['seeds'][0]}..{fig['seeds'][1]} on {fig['device']}, latent "
        f"truncation {fig.get('truncation', 1.0):g} (1 = none); the untrained network is the same "
        f"config initialised with torch seed {fig['untrained_seed']}, drawn the same way; white "
        f"noise is Gaussian at the real bars' RMS (seed {fig.get('noise_seed', 0)}).",
    ]
    for name, folder in (fig.get("compare") or {}).items():
        lines.append(f"- {set_title(name)}: the first bar of each audio file in `{folder}`, "
                     "fitted to the model bar.")
    if fig.get("warning"):
        lines.append(f"- **Warning**: {fig['warning']}.")
    j = fig.get("judge")
    lines += ["", "## The judge", ""]
    if not j:
        lines.append("Not used (`--no-judge`): no verdict.")
    else:
        met = fig.get("meets_targets")
        failed = rows["generated"]["targets"]["failed"]
        lines += [
            f"**meets_targets: {str(bool(met)).lower()}**"
            + ("" if met else f" (fails: {', '.join(failed)})") + ". Targets (from the judge card): "
            + "; ".join(target_text(j["targets"]).values()) + ". 'real' is the real held-out row.",
            "",
            *judge_table(rows),
            "",
            "- **Fréchet distance**: between Gaussians fitted to the judge embeddings of the set and "
            f"of {j['reference_bars']} real training bars (one per source loop); lower is closer. "
            "The real held-out row is the floor for this many bars.",
            "- **precision / recall**: k-NN (k = 3) precision = share of the set's bars inside the "
            "real bars' manifold (do they sound like real bars?); recall = share of real bars inside "
            "the set's manifold (does the set cover the real variety?).",
            "- **artefact**: the largest height of the set's average log spectrum over its own "
            "200 Hz median-smoothed version, 100 Hz-7 kHz: a steady tone or a stride line stands "
            "out, drum hits average out.",
            "- **within-set nearest**: median over the set's bars of the similarity score "
            "sum((A-B)^2)/sum(A^2) to the closest other bar of the same set; low = the set repeats "
            "itself.",
            f"- **similar**: share of bars whose similarity score to the closest training bar is at "
            f"most {fig['threshold']} (memorised).",
            "",
            f"Judge: `{j.get('folder')}` (weights sha256 {str(j.get('sha256'))[:12]}...), held-out "
            f"accuracy of its own heads: "
            + ", ".join(f"{k} {100 * v:.0f} %" for k, v in (j.get("heldout_accuracy") or {}).items())
            + ". See docs/training.md, 'The judge'.",
        ]
    lines += [
        "",
        "## Descriptions (not targets)",
        "",
        f"| set | bars | median nearest training-bar score | onset grid | dynamics (dB) | RMS (dBFS) "
        "| quality (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in rows.items():
        lines.append(
            f"| {set_title(name)} | {s['n']} | {_fmt(s['nearest_score_median'])} | "
            f"{_fmt(s['grid'])} | {_fmt(s['dynamics_db'], '.1f')} | "
            f"{_fmt(s['rms_db'], '.1f')} | {_fmt(s['quality_median'], '.2f')} |")
    q = fig["quality_reference"]
    lines += [
        "",
        "- **onset grid**: share of spectral-flux (onset) energy within 15 ms of a sixteenth-note "
        "line at the model tempo; white noise scores about 0.25. Noise gated on the grid scores "
        "high too: a description, not a target.",
        "- **dynamics**: 95th minus 10th percentile of 256-sample frame energy, in dB; hits over "
        "silence score high, and so does gated noise.",
        f"- **quality**: per bar, the weaker of onset grid / {q['grid']:.3f} and dynamics / "
        f"{q['dynamics_db']:.1f} dB (the medians of the {q['set'].replace('_', ' ')} bars); it only "
        "ranks the best and worst bars below.",
    ]
    if "generated_16.png" in fig["pictures"]:
        lines += ["", "## Generated next to real", "",
                  "| generated | real, held-out |", "|---|---|",
                  "| ![generated_16.png](generated_16.png) | "
                  + ("![real_16.png](real_16.png) |" if "real_16.png" in fig["pictures"] else "n/a |")]
    if "onset_timing.png" in fig["pictures"]:
        lines += ["", "## Onset timing", "",
                  "Where each set's spectral-flux (onset) mass lands relative to the nearest "
                  "sixteenth-note line; the shaded band is the onset grid's +-15 ms. A drum machine "
                  "peaks just before the line (the analysis window sees a hit before its centre "
                  "reaches it); mass spread late means smeared attacks, a flat floor means noise "
                  "between the hits.", "", "![onset_timing.png](onset_timing.png)"]
    lines += ["", "## Best and worst generated bars (by quality)", ""]
    lines += [f"![{p}]({p})" for p in fig["pictures"] if p in ("best_worst.png", "real_heldout.png")]
    lines += ["", "| bar | seed | quality | onset grid | dynamics (dB) | RMS (dBFS) | nearest score "
              "| nearest training loop | WAV |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in fig["best_worst"]:
        lines.append(f"| {r['rank']} | {r['seed']} | {r['quality']:.2f} | {r['grid']:.3f} | "
                     f"{r['dynamics_db']:.1f} | {r['rms_db']:.1f} | {r['nearest_score']:.3f} | "
                     f"{r['nearest_source']} | [{r['wav']}]({r['wav']}) |")
    s = fig["seconds"]
    lines += ["", f"Took {s['total']:.1f} s (generation {s['generate']:.1f} s, similarity "
              f"{s['similarity']:.1f} s, judge {s['judge']:.1f} s). All figures are in "
              "`evaluation.json`.", ""]
    return "\n".join(lines)
