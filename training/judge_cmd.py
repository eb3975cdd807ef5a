"""`beatgan judge build --out DIR`: make the fixed quality judge from its manifest, reproducibly.

    beatgan judge build --out training/judge      # what the committed judge was made with
    beatgan judge build --out DIR --manifest training/judge/judge_card.json   # from its card
    beatgan judge verify                          # rebuild from the card and compare
    beatgan judge show                            # the committed judge's card in short

The build renders its own training bars in memory from every usable Hydrogen kit (judge_data.py),
trains the network on one CPU thread with fixed seeds (judge_net.py), and writes judge.safetensors
(fp16) and judge_card.json: the data manifest (kits, licences, styles, tempos, counts, seeds,
augmentations, a sha256 of the rendered bars), the accuracy on held-out bars, the targets, the
library versions and the sha256 of the weights. Same kits + same libraries = the same bytes.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Figures a rebuild must reproduce when its bytes differ (another torch or soxr): held-out accuracy
# within this much, and the probe verdicts (real passes, noise fails) the same.
ACCURACY_TOLERANCE = 0.05


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("build", "verify", "show"),
                   help="build: make a judge into --out; verify: rebuild into a temporary folder "
                        "and compare with the committed judge; show: print the committed card")
    p.add_argument("--out", type=Path, default=None,
                   help="build: the folder to write judge.safetensors + judge_card.json to")
    p.add_argument("--judge", type=Path, default=None,
                   help="verify/show: the judge folder (default: the committed training/judge)")
    p.add_argument("--manifest", type=Path, default=None, metavar="CARD",
                   help="build: take the data, training and network settings from a judge card "
                        "(e.g. training/judge/judge_card.json) instead of the defaults; verify "
                        "always builds from the card it checks")
    p.add_argument("--drumkits-root", type=Path, default=None,
                   help="where Hydrogen kits live (default /usr/share/hydrogen/data/drumkits)")


def configs_from_card(card: dict):
    """(data, training, network) configs as a judge card records them (its manifest)."""
    from dataclasses import fields

    from .judge_data import JudgeDataConfig
    from .judge_net import JudgeConfig, JudgeTrainConfig

    def pick(cls, d):
        out = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in out.items()})
    # The card's `kits` is the manifest of the kits used; the selection asked for is `kit_selection`.
    data = {k: v for k, v in card["data"].items() if k != "kits"}
    data["kits"] = data.pop("kit_selection", None)
    return pick(JudgeDataConfig, data), pick(JudgeTrainConfig, card["training"]), \
        JudgeConfig(**card["config"])


def build(out: Path, drumkits_root: Path | None = None, data_config=None, train_config=None,
          progress=print, net_config=None) -> dict:
    """Render, train, write the judge into `out`; returns its card."""
    import torch

    from beatgan.generator.weights import sha256_file

    from . import judge as judge_mod
    from .judge_data import (BUS_CLASSES, ROLE_GROUPS, JudgeDataConfig, load_kits,
                             render_judge_data)
    from .judge_net import (JudgeConfig, JudgeTrainConfig, config_dict, n_parameters,
                            save_weights, train_judge)

    dcfg = data_config or JudgeDataConfig()
    tcfg = train_config or JudgeTrainConfig()
    t0 = time.monotonic()
    loaded, left_out = load_kits(dcfg.kits, drumkits_root, dcfg.max_oneshot_s)
    data = render_judge_data(dcfg, loaded, left_out)
    t_render = time.monotonic() - t0
    digest = data.digest()
    progress(f"rendered {len(data.audio)} bars from {len(data.kits)} kits in {t_render:.0f} s "
             f"(data sha256 {digest[:12]})")
    heads = {k: len(v) for k, v in data.classes.items()}
    cfg = net_config or JudgeConfig(heads=heads)
    if cfg.heads != heads:
        raise ValueError(f"the manifest's heads {cfg.heads} do not fit the rendered data's {heads} "
                         "(other kits installed?)")
    net, info = train_judge(data, cfg, tcfg, log=progress)
    probe = _probe(net, data, tcfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / judge_mod.WEIGHTS_FILE
    save_weights(net, weights)
    import pedalboard
    import soxr
    counts = {k: np.bincount(v, minlength=len(data.classes[k])).tolist() for k, v in data.labels.items()}
    card = {
        "name": "beatgan-judge",
        "format": "beatgan-judge/1",
        "what": "a frozen embedding of one 4/4 bar (stereo, 14.7 kHz, 125 bpm = 28224 samples) "
                "for Fréchet distance, k-NN precision/recall; trained on real rendered bars only",
        "build_command": "beatgan judge build --out training/judge",
        "config": config_dict(cfg),
        "parameters": n_parameters(net),
        "classes": data.classes,
        "onset_groups": list(ROLE_GROUPS),
        "data": {
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(dcfg).items()
               if k != "kits"},
            "kit_selection": list(dcfg.kits) if dcfg.kits else None,  # None: every usable kit
            "renderer": "render_kit.render_loop of one bar (patterns.sequence, bars=1) at 14.7 kHz, "
                        "bus mode drawn per bar, peak -1 dBFS, resampled (soxr VHQ) to 28224 samples",
            "bars": int(len(data.audio)), "heldout_bars": int(data.heldout.sum()),
            "heldout_rule": f"every {dcfg.heldout_every}th round of the (kit, style) pairs: bar i "
                            f"is held out when (i // (kits x styles)) % {dcfg.heldout_every} == 0 "
                            "(new patterns and mixes of every kit and style: held out by (kit, seed))",
            "counts": counts, "bus_classes": list(BUS_CLASSES),
            "kits": data.kits, "kits_left_out": data.kits_left_out,
            "licence_note": "the kits' one-shots are not redistributed: only weights trained on "
                            "them; licences as Debian states them (hydrogen-drumkits, hydrogen-data)",
            "sha256": digest,
        },
        "training": {
            **asdict(tcfg),
            "augmentation": f"gain +-{tcfg.gain_db:g} dB, circular time shift of "
                            f"-{tcfg.shift_ms:g}/0/+{tcfg.shift_ms:g} ms, the dataset's noise "
                            f"floor (uniform +-{tcfg.noise_peak:.3g}, -63 dBFS RMS) on "
                            f"{100 * tcfg.noise_p:.0f} % of bars; applied in the mel-power domain",
            "losses": "cross-entropy per label head (kit, style, tempo, bus) + "
                      f"{tcfg.onset_weight:g} x BCE of the onset grid (4 role groups x 16 steps)",
            "threads": 1,
            **info,
        },
        "probe": probe,
        "targets": judge_mod.TARGETS,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "soxr": soxr.__version__,
                     "pedalboard": pedalboard.__version__, "python": platform.python_version(),
                     "machine": platform.machine()},
        "files": {judge_mod.WEIGHTS_FILE: sha256_file(weights)},
        "build_seconds": round(time.monotonic() - t0, 1),
    }
    (out / judge_mod.CARD_FILE).write_text(json.dumps(card, indent=1) + "\n")
    progress(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB, sha256 "
             f"{card['files'][judge_mod.WEIGHTS_FILE][:12]}) and {out / judge_mod.CARD_FILE} in "
             f"{card['build_seconds']:.0f} s; held-out accuracy {info['heldout_accuracy']}")
    return card


def _probe(net, data, seed: int) -> dict:
    """Figures of the just-trained judge on its own held-out bars: half of them against the other
    half (real, must pass), white noise and the held-out bars shifted by half a sixteenth (must
    not). A rebuild with other bytes must give the same verdicts."""
    from .judge import Judge, Reference, judge_figures
    judge = Judge(net, {"config": config_dict_of(net)})
    from .judge_data import heldout_round
    rounds = heldout_round(np.arange(len(data.audio)), len(data.classes["kit"]),
                           len(data.classes["style"]))
    held_rounds = np.unique(rounds[data.heldout])
    a = data.audio[np.isin(rounds, held_rounds[0::2]) & data.heldout]   # every kit and style
    b = data.audio[np.isin(rounds, held_rounds[1::2]) & data.heldout]
    ref = Reference(judge.embed(a))
    rng = np.random.default_rng(seed)
    rms = float(np.sqrt((b.astype(np.float64) ** 2).mean()))
    sets = {"real": b, "noise": (rng.standard_normal(b.shape) * rms).astype(np.float32),
            "half_sixteenth_shift": np.roll(b, net.cfg.bar_samples // 32, axis=-1)}
    out = {}
    for name, bars in sets.items():
        f = judge_figures(judge, bars, ref)
        out[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.items()}
    return {"reference": f"held-out rounds {held_rounds[0::2].tolist()} ({len(a)} bars); the sets "
                         f"are rounds {held_rounds[1::2].tolist()} ({len(b)} bars)", "sets": out}


def config_dict_of(net) -> dict:
    from .judge_net import config_dict
    return config_dict(net.cfg)


def compare(committed: dict, rebuilt: dict) -> tuple[bool, str]:
    """(same, how): bitwise when the weights' sums agree, else figures within tolerance."""
    from . import judge as judge_mod
    name = judge_mod.WEIGHTS_FILE
    if committed["files"][name] == rebuilt["files"][name]:
        return True, "bitwise: the weights' sha256 sums agree"
    problems = []
    if committed["data"]["sha256"] != rebuilt["data"]["sha256"]:
        problems.append("the rendered bars differ (other kits, soxr or pedalboard: versions "
                        f"{committed['versions']} vs {rebuilt['versions']})")
    ca, ra = committed["training"]["heldout_accuracy"], rebuilt["training"]["heldout_accuracy"]
    for k in ca:
        if abs(ca[k] - ra.get(k, -1)) > ACCURACY_TOLERANCE:
            problems.append(f"held-out {k} accuracy {ra.get(k)} vs {ca[k]}")
    cp, rp = committed["probe"]["sets"], rebuilt["probe"]["sets"]
    for s in cp:
        for f in ("precision", "recall"):
            if abs(cp[s][f] - rp[s][f]) > 0.15:
                problems.append(f"probe {s} {f} {rp[s][f]} vs {cp[s][f]}")
    if problems:
        return False, "; ".join(problems)
    return True, ("within tolerance (weights differ: torch "
                  f"{rebuilt['versions']['torch']} vs {committed['versions']['torch']})")


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError

    from . import judge as judge_mod

    if args.action == "build":
        if args.out is None:
            raise UserError("--out is required for build (the committed judge lives in training/judge)")
        configs = {}
        if args.manifest:
            if not args.manifest.is_file():
                raise UserError(f"--manifest: {args.manifest} is not a judge card")
            d, t, n = configs_from_card(json.loads(args.manifest.read_text()))
            configs = {"data_config": d, "train_config": t, "net_config": n}
        build(args.out, args.drumkits_root, **configs)
        return 0
    folder = args.judge or judge_mod.JUDGE_DIR
    card_path = folder / judge_mod.CARD_FILE
    if not card_path.is_file():
        raise UserError(f"{folder}: no {judge_mod.CARD_FILE} (build one with `beatgan judge build`)")
    committed = json.loads(card_path.read_text())
    if args.action == "show":
        t = committed["training"]
        print(f"{folder}: {committed['parameters']} parameters, {committed['data']['bars']} bars "
              f"from {len(committed['data']['kits'])} kits, held-out accuracy {t['heldout_accuracy']}")
        print(f"weights sha256 {committed['files'][judge_mod.WEIGHTS_FILE]}, torch "
              f"{committed['versions']['torch']}")
        print(f"targets: {committed['targets']}")
        return 0
    d, t, n = configs_from_card(committed)
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = build(Path(tmp), args.drumkits_root, d, t, net_config=n)
    same, how = compare(committed, rebuilt)
    print(f"{'reproduced' if same else 'NOT reproduced'}: {how}")
    return 0 if same else 1
