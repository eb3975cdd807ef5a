"""What a run leaves to look at: a loss log, sample WAVs, a spectrogram grid and curves (PNG)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class RunArtifacts:
    def __init__(self, run_dir: Path, gcfg):
        self.dir = Path(run_dir)
        self.samples_dir = self.dir / "samples"
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        self.gcfg = gcfg
        self.loss_path = self.dir / "losses.jsonl"

    def log_losses(self, step: int, logs: dict) -> None:
        with open(self.loss_path, "a") as f:
            f.write(json.dumps({"step": step, **{k: round(v, 5) for k, v in logs.items()}}) + "\n")

    def samples(self, step: int, bars: np.ndarray) -> None:
        import soundfile as sf
        for i, bar in enumerate(bars[:4]):
            sf.write(self.samples_dir / f"step{step:07d}_{i}.wav", bar.T, self.gcfg.sample_rate,
                     subtype="PCM_24")
        spectrogram_grid(bars, self.gcfg.sample_rate, self.samples_dir / f"step{step:07d}_grid.png",
                         title=f"step {step}")
        self.loss_curve()

    def loss_curve(self) -> None:
        if self.loss_path.exists():
            loss_curve_png(self.loss_path, self.dir / "losses.png")

    def evaluation(self, history: list[dict]) -> None:
        (self.dir / "evaluation.json").write_text(json.dumps(history, indent=1))
        if history:
            eval_curve_png(history, self.dir / "evaluation.png")


def _plt():
    import matplotlib
    matplotlib.use("Agg")  # no screen on a server; never pop windows from training
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def log_spectrogram(x: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """(samples,) -> (freq, frames) in dB."""
    pad = np.pad(x, (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=-1)).T
    return 20 * np.log10(mag + 1e-5)


def spectrogram_grid(bars: np.ndarray, sample_rate: int, path: Path, title: str = "",
                     cols: int = 4) -> Path:
    plt = _plt()
    n = len(bars)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, bar in zip(axes.flat, bars):
        spec = log_spectrogram(bar.mean(axis=0))
        ax.imshow(spec, origin="lower", aspect="auto", vmin=-80, vmax=20, cmap="magma",
                  extent=(0, bar.shape[-1] / sample_rate, 0, sample_rate / 2000))
    fig.suptitle(title)
    return _save(plt, fig, path)


def loss_curve_png(loss_path: Path, out: Path, smooth: int = 50) -> Path:
    plt = _plt()
    rows = [json.loads(line) for line in open(loss_path) if line.strip()]
    keys = sorted({k for r in rows for k in r if k != "step"})
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in keys:
        pts = [(r["step"], r[k]) for r in rows if k in r]
        steps, vals = np.array(pts).T
        if len(vals) > smooth:
            vals = np.convolve(vals, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1:]
        ax.plot(steps, vals, label=k)
    ax.set_xlabel("generator step")
    ax.set_ylabel("loss")
    ax.legend()
    return _save(plt, fig, out)


def eval_curve_png(history: list[dict], out: Path) -> Path:
    """The judge's figures per checkpoint where the run had a judge; else grid and dynamics."""
    plt = _plt()
    fig, ax1 = plt.subplots(figsize=(7, 3.5))
    mins = [h["wall_minutes"] for h in history]
    if all("judge_frechet" in h for h in history):
        ax1.plot(mins, [h["judge_frechet"] for h in history], "o-", label="judge Fréchet distance")
        real = history[-1].get("judge_real_frechet")
        if real:
            ax1.axhline(3 * real, ls="--", c="C0", lw=0.8, label="target: 3x real held-out")
        ax1.set_yscale("log")
        ax1.set_xlabel("training minutes")
        ax1.set_ylabel("Fréchet distance (lower is better)")
        ax2 = ax1.twinx()
        for key, style, c in (("judge_precision", "s-", "C1"), ("judge_recall", "^-", "C2")):
            ax2.plot(mins, [h.get(key) or 0.0 for h in history], style, c=c, label=key[6:])
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("precision, recall")
        fig.legend(loc="upper right")
        return _save(plt, fig, out)
    ax1.plot(mins, [h["grid"] for h in history], "o-", label="onset grid")
    ax1.axhline(0.45, ls="--", c="C0", lw=0.8)
    ax1.set_xlabel("training minutes")
    ax1.set_ylabel("onset grid score")
    ax2 = ax1.twinx()
    ax2.plot(mins, [h["dynamics_db"] for h in history], "s-", c="C1", label="dynamics (dB)")
    ax2.axhline(32, ls="--", c="C1", lw=0.8)
    ax2.set_ylabel("dynamics dB")
    fig.legend(loc="lower right")
    return _save(plt, fig, out)


def onset_timing_png(timing: dict, out: Path, labels: dict[str, str] | None = None,
                     tolerance_ms: float = 15.0) -> Path:
    """Step plot of onset-flux share against distance to the sixteenth grid, one line per set."""
    plt = _plt()
    edges = np.asarray(timing["edges_ms"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.axvspan(-tolerance_ms, tolerance_ms, color="0.9", zorder=0)
    for name, share in timing["share"].items():
        ax.stairs(100 * np.asarray(share), edges, label=(labels or {}).get(name, name), lw=1.5,
                  baseline=None)
    ax.set_xlabel("distance to the nearest sixteenth-note line (ms; negative = early)")
    ax.set_ylabel("share of onset flux (%)")
    ax.legend()
    return _save(plt, fig, out)
