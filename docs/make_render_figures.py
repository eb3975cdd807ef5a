"""Make the pictures in docs/render.md: one drum bar at 100, 125 and 160 bpm in each fit mode.

    .venv/bin/python docs/make_render_figures.py        # writes docs/img/render_<mode>.png
    .venv/bin/python docs/make_render_figures.py beats  # only render_beats.png

The bar is the GMRockKit pattern from bench/drumbar.py (synthetic if the kit is missing),
made at the model's 14.7 kHz and 125 bpm, then rendered to 44.1 kHz. Needs matplotlib.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from drumbar import drum_bar  # noqa: E402

from beatgan.bridge.render import render  # noqa: E402
from beatgan.generator import ModelCard, named_config  # noqa: E402

TEMPOS = (100.0, 125.0, 160.0)
RATE = 44100
TITLES = {
    "repitch": "repitch: one resample, speed and pitch move together (a turntable)",
    "beats": "beats (default): slices at the hits, each at its own speed, bodies stretched",
    "stretch": "stretch: Rubber Band time-stretch, pitch kept, transients softened",
}


def spectrogram_db(x: np.ndarray, rate: int, frame: int = 1024, hop: int = 256):
    """(bins, frames) magnitude in dB re the loudest bin, floored at -120 dB (silence in the
    beats mode's gaps would otherwise be -inf), and the top bin's frequency. The loop wraps at
    its ends, as it plays."""
    pad = np.concatenate([x[-(frame // 2):], x, x[:frame // 2]])
    frames = np.lib.stride_tricks.sliding_window_view(pad, frame)[::hop] * np.hanning(frame)
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    db = 20 * np.log10(np.maximum(mag / mag.max(), 1e-6))
    return db, rate / 2


def main() -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    card = ModelCard(config=named_config("wavegan"))
    bar, source = drum_bar(card.sample_rate, card.tempo_bpm, card.beats_per_bar)
    out_dir = ROOT / "docs" / "img"
    out_dir.mkdir(parents=True, exist_ok=True)
    longest = card.beats_per_bar * 60.0 / min(TEMPOS)
    wanted = sys.argv[1:] or list(TITLES)
    for mode, title in TITLES.items():
        if mode not in wanted:
            continue
        fig, axes = plt.subplots(2 * len(TEMPOS), 1, figsize=(10, 10), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 2] * len(TEMPOS)})
        for k, tempo in enumerate(TEMPOS):
            y = render(bar, card, tempo, rate=RATE, mode=mode)
            t = np.arange(y.shape[1]) / RATE
            beat_s = 60.0 / tempo
            wave, spec = axes[2 * k], axes[2 * k + 1]
            wave.plot(t, y[0], lw=0.4, color="#1f4e79")
            wave.set_ylim(-1, 1)
            wave.set_yticks([])
            wave.set_ylabel(f"{tempo:g} bpm", rotation=0, ha="right", va="center")
            db, f_max = spectrogram_db(y[0], RATE)
            spec.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-100, vmax=0,
                        extent=(0, y.shape[1] / RATE, 0, f_max), interpolation="nearest")
            spec.set_ylim(0, 12000)
            spec.set_yticks([0, 5000, 10000], ["0", "5k", "10k"])
            spec.axhline(7350, color="w", lw=0.6, ls="--")
            for ax in (wave, spec):
                for b in range(card.beats_per_bar + 1):
                    ax.axvline(b * beat_s, color="#2ca02c", lw=0.7, alpha=0.8)
        axes[-1].set_xlim(0, longest)
        axes[-1].set_xlabel("seconds (green: beats at each tempo; dashed: 7.35 kHz, the "
                            "model's Nyquist)")
        fig.suptitle(f"{title}\none bar of {source}, 44.1 kHz, left channel; Hz on the "
                     "spectrograms", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        path = out_dir / f"render_{mode}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
