"""`beatgan ship CHECKPOINT DATASET --out weights`: make a release of a trained model.

One step, so a shipped model always carries its own evidence: export the (EMA) generator in the
weights format, evaluate it against the dataset with the fixed judge (generated vs real held-out
bars vs white noise vs the untrained network), write the judge's figures and `meets_targets` into
the model card, a 16-bar spectrogram grid and weights/README.md.
CHECKPOINT may also be a model folder (an earlier release): its weights are kept as they are and
only its sampling default, figures and pages are made again.
"""
from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

# `beatgan train` picks its best checkpoint by seeds 0-63; the release is measured on seeds the
# selection never saw, so the card's figures are not flattered by the pick.
REPORT_FIRST_SEED = 10_000
REPORT_BARS = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path,
                   help="a checkpoint (.pt) from `beatgan train`, or a model folder to re-release")
    p.add_argument("dataset", type=Path, help="the dataset file it was trained on")
    p.add_argument("--out", type=Path, default=Path("weights"), help="release folder (default weights)")
    p.add_argument("--name", default="beatgan", help="model name in the card")
    p.add_argument("--machine", default=None, help="where it was trained (default: this machine)")
    p.add_argument("--note", default="", help="a sentence for the README (what to know about it)")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="the latent truncation generate/serve use by default, 0.05-2 (1 = none; "
                        "default: the source model's, else 1); the release is measured with it "
                        "and, when it is not 1, without it too")


def run(args: argparse.Namespace) -> int:
    import torch

    from beatgan.generator import ModelCard

    from .artifacts import spectrogram_grid
    from dataclasses import replace

    from beatgan.bridge.cli import UserError
    from beatgan.generator.latent import check_truncation

    from .evaluate import EvalOptions, evaluate, write_report

    from .trainer import export_checkpoint, load_checkpoint

    if args.truncation is not None:
        check_truncation(args.truncation)
    if args.checkpoint.is_dir():
        psi = _release_folder(args.checkpoint, args.out)
    elif args.checkpoint.is_file():
        ckpt = load_checkpoint(args.checkpoint)
        machine = args.machine or (f"{platform.machine()} CPU, {os.cpu_count()} cores, "
                                   f"torch {torch.__version__}")
        manifest = _manifest_summary(ckpt.get("data_meta", {}))
        export_checkpoint(ckpt, args.out, name=args.name,
                          extra={"machine": machine, "checkpoint": args.checkpoint.name,
                                 "data_manifest": manifest})
        psi = 1.0
    else:
        raise UserError(f"{args.checkpoint}: no such checkpoint file or model folder "
                        "(`beatgan train` writes checkpoints to RUN_DIR/checkpoints/)")
    psi = psi if args.truncation is None else args.truncation
    card = ModelCard.load(args.out)
    card.sampling = {"truncation": psi} if psi != 1.0 else {}
    card.save(args.out)  # before evaluating: the evaluation draws bars the way the card says
    opts = EvalOptions(n=REPORT_BARS, first_seed=REPORT_FIRST_SEED)
    result = evaluate(args.out, args.dataset, opts)
    write_report(result, args.out / "evaluation")
    fig = result.figures
    sets = fig["sets"]
    card.evaluation = {
        "n_bars": REPORT_BARS, "first_seed": REPORT_FIRST_SEED, "dataset": str(args.dataset),
        "truncation": psi,
        "sets": {k: {f: v for f, v in s.items() if f != "targets"} for k, s in sets.items()},
        "other_sets": {k: {f: v for f, v in s.items() if f != "targets"}
                       for k, s in fig.get("other_sets", {}).items()},
        "judge": fig.get("judge"),
        "targets": fig.get("targets"),
        "meets_targets": bool(fig.get("meets_targets")),
        "failed_targets": sets["generated"].get("targets", {}).get("failed"),
    }
    if psi != 1.0:  # the raw network's figures stay on the card, next to the truncated ones
        raw = evaluate(args.out, args.dataset, replace(opts, truncation=1.0)).figures["sets"]["generated"]
        card.evaluation["untruncated"] = {f: v for f, v in raw.items() if f != "targets"}
        card.evaluation["untruncated_targets"] = raw.get("targets", {}).get("targets")
        card.evaluation["untruncated_meets_targets"] = bool(raw.get("targets", {}).get("meets_targets"))
    # The card is not covered by the shard checksums, so rewriting it keeps the model loadable.
    card.save(args.out)
    spectrogram_grid(result.bars["generated"][:16], card.sample_rate, args.out / "generated_16.png",
                     title=f"{args.name}: 16 generated bars (seeds {_seeds(16)}), "
                           "log-spectrogram 0-7.35 kHz")
    (args.out / "README.md").write_text(_readme(card, sets, args.note))
    g = sets["generated"]
    print(f"shipped {args.checkpoint} as {args.out}: meets_targets "
          f"{str(card.evaluation['meets_targets']).lower()}"
          + (f" (fails: {', '.join(card.evaluation['failed_targets'] or [])})"
             if not card.evaluation["meets_targets"] else "")
          + f"; Fréchet distance {_n(g.get('frechet'), '.0f')}, precision "
          f"{_n(g.get('precision'), '.2f')}, recall {_n(g.get('recall'), '.2f')}")
    return 0


def _release_folder(source: Path, out: Path) -> float:
    """Re-release a model folder into `out` (the same folder, or a copy with checked sums);
    returns its sampling default."""
    from beatgan.generator.engine import BeatGenerator
    from beatgan.generator.weights import save_model
    gen = BeatGenerator.load(source, device="cpu")  # verifies the shards' sha256 sums
    if source.resolve() != out.resolve():
        save_model(gen.net.float(), gen.card, out)  # fp16 -> fp32 -> fp16 is lossless
    return gen.truncation


def _seeds(n: int) -> str:
    return f"{REPORT_FIRST_SEED}-{REPORT_FIRST_SEED + n - 1}"


def _manifest_summary(meta: dict) -> dict:
    return {k: meta.get(k) for k in ("dataset", "n_examples", "n_sources", "styles", "kits",
                                     "licences", "augment") if k in meta}


def _n(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def _fmt_set(name: str, s: dict, targets: dict | None = None) -> str:
    """One README row: the judge's figures (a failed target in bold, marked ✗), then descriptions."""
    def cell(key, text):
        t = (targets or {}).get(key)
        return f"**{text}** ✗" if t and t.get("pass") is False else text
    pct = "n/a" if s.get("similar_fraction") is None else f"{100 * s['similar_fraction']:.0f} %"
    art = "n/a" if s.get("artefact_db") is None else f"{s['artefact_db']:.1f} @ {s['artefact_hz']:.0f} Hz"
    return (f"| {name} | {cell('frechet', _n(s.get('frechet'), '.0f'))} | "
            f"{cell('precision', _n(s.get('precision'), '.2f'))} | "
            f"{cell('recall', _n(s.get('recall'), '.2f'))} | {cell('artefact_db', art)} | "
            f"{cell('self_nearest', _n(s.get('self_nearest_median'), '.2f'))} | "
            f"{cell('similar_fraction', pct)} | {s['grid']:.3f} | {s['dynamics_db']:.1f} |")


def _recipe_extras(tc: dict) -> list[str]:
    """The recipe settings that are on beyond the plain network and losses, in words. A
    checkpoint from before issue 22 may have used a setting since retired: it is named too."""
    from .recipes import retired_settings_on
    extras = [f"{what} (`{switch}` = {value}, since retired)"
              for switch, value, what in retired_settings_on(tc)]
    if tc.get("envelope"):
        extras.append("envelope output")
    if tc.get("post_filter"):
        extras.append(f"learned post-filter ({tc['post_filter']} taps)")
    if tc.get("lr_half_life"):
        extras.append(f"learning-rate half-life {tc['lr_half_life']} steps")
    if tc.get("voice_model") == "waveform":
        extras.append("drum-machine voices as learned one-shot waveforms "
                      "(`--voice-model waveform`)")
    return extras


def _met_sentence(card) -> str:
    """The verdict in words: which targets the shipped bars fail (and the raw network's, when the
    card samples with truncation)."""
    from .judge import target_text
    ev = card.evaluation
    texts = target_text((ev.get("judge") or {}).get("targets"))
    psi = card.truncation

    def verdict(met, failed, what):
        if met:
            return f"**{what} meets them.**"
        return (f"**{what} does not meet them**: it fails "
                + "; ".join(texts.get(f, f) for f in (failed or [])) + ".")
    out = verdict(ev.get("meets_targets"), ev.get("failed_targets"),
                  f"This model, as shipped (truncation psi = {psi:g})," if psi != 1.0 else "This model")
    words = _in_words(ev.get("failed_targets") or [], ev["sets"]["generated"])
    if words:
        out += " In words: " + words
    if psi != 1.0 and "untruncated_targets" in ev:
        raw_failed = [k for k, v in (ev["untruncated_targets"] or {}).items() if v.get("pass") is not True]
        out += " " + verdict(ev.get("untruncated_meets_targets"), raw_failed,
                             "Without truncation (psi 1) it")
    return out


def _in_words(failed: list[str], g: dict) -> str:
    """What each failed target means for a listener, in one sentence."""
    said = {
        "frechet": "as a set, its bars are far from real bars in the judge's embedding",
        "precision": f"only {100 * (g.get('precision') or 0):.0f} % of its bars lie among real bars",
        "recall": "they cover little of the variety of real bars",
        "artefact_db": (f"a steady tone runs through the bars ({g.get('artefact_db', 0):.1f} dB over "
                        f"its neighbourhood at {g.get('artefact_hz', 0):.0f} Hz)"),
        "self_nearest": "the bars are near copies of each other",
        "similar_fraction": "too many bars copy a training bar",
    }
    parts = [said[f] for f in failed if f in said]
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _network_line(card) -> str:
    c = card.config
    shape = (f"{card.channels} channels, {card.sample_rate} Hz, one {card.beats_per_bar}/4 bar at "
             f"{card.tempo_bpm:g} bpm = {card.bar_samples} samples.")
    if c.arch == "drum-machine":
        return (f"- Network: drum machine (docs/model.md), {c.voices} {c.voice_model} voices placed "
                f"by a {c.steps}-step velocity pattern, d = {c.model_size}, {shape}")
    return (f"- Network: {c.arch} (`beatgan-bar` = bar-aligned WaveGAN, strides "
            f"{'x'.join(map(str, c.strides))}), d = {c.model_size}, {c.upsample} upsampling, "
            + shape)


def _recipe_line(tc: dict) -> str:
    if tc.get("method") == "vae":  # no critic: the GAN settings on the card are unused
        return (f"- Recipe: VAE (analysis by synthesis), {tc.get('recon')} reconstruction loss, KL "
                f"weight {tc.get('kl_weight')} (warm-up {tc.get('kl_warmup_steps')} steps), batch "
                f"{tc.get('batch_size')}, Adam {tc.get('lr_g')} {tuple(tc.get('betas', ()))}, "
                f"learning-rate half-life {tc.get('lr_half_life')} steps.")
    return (f"- Recipe: loss {tc.get('loss')}, R1 gamma {tc.get('r1_gamma')}, batch "
            f"{tc.get('batch_size')}, Adam {tc.get('lr_g')} {tuple(tc.get('betas', ()))}, EMA "
            f"{tc.get('ema_decay')}"
            + "".join(f", {x}" for x in _recipe_extras(tc)) + ".")


def _readme(card, sets: dict, note: str) -> str:
    from .judge import target_text
    from .trainer import EVAL_SEEDS  # the seeds 0..EVAL_SEEDS-1 that picked the checkpoint
    t = card.training
    tc = t.get("recipe", {})
    g = sets["generated"]
    met = card.evaluation["meets_targets"]
    psi = card.truncation
    lines = [
        f"# Shipped model: {card.name}",
        "",
        "The default model `beatgan generate` and `beatgan serve` load. Made with "
        "`beatgan ship` (export + evaluation + this page); every figure below is from "
        f"[evaluation/report.md](evaluation/report.md), "
        f"{REPORT_BARS} generated bars (seeds {_seeds(REPORT_BARS)}; training picked its best checkpoint "
        f"by seeds 0-{EVAL_SEEDS - 1}, so these are bars the pick never saw).",
        "",
        _network_line(card),
        _recipe_line(tc),
        f"- Trained: {t.get('steps')} generator steps, {t.get('wall_minutes')} minutes of "
        f"training time in {t.get('sessions', 1)} session(s) on {t.get('machine')}"
        + (f", fine-tuned from `{t['init_from'].get('path')}` ({t['init_from'].get('name', 'a checkpoint')}: "
           f"{t['init_from'].get('steps')} generator steps, {t['init_from'].get('wall_minutes')} minutes "
           "before that)." if t.get("init_from") else "."),
        f"- Data: {t.get('data', {}).get('n_examples')} examples from "
        f"{t.get('data', {}).get('n_sources')} loops rendered by `beatgan render-kit` from "
        f"Debian's Hydrogen drum kits ({', '.join(t.get('data', {}).get('kits') or [])}); "
        "licences per kit in the card (`training.data.licences`) and in docs/data.md.",
        "",
        "Measured with the project's fixed judge (`training/judge/`, docs/training.md 'The "
        "judge'): a Fréchet distance to the training bars in its embedding, k-NN precision and "
        "recall (k = 3), an artefact figure (the largest peak of the set's average spectrum over "
        "its 200 Hz median, 100 Hz-7 kHz), the within-set nearest score and the share of bars "
        "similar to a training bar. Onset grid and dynamics are descriptions, not targets: "
        "noise gated on the sixteenth grid meets both.",
        "",
        "| bars | Fréchet distance | precision | recall | artefact (dB) | within-set nearest "
        "| similar to a training bar | onset grid | dynamics (dB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _fmt_set(f"generated, truncation {psi:g}" if psi != 1.0 else "generated", g,
                 card.evaluation.get("targets")),
    ]
    if "untruncated" in card.evaluation:
        lines.append(_fmt_set("generated, no truncation (psi 1)", card.evaluation["untruncated"],
                              card.evaluation.get("untruncated_targets")))
    if "real_heldout" in sets:
        lines.append(_fmt_set("real, held-out", sets["real_heldout"]))
    for name, s in (card.evaluation.get("other_sets") or {}).items():
        lines.append(_fmt_set("white noise" if name == "noise" else name, s))
    lines += [
        _fmt_set("untrained network", sets["untrained"]),
        "",
        f"**meets_targets: {str(bool(met)).lower()}.** Targets (the judge card's): "
        + "; ".join(target_text((card.evaluation.get("judge") or {}).get("targets")).values())
        + " ('real' = the real held-out row). " + _met_sentence(card)
        + ("" if met else " It is the best this recipe reached in the training time above; a "
           "later run replaces it when it evaluates better."),
        "",
        "| 16 generated bars | 16 real held-out bars |",
        "|---|---|",
        "| ![16 generated bars](generated_16.png) | "
        "![16 real held-out bars](evaluation/real_16.png) |",
        "",
    ]
    if psi != 1.0:
        lines += [
            f"Bars are drawn with latent truncation psi = {psi:g} by default (the card's "
            "`sampling.truncation`): each seed's latent is scaled towards the centre of the "
            "distribution the network was trained on, which trades some variety for tighter, more "
            "typical bars (the within-set nearest score falls when bars resemble each other). "
            "`--truncation 1` on `beatgan generate`/`serve`, or `/beatgan/truncation 1` over OSC, "
            "draws from the raw network (the second row).", ""]
    if note:
        lines += [note, ""]
    return "\n".join(lines)
