"""The training loop: explicit state in, named losses out; atomic checkpoints that rebuild
everything (models, optimisers, EMA, RNGs, step); SIGTERM saves and exits; optional DDP.

Multi-process (torchrun): gradients are averaged with all_reduce by hand instead of wrapping in
DistributedDataParallel, because the R1/GP penalties need double backward, which DDP's hooks do
not support.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from beatgan.generator import GeneratorConfig, ModelCard, named_config
from beatgan.generator.wavegan import Discriminator, Generator

from . import losses
from .metrics import summarise
from .recipes import TrainConfig

EVAL_SEEDS = 64  # fixed latents used for checkpoint evaluation and sample grids


@dataclass
class RunOptions:
    run_dir: Path
    minutes: float | None = None          # wall-clock budget (this process), minutes
    steps: int | None = None              # stop at this generator step
    checkpoint_minutes: float = 5.0       # checkpoint + evaluate this often
    checkpoint_steps: int | None = None   # ... or every this many steps (tests)
    sample_every: int = 500               # WAVs, spectrogram grid, loss curve every K steps
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True


def model_config_for(cfg: TrainConfig, data_meta: dict):
    gcfg = named_config(cfg.model, model_size=cfg.model_size, upsample=cfg.upsample,
                        minibatch_std=cfg.minibatch_std, phase_shuffle=cfg.phase_shuffle,
                        post_filter=cfg.post_filter, envelope=cfg.envelope,
                        voice_model=cfg.voice_model,
                        channels=int(data_meta.get("channels", 2)),
                        sample_rate=int(data_meta.get("sample_rate", 14700)),
                        tempo_bpm=float(data_meta.get("tempo_bpm", 125.0)))
    return gcfg


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad (N, C, T) to T = n: the dataset's slice may differ from the model's."""
    if audio.shape[-1] >= n:
        return audio[..., :n]
    return np.pad(audio, ((0, 0), (0, 0), (0, n - audio.shape[-1])))


class Trainer:
    def __init__(self, cfg: TrainConfig, data: np.ndarray, meta: dict, opts: RunOptions):
        self.cfg, self.meta, self.opts = cfg, meta, opts
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self.device = torch.device(opts.device)
        torch.manual_seed(opts.seed)  # same init on every rank
        self.gcfg = model_config_for(cfg, meta)
        self.data = torch.from_numpy(fit_length(data, self.gcfg.slice_samples).astype(np.float32))
        self.G = Generator(self.gcfg).to(self.device)
        self.D = Discriminator(self.gcfg).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if cfg.ema_decay else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), cfg.lr_d, betas=cfg.betas)
        self.data_rng = torch.Generator().manual_seed(opts.seed * 1000 + self.rank)
        torch.manual_seed(opts.seed * 1000 + 17 + self.rank)  # per-rank phase shuffle / noise
        self.step = 0          # generator steps taken
        self.d_steps = 0
        self.wall_seconds = 0.0
        self.history: list[dict] = []   # evaluations at checkpoints
        self.init_from: dict | None = None  # the trained generator this run fine-tunes, if any
        self.sessions: list[dict] = []  # one entry per `beatgan train` call that ran this run
        self.best: dict | None = None
        self.judge = None  # a judge.RunJudge (run_training sets it): what picks the best checkpoint
        self.real_rms_db = float(summarise(data[:256], self.gcfg.sample_rate,
                                           self.gcfg.tempo_bpm)["rms_db"])
        self._g_fwd, self._d_fwd = self.G, self.D
        if cfg.compile:
            self._g_fwd, self._d_fwd = torch.compile(self.G), torch.compile(self.D)

    def init_generator(self, state: dict[str, torch.Tensor], model_config: dict, source: dict) -> None:
        """Start G (and its EMA) from trained weights; the critics and optimisers start fresh.
        `source` describes where the weights came from; it travels into checkpoints and the card."""
        if self.step or self.d_steps:
            raise ValueError("a generator can only be initialised before training starts")
        self._require_model_config(model_config, str(source.get("path")))
        self.G.load_state_dict({k: v.float() for k, v in state.items()})
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())
        self.init_from = source

    def _require_model_config(self, theirs: dict, where: str) -> None:
        ours = self.gcfg.to_dict()
        # Through the dataclass, so a config written before a field existed gets its default.
        theirs = GeneratorConfig.from_dict(theirs).to_dict()
        if theirs != ours:
            diff = {k: (v, ours.get(k)) for k, v in theirs.items() if ours.get(k) != v}
            raise ValueError(f"{where}: made with a different model config than this recipe's "
                             f"(theirs, ours): {diff}")

    def warm_up_critic(self, should_stop=lambda: False, log=print) -> None:
        """Critic-only steps up to cfg.critic_warmup_steps, so a trained generator first meets a
        critic that already tells real from fake instead of one whose gradients are noise."""
        todo = self.cfg.critic_warmup_steps - self.d_steps if self.step == 0 else 0
        self._apply_learning_rates()  # a function of the generator step, which stays 0 here
        for i in range(max(todo, 0)):
            if should_stop():
                return
            t0 = time.monotonic()
            out = self.critic_step()
            self.wall_seconds += time.monotonic() - t0
            if (i + 1) % 200 == 0 or i + 1 == todo:
                log(f"critic warm-up {self.d_steps}/{self.cfg.critic_warmup_steps}: D loss {out['D/adv']:.3f}")

    # ---- one step -------------------------------------------------------------------------
    def _batch(self) -> torch.Tensor:
        idx = torch.randint(len(self.data), (self.cfg.batch_size,), generator=self.data_rng)
        return self.data[idx].to(self.device, non_blocking=True)

    def _z(self) -> torch.Tensor:
        return torch.rand(self.cfg.batch_size, self.gcfg.latent_dim, device=self.device) * 2 - 1

    def _critic(self, x: torch.Tensor) -> torch.Tensor:
        return self._d_fwd(x)  # (B, 1)

    def _sync_grads(self, params) -> None:
        if self.world == 1:
            return
        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world

    def _ctx(self):
        if self.cfg.autocast_bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def critic_step(self) -> dict:
        cfg = self.cfg
        real = self._batch()
        with torch.no_grad(), self._ctx():
            fake = self._g_fwd(self._z())
        fake = fake.float()
        lazy_r1 = cfg.r1_gamma > 0 and self.d_steps % cfg.r1_every == 0
        if lazy_r1:
            real.requires_grad_(True)
        with self._ctx():
            real_out, fake_out = self._critic(real).float(), self._critic(fake).float()
        loss = losses.d_loss(cfg.loss, real_out, fake_out)
        out = {"D/adv": loss.item()}
        if cfg.loss == "wgan" and cfg.gp_lambda > 0:
            gp = losses.gradient_penalty(self._critic, real.detach(), fake)
            loss = loss + cfg.gp_lambda * gp
            out["D/gp"] = gp.item()
        if lazy_r1:
            r1 = losses.r1_penalty(real_out, real)
            loss = loss + cfg.r1_gamma / 2 * r1 * cfg.r1_every
            out["D/r1"] = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_grads(p for g in self.opt_d.param_groups for p in g["params"])
        self.opt_d.step()
        self.d_steps += 1
        return out

    def generator_step(self) -> dict:
        with self._ctx():
            fake = self._g_fwd(self._z())
            out = self._critic(fake.float()).float()
        loss = losses.g_loss(self.cfg.loss, out)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_grads(self.G.parameters())
        self.opt_g.step()
        self._update_ema()
        self.step += 1
        return {"G/adv": loss.item()}

    def _update_ema(self) -> None:
        if self.G_ema is None:
            return
        # Warm-up: early weights are noise; averaging them in for thousands of steps blurs. A
        # fine-tuned generator starts trained, and its EMA should hold on to that start.
        decay = self.cfg.ema_decay
        if self.init_from is None:
            decay = min(decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                pe.lerp_(p, 1 - decay)

    def learning_rates(self) -> tuple[float, float]:
        """(G, D) learning rates at the current step. A pure function of the step, so a resumed
        run follows the same schedule without storing one."""
        f = 0.5 ** (self.step / self.cfg.lr_half_life) if self.cfg.lr_half_life else 1.0
        return self.cfg.lr_g * f, self.cfg.lr_d * f

    def _apply_learning_rates(self) -> None:
        for opt, lr in zip((self.opt_g, self.opt_d), self.learning_rates()):
            for group in opt.param_groups:
                group["lr"] = lr

    def train_step(self) -> dict:
        logs: dict = {}
        self._apply_learning_rates()
        for _ in range(self.cfg.n_critic):
            for k, v in self.critic_step().items():
                logs[k] = logs.get(k, 0.0) + v / self.cfg.n_critic
        logs.update(self.generator_step())
        return logs

    # ---- evaluation & samples -------------------------------------------------------------
    def eval_generator(self) -> Generator:
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def sample_bars(self, n: int = EVAL_SEEDS) -> np.ndarray:
        from beatgan.generator.latent import seed_latent
        z = torch.from_numpy(np.stack([seed_latent(s) for s in range(n)])).to(self.device)
        g = self.eval_generator()
        was = g.training
        g.eval()
        bars = torch.cat([g(z[i:i + 16]) for i in range(0, n, 16)])
        g.train(was)
        return bars[..., :self.gcfg.bar_samples].float().cpu().numpy()

    def evaluate(self) -> dict:
        bars = self.sample_bars()
        figs = summarise(bars, self.gcfg.sample_rate, self.gcfg.tempo_bpm)
        figs["score"] = quality_score(figs, self.real_rms_db)
        if self.judge is not None:
            self.judge.score_into(figs, bars)
        figs.update(step=self.step, wall_minutes=round(self.wall_seconds / 60, 2))
        return figs

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "train_config": self.cfg.to_dict(), "model_config": self.gcfg.to_dict(),
            "data_meta": self.meta, "step": self.step, "d_steps": self.d_steps,
            "wall_seconds": self.wall_seconds, "history": self.history, "best": self.best,
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "data": self.data_rng.get_state(),
                    "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
            "seed": self.opts.seed, "init_from": self.init_from, "sessions": self.sessions,
        }

    def load_state_dict(self, st: dict) -> None:
        self._require_model_config(st["model_config"], "checkpoint")
        self.sessions = list(st.get("sessions", []))
        self.G.load_state_dict(st["G"])
        self.D.load_state_dict(st["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(st["G_ema"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        self.step, self.d_steps = st["step"], st["d_steps"]
        self.wall_seconds, self.history, self.best = st["wall_seconds"], st["history"], st["best"]
        self.init_from = st.get("init_from")
        if self.rank == 0:
            torch.set_rng_state(st["rng"]["torch"])
            self.data_rng.set_state(st["rng"]["data"])
            np.random.set_state(st["rng"]["numpy"])
            random.setstate(st["rng"]["python"])
            if st["rng"].get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(st["rng"]["cuda"])
        else:  # other ranks: a fresh, deterministic stream per (seed, rank, step)
            torch.manual_seed(hash((self.opts.seed, self.rank, self.step)) % 2**31)
            self.data_rng.manual_seed(hash((self.opts.seed, self.rank, self.step, 1)) % 2**31)


def quality_score(figs: dict, real_rms_db: float) -> float:
    """One number to pick the best checkpoint: the weakest of grid and dynamics relative to their
    targets (0.45, 32 dB), capped by loudness (a near-silent model with faint ticks on the grid
    scores well on the grid alone)."""
    loud = min(1.0, 2 * 10 ** ((figs["rms_db"] - real_rms_db) / 20))
    return float(min(figs["grid"] / 0.45, figs["dynamics_db"] / 32.0, loud))


def atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as e:  # torch raises many types for a damaged file; all mean the same here
        raise ValueError(f"{path}: unreadable checkpoint ({e})") from e


def load_resume_state(path: Path) -> dict:
    """The checkpoint dict to resume from: a .pt checkpoint or a folder written by --save-state.
    One whose stored recipe used a retired setting is refused (recipes.RETIRED_SETTINGS)."""
    from .state import is_state_folder, load_training_state
    path = Path(path)
    st = load_training_state(path) if is_state_folder(path) else load_checkpoint(path)
    if not isinstance(st, dict) or "train_config" not in st or "model_config" not in st:
        raise ValueError(f"{path}: not a `beatgan train` checkpoint")
    TrainConfig.from_dict(st["train_config"], where=f"checkpoint {path}")
    return st


def run_training(cfg: TrainConfig, data: np.ndarray, meta: dict, opts: RunOptions,
                 resume: Path | None = None, log=print,
                 init_from: tuple[dict, dict, dict] | None = None, judge=None,
                 resume_state: dict | None = None) -> Trainer:
    """Train until the step or time budget is spent or SIGTERM/SIGINT arrives; checkpoint on the
    way and at the end. Returns the trainer (its best evaluation in trainer.best).
    `init_from`: (generator state dict, its model config, a description of where it came from) to
    fine-tune instead of starting at random. `judge`: a judge.RunJudge that scores each
    checkpoint (the best is the one it rates closest to real bars); None keeps the trainer's own
    figure (a toy dataset). `resume_state`: the checkpoint at `resume` when the caller has
    loaded it already with load_resume_state (`beatgan train` does, to refuse a retired setting
    before it builds the run's judge)."""
    if resume and resume_state is None:
        resume_state = load_resume_state(resume)  # refused before anything is written
    if opts.threads:
        torch.set_num_threads(opts.threads)
    run_dir = Path(opts.run_dir)
    ckpt_dir = run_dir / "checkpoints"
    if cfg.method == "vae":
        from .vae_trainer import VAETrainer
        trainer = VAETrainer(cfg, data, meta, opts)
    else:
        trainer = Trainer(cfg, data, meta, opts)
    trainer.judge = judge if trainer.rank == 0 else None
    if init_from is not None and not resume:
        trainer.init_generator(*init_from)  # before anything is written: a mismatch leaves no run
        log(f"generator initialised from {init_from[2].get('path')}")
    is_main = trainer.rank == 0
    if is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(
            {"train": cfg.to_dict(), "model": trainer.gcfg.to_dict(), "data": meta,
             "seed": opts.seed}, indent=2, default=str))
    if resume:
        trainer.load_state_dict(resume_state)
        log(f"resumed from {resume} at step {trainer.step}")
    trainer.sessions.append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             "from_step": trainer.step, "to_step": trainer.step, "minutes": 0.0,
                             "wall_seconds_at_start": trainer.wall_seconds})

    stop = {"signal": None}

    def _on_signal(signum, _frame):
        stop["signal"] = signum  # finish the step, checkpoint, exit

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    from .artifacts import RunArtifacts
    art = RunArtifacts(run_dir, trainer.gcfg) if is_main else None
    start = time.monotonic()
    last_ckpt = start
    bar = _progress(opts, trainer) if is_main else None
    try:
        if trainer.init_from is not None and not trainer.history and is_main:
            # The starting point is the score to beat: best.pt only moves if fine-tuning helps.
            _checkpoint(trainer, ckpt_dir, art, log)
        trainer.warm_up_critic(lambda: stop["signal"] is not None, log if is_main else lambda _: None)
        while True:
            elapsed = time.monotonic() - start
            done = ((opts.steps is not None and trainer.step >= opts.steps)
                    or (opts.minutes is not None and elapsed >= opts.minutes * 60)
                    or stop["signal"] is not None)
            if trainer.world > 1:
                # Ranks must leave together: a signal or the clock can reach them a step apart,
                # and a rank that steps on alone waits in all_reduce for a peer that has left.
                flag = torch.tensor([float(done)], device=trainer.device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                done = bool(flag.item())
            if done:
                if stop["signal"] is not None:
                    log(f"signal {stop['signal']}: checkpointing and exiting")
                break
            t0 = time.monotonic()
            logs = trainer.train_step()
            trainer.wall_seconds += time.monotonic() - t0
            if is_main:
                art.log_losses(trainer.step, logs)
                if bar is not None:
                    bar.update(1 if opts.steps is not None else
                               int(time.monotonic() - start) - bar.n)
                    bar.set_postfix({k.split("/")[0] + k.split("/")[1][:3]: f"{v:.3f}"
                                     for k, v in logs.items()}, refresh=False)
                if trainer.step % opts.sample_every == 0:
                    art.samples(trainer.step, trainer.sample_bars(16))
            due = (opts.checkpoint_steps and trainer.step % opts.checkpoint_steps == 0) or \
                (not opts.checkpoint_steps and time.monotonic() - last_ckpt >= opts.checkpoint_minutes * 60)
            if due and is_main:
                _checkpoint(trainer, ckpt_dir, art, log)
                last_ckpt = time.monotonic()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if bar is not None:
            bar.close()
    if is_main:
        _checkpoint(trainer, ckpt_dir, art, log)
        art.samples(trainer.step, trainer.sample_bars(16))
    return trainer


def _checkpoint(trainer: Trainer, ckpt_dir: Path, art, log) -> None:
    session = trainer.sessions[-1]
    session.update(to_step=trainer.step,
                   minutes=round((trainer.wall_seconds - session["wall_seconds_at_start"]) / 60, 2))
    if trainer.history and trainer.history[-1]["step"] == trainer.step:
        figs = trainer.history[-1]
    else:
        figs = trainer.evaluate()
        trainer.history.append(figs)
    # A best from before the judge scored this run (a resumed run) is on another scale.
    rescored = trainer.best is not None and ("judge_frechet" in figs) != ("judge_frechet" in trainer.best)
    if trainer.best is None or rescored or figs["score"] > trainer.best["score"]:
        trainer.best = figs
        state = trainer.state_dict()
        atomic_save(state, ckpt_dir / "best.pt")
    atomic_save(trainer.state_dict(), ckpt_dir / "last.pt")
    art.evaluation(trainer.history)
    judged = (f"judge FD {figs['judge_frechet']:.0f} precision {figs.get('judge_precision', 0):.2f} "
              f"recall {figs.get('judge_recall', 0):.2f} " if "judge_frechet" in figs else "")
    log(f"step {trainer.step}: {judged}grid {figs['grid']:.3f} dynamics {figs['dynamics_db']:.1f} dB "
        f"rms {figs['rms_db']:.1f} dB score {figs['score']:.4g} "
        f"(best {trainer.best['score']:.4g} at step {trainer.best['step']})")


def _progress(opts: RunOptions, trainer: Trainer):
    if not opts.progress:
        return None
    from tqdm import tqdm
    if opts.steps is not None:
        return tqdm(total=opts.steps, initial=trainer.step, unit="it", dynamic_ncols=True)
    return tqdm(total=int(math.ceil(opts.minutes * 60)), unit="s", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}s [{elapsed}<{remaining}] {postfix}")


def generator_from_checkpoint(ckpt: dict, which: str = "ema"):
    """(config, generator, state key) from a checkpoint: its EMA generator when asked for and
    present, else the raw one."""
    from beatgan.generator import GeneratorConfig
    from beatgan.generator.networks import build_generator
    gcfg = GeneratorConfig.from_dict(ckpt["model_config"])
    key = "G_ema" if which == "ema" and ckpt.get("G_ema") is not None else "G"
    net = build_generator(gcfg)
    net.load_state_dict(ckpt[key])
    return gcfg, net, key


def export_checkpoint(ckpt: dict, out_dir: Path, name: str = "beatgan", which: str = "ema",
                      extra: dict | None = None) -> Path:
    """Write a checkpoint's (EMA) generator in the shipped weights format with a full card."""
    from beatgan.generator.weights import save_model
    gcfg, net, key = generator_from_checkpoint(ckpt, which)
    tc = ckpt["train_config"]
    meta = ckpt.get("data_meta", {})
    card = ModelCard(config=gcfg, name=name,
                     training={
                         "recipe": tc, "generator_weights": key, "steps": ckpt["step"],
                         "critic_steps": ckpt["d_steps"],
                         "wall_minutes": round(ckpt["wall_seconds"] / 60, 1),
                         "sessions": len(ckpt.get("sessions", [])) or None,
                         "session_log": [{k: v for k, v in s.items() if k != "wall_seconds_at_start"}
                                         for s in ckpt.get("sessions", [])] or None,
                         **({"init_from": ckpt["init_from"]} if ckpt.get("init_from") else {}),
                         "data": {k: meta.get(k) for k in ("dataset", "n_examples", "n_sources",
                                                           "kits", "styles", "licences", "augment")
                                  if k in meta},
                         **(extra or {})},
                     evaluation=(ckpt.get("best") or {}) if which == "ema" else {})
    return save_model(net, card, out_dir)
