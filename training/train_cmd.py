"""`beatgan train DATASET`: train a generator, checkpointing and evaluating on the way."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

HOLDOUT_FRACTION = 0.1  # whole source loops kept out of training, for evaluation


# Recipe fields a flag may override (--model-size ...), with their types.
OVERRIDES = (("model_size", int), ("batch_size", int), ("n_critic", int), ("r1_gamma", float),
             ("lr_g", float), ("lr_d", float), ("ema_decay", float), ("lr_half_life", int),
             ("upsample", str), ("critic_warmup_steps", int), ("post_filter", int),
             ("envelope", bool), ("kl_weight", float), ("kl_warmup_steps", int),
             ("voice_model", str))


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .recipes import RECIPES
    p.add_argument("dataset", type=Path, help="dataset file made by `beatgan prepare` (.npz)")
    p.add_argument("--recipe", default="paper", choices=sorted(RECIPES),
                   help="training recipe (default: paper = WGAN-GP as in Donahue et al.)")
    p.add_argument("--run-dir", type=Path, default=Path("runs/train"),
                   help="checkpoints, samples, curves go here (default: runs/train)")
    p.add_argument("--minutes", type=float, help="wall-clock budget in minutes")
    p.add_argument("--steps", type=int, help="stop at this generator step")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default: RUN_DIR/checkpoints/last.pt), or from "
                        "a folder written by --save-state")
    p.add_argument("--save-state", type=Path, metavar="DIR",
                   help="at the end, write the run's resumable state (bf16 optimiser moments, "
                        "~12 MB for the drum machine) to DIR, small enough to commit")
    p.add_argument("--init-from", type=Path, metavar="MODEL",
                   help="fine-tune: start the generator from a model folder (weights/, an export) "
                        "or a training checkpoint (.pt); the critics start fresh (see "
                        "--critic-warmup-steps)")
    p.add_argument("--export", type=Path, metavar="DIR",
                   help="at the end, export the best EMA checkpoint to DIR in the weights format")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0,
                   help="checkpoint and evaluate every N minutes (default 5)")
    p.add_argument("--checkpoint-steps", type=int, help="... or every N steps instead")
    p.add_argument("--sample-every", type=int, default=500, help="samples + PNGs every K steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    for name, typ in OVERRIDES:
        flag = "--" + name.replace("_", "-")
        if typ is bool:  # a switch: on when given, the recipe's setting when not
            p.add_argument(flag, action="store_const", const=True, default=None, dest=name,
                           help="turn on " + name + " (off unless the recipe has it on)")
        else:
            p.add_argument(flag, type=typ, dest=name, help="override the recipe's " + name)


def run(args: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    from beatgan.bridge.cli import UserError

    from beatgan.generator.weights import ModelLoadError

    from .dataset import load_dataset
    from .recipes import recipe
    from .trainer import (RunOptions, export_checkpoint, load_checkpoint, load_resume_state,
                          run_training)

    if args.minutes is None and args.steps is None:
        raise UserError("give a budget: --minutes M and/or --steps N")
    cfg = recipe(args.recipe, **{name: getattr(args, name) for name, _ in OVERRIDES})
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if distributed:
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        if device.startswith("cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    ds = load_dataset(args.dataset)
    train_idx, held_idx = ds.split_by_source(HOLDOUT_FRACTION, seed=0)
    meta = {**ds.meta, "dataset": str(args.dataset), "n_examples": int(len(train_idx)),
            "n_sources": int(len(set(ds.source[train_idx].tolist()))),
            "holdout_fraction": HOLDOUT_FRACTION, "holdout_seed": 0}
    resume = resume_state = None
    if args.resume:
        resume = args.run_dir / "checkpoints" / "last.pt" if args.resume == "auto" else Path(args.resume)
        from .state import is_state_folder
        if not (resume.is_file() or is_state_folder(resume)):
            raise UserError(f"{resume}: no checkpoint to resume from (a .pt file, or a folder written by --save-state)")
        resume_state = load_resume_state(resume)  # a retired setting is refused before the judge runs
    init_from = None
    if args.init_from and not resume:
        try:
            init_from = load_init_generator(args.init_from)
        except (ModelLoadError, ValueError, OSError) as e:
            raise UserError(f"--init-from: {e}") from e
    opts = RunOptions(run_dir=args.run_dir, minutes=args.minutes, steps=args.steps,
                      checkpoint_minutes=args.checkpoint_minutes,
                      checkpoint_steps=args.checkpoint_steps, sample_every=args.sample_every,
                      seed=args.seed, device=device, threads=args.threads,
                      progress=not args.no_progress)
    judge = None
    if int(os.environ.get("RANK", "0")) == 0:
        from .judge import run_judge_for
        judge = run_judge_for(ds.audio, ds.source, train_idx, held_idx, ds.sample_rate,
                              float(ds.meta["tempo_bpm"]), bar_samples=int(ds.meta["bar_samples"]))
    trainer = run_training(cfg, ds.audio[train_idx], meta, opts, resume=resume,
                           init_from=init_from, judge=judge, resume_state=resume_state)
    if distributed:
        # Equal fingerprints on every rank show the hand-made gradient averaging kept them in sync.
        print(f"rank {trainer.rank}/{trainer.world}: step {trainer.step}, generator sha256 "
              f"{state_fingerprint(trainer.G.state_dict())}", flush=True)
    if trainer.rank == 0:
        print(f"trained to step {trainer.step} in {trainer.wall_seconds / 60:.1f} min; "
              f"best: {trainer.best}")
        if args.save_state:
            from .state import save_training_state
            path = save_training_state(load_checkpoint(args.run_dir / "checkpoints" / "last.pt"),
                                       args.save_state)
            print(f"saved the resumable state (step {trainer.step}) to {path}")
        if args.export:
            ckpts = args.run_dir / "checkpoints"
            which = "best" if (ckpts / "best.pt").is_file() else "last"
            if which == "last":  # resumed from a state folder into a new run folder
                print(f"{ckpts}: no best.pt (the earlier sessions' best is not in this run "
                      "folder): exporting the last checkpoint")
            best = load_checkpoint(ckpts / f"{which}.pt")
            export_checkpoint(best, args.export, extra={"machine": _machine(device)})
            print(f"exported the {which} checkpoint (step {best['step']}) to {args.export}")
    if distributed:
        # Leave together: a rank that tears its process group down while rank 0 still
        # checkpoints aborts in gloo ("terminate called"), and torchrun then kills rank 0.
        dist.barrier()
        dist.destroy_process_group()
    return 0


def state_fingerprint(state: dict) -> str:
    """sha256 over a state dict's names and exact tensor bytes (order-independent)."""
    import hashlib
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _machine(device: str) -> str:
    import platform

    import torch
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def load_init_generator(path: Path) -> tuple[dict, dict, dict]:
    """(generator state, model config, description) from a model folder or a .pt checkpoint."""
    from beatgan.generator.weights import load_state

    from .trainer import generator_from_checkpoint, load_checkpoint
    path = Path(path)
    if path.is_dir():
        card, state = load_state(path)
        tr = card.training or {}
        return state, card.config.to_dict(), {
            "path": str(path), "name": card.name, "steps": tr.get("steps"),
            "wall_minutes": tr.get("wall_minutes"), "shards_sha256": dict(card.shards)}
    if not path.is_file():
        raise ValueError(f"{path}: no model folder or checkpoint there")
    ckpt = load_checkpoint(path)
    _, net, key = generator_from_checkpoint(ckpt)
    return net.state_dict(), ckpt["model_config"], {
        "path": str(path), "weights": key, "steps": ckpt["step"],
        "wall_minutes": round(ckpt["wall_seconds"] / 60, 1)}
