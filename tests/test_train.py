"""The training pipeline end to end on the CPU: render-kit -> prepare -> train -> export -> generate
-> evaluate, through the real CLI; exact resume after SIGTERM; checkpoints; error paths."""
from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from train_support import CLI, TINY, make_kit_dataset, subprocess_env

from beatgan.bridge.cli import main as cli_main
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.weights import load_state
from beatgan.training.judge import JUDGE_DIR
from beatgan.training.metrics import onset_grid_score
from beatgan.training.recipes import RetiredSettingError, TrainConfig, recipe
from beatgan.training.ship_cmd import _recipe_extras, _recipe_line
from beatgan.training.trainer import RunOptions, Trainer, load_checkpoint, load_resume_state

STEPS = 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("train_data"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset):
    """One tiny paper-recipe run with the progress bar on; its stderr is kept for the bar test."""
    root = tmp_path_factory.mktemp("trained")
    run_dir, model = root / "run", root / "model"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli_main(["train", str(dataset), *TINY, "--steps", str(STEPS), "--checkpoint-steps", "2",
                       "--sample-every", "2", "--run-dir", str(run_dir), "--export", str(model)])
    assert rc == 0, err.getvalue()[-3000:]
    return {"run": run_dir, "model": model, "stderr": err.getvalue(), "root": root}


def test_train_writes_checkpoints_losses_samples_and_curves(trained):
    run = trained["run"]
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == STEPS and ckpt["d_steps"] == 5 * STEPS  # paper: 5 critic steps per G step
    assert ckpt["train_config"]["gp_lambda"] == 10.0 and ckpt["train_config"]["betas"] == [0.5, 0.9]
    assert {"G", "D", "opt_g", "opt_d", "rng", "model_config", "data_meta"} <= set(ckpt)
    assert (run / "checkpoints" / "best.pt").is_file()
    assert not list(run.rglob(".tmp-*")), "a temporary checkpoint was left behind"
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert all({"D/adv", "D/gp", "G/adv"} <= set(r) and all(np.isfinite(list(r.values()))) for r in rows)
    for step in (2, 4):
        wav = run / "samples" / f"step{step:07d}_0.wav"
        audio, rate = sf.read(wav, always_2d=True)
        assert rate == 14700 and audio.shape == (28224, 2)
        png = run / "samples" / f"step{step:07d}_grid.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "losses.png").read_bytes()[:4] == b"\x89PNG"
    history = json.loads((run / "evaluation.json").read_text())
    assert [h["step"] for h in history] == [2, 4]
    assert json.loads((run / "config.json").read_text())["train"]["n_critic"] == 5


def test_progress_bar_shows_rate_and_eta(trained):
    err = trained["stderr"]
    assert re.search(r"\d+(\.\d+)?(it/s|s/it)", err), err[-500:]
    assert re.search(rf"{STEPS}/{STEPS} \[\d\d:\d\d<\d\d:\d\d", err), err[-500:]


def test_export_writes_the_weights_format_with_the_checkpoint_generator(trained, tmp_path):
    ckpt = load_checkpoint(trained["run"] / "checkpoints" / "last.pt")
    out = tmp_path / "raw"
    assert cli_main(["export", str(trained["run"] / "checkpoints" / "last.pt"), str(out), "--raw",
                     "--name", "tiny"]) == 0
    card, state = load_state(out)
    assert card.name == "tiny" and card.training["steps"] == STEPS
    assert set(state) == set(ckpt["G"])
    for k, v in ckpt["G"].items():
        torch.testing.assert_close(state[k].float(), v.half().float())  # shipped as fp16
    gen = BeatGenerator.load(out, device="cpu")
    bars = gen.generate([0, 1])
    assert bars.shape == (2, 2, 28224) and np.isfinite(bars).all() and np.abs(bars).max() <= 1.0
    # --export at the end of training wrote the best checkpoint the same way.
    assert BeatGenerator.load(trained["model"], device="cpu").card.training["steps"] in (2, 4)


def test_generate_from_the_trained_model(trained, tmp_path):
    out = tmp_path / "loops"
    rc = cli_main(["generate", "--model", str(trained["model"]), "-n", "2", "--seed", "5",
                   "--out", str(out), "--device", "cpu"])
    assert rc == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2
    for wav in wavs:
        info = sf.info(wav)
        assert info.samplerate == 44100 and info.channels == 2
        # One bar at the model tempo (125 bpm) is 1.92 s.
        assert abs(info.frames / info.samplerate - 1.92) < 0.01


def test_evaluate_the_exported_model_and_the_checkpoint(trained, dataset, capsys):
    for name, model in (("model", trained["model"]),
                        ("ckpt", trained["run"] / "checkpoints" / "last.pt")):
        out = trained["root"] / f"eval_{name}"
        assert cli_main(["evaluate", str(model), str(dataset), "--n", "4", "--out", str(out),
                         "--device", "cpu", "--classifier-seconds", "3"]) == 0
        fig = json.loads((out / "evaluation.json").read_text())
        assert set(fig["sets"]) == {"generated", "real_heldout", "untrained"}
        assert fig["sets"]["generated"]["n"] == 4
        assert "frechet" in fig["sets"]["generated"]
        assert "report.md" in capsys.readouterr().out
        assert (out / "report.md").read_text().startswith("# Evaluation of")
    # The second evaluation reused the classifier the first one trained (same dataset file).
    assert fig["classifier"]["cached"] is True


def test_ship_measures_the_release_on_seeds_the_checkpoint_pick_never_saw(trained, dataset, tmp_path):
    out = tmp_path / "weights"
    assert cli_main(["ship", str(trained["run"] / "checkpoints" / "best.pt"), str(dataset),
                     "--out", str(out), "--name", "tiny", "--note", "A test release."]) == 0
    card = json.loads((out / "model_card.json").read_text())
    ev = card["evaluation"]
    assert ev["first_seed"] == 10_000 and ev["n_bars"] == 64
    assert {"generated", "real_heldout", "untrained"} <= set(ev["sets"])
    gen = BeatGenerator.load(out, device="cpu")  # verifies the shard checksums
    bars = gen.generate(range(10_000, 10_064))
    grid = float(onset_grid_score(bars, gen.card.sample_rate, gen.card.tempo_bpm).mean())
    assert abs(grid - ev["sets"]["generated"]["grid"]) < 0.01
    readme = (out / "README.md").read_text()
    assert "seeds 10000-10063" in readme and "A test release." in readme
    assert (out / "generated_16.png").stat().st_size > 1000
    assert (out / "evaluation" / "report.md").is_file()


def test_ship_rereleases_a_model_folder_with_a_truncation_default(trained, dataset, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli_main(["ship", str(trained["run"] / "checkpoints" / "best.pt"), str(dataset),
                     "--out", str(first), "--name", "tiny"]) == 0
    assert cli_main(["ship", str(first), str(dataset), "--out", str(second),
                     "--truncation", "0.6"]) == 0
    a = json.loads((first / "model_card.json").read_text())
    b = json.loads((second / "model_card.json").read_text())
    assert b["shards"] == a["shards"]                     # the same weights, bit for bit
    assert b["training"] == a["training"] and a["sampling"] == {}
    assert b["sampling"] == {"truncation": 0.6} and b["evaluation"]["truncation"] == 0.6
    raw = b["evaluation"]["untruncated"]
    assert raw["grid"] == pytest.approx(a["evaluation"]["sets"]["generated"]["grid"])
    gen = BeatGenerator.load(second, device="cpu")
    assert gen.truncation == 0.6
    bars = gen.generate(range(10_000, 10_064))
    grid = float(onset_grid_score(bars, gen.card.sample_rate, gen.card.tempo_bpm).mean())
    assert abs(grid - b["evaluation"]["sets"]["generated"]["grid"]) < 0.01
    report = json.loads((second / "evaluation" / "evaluation.json").read_text())
    assert report["truncation"] == 0.6
    assert report["sets"]["generated"]["self_nearest_median"] >= 0
    readme = (second / "README.md").read_text()
    assert "| generated, truncation 0.6 |" in readme
    assert "| generated, no truncation (psi 1) |" in readme
    assert "psi = 0.6 by default" in readme
    # shipping it again without --truncation keeps the folder's default
    assert cli_main(["ship", str(second), str(dataset), "--out", str(second)]) == 0
    assert json.loads((second / "model_card.json").read_text())["sampling"] == {"truncation": 0.6}
    assert cli_main(["ship", str(tmp_path / "nothing"), str(dataset), "--out",
                     str(tmp_path / "x")]) != 0


def _train_proc(dataset, run_dir, steps, *extra):
    return subprocess.Popen(
        [*CLI, "train", str(dataset), *TINY, "--steps", str(steps), "--checkpoint-steps", "2",
         "--sample-every", "1000", "--no-progress", "--run-dir", str(run_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env())


def test_resume_after_sigterm_continues_exactly(dataset, tmp_path):
    n = 14
    straight = _train_proc(dataset, tmp_path / "A", n)
    out_a, _ = straight.communicate(timeout=300)
    assert straight.returncode == 0, out_a[-3000:]

    run_b = tmp_path / "B"
    proc = _train_proc(dataset, run_b, n)
    last = run_b / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out_b, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out_b[-3000:]
    assert "signal 15: checkpointing and exiting" in out_b
    stopped = load_checkpoint(last)["step"]
    assert 2 <= stopped < n, f"SIGTERM came too late to test anything (stopped at {stopped})"

    resumed = _train_proc(dataset, run_b, n, "--resume")
    out_r, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out_r[-3000:]
    assert f"at step {stopped}" in out_r

    rows_a = [json.loads(line) for line in (tmp_path / "A" / "losses.jsonl").read_text().splitlines()]
    rows_b = [json.loads(line) for line in (run_b / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows_b] == list(range(1, n + 1))
    assert rows_b == rows_a  # the losses after the resume are the uninterrupted run's
    ckpt_a = load_checkpoint(tmp_path / "A" / "checkpoints" / "last.pt")
    ckpt_b = load_checkpoint(last)
    assert ckpt_b["step"] == ckpt_a["step"] == n
    for net in ("G", "D"):
        for k in ckpt_a[net]:
            assert torch.equal(ckpt_a[net][k], ckpt_b[net][k]), f"{net}.{k} differs after resume"


def test_damaged_checkpoint_is_a_clear_error(trained, tmp_path, capsys):
    bad = tmp_path / "last.pt"
    bad.write_bytes((trained["run"] / "checkpoints" / "last.pt").read_bytes()[:5000])
    assert cli_main(["export", str(bad), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "unreadable checkpoint" in err and str(bad) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["export", "ship"])
def test_missing_checkpoint_is_one_line_naming_it(tmp_path, capsys, command):
    missing = tmp_path / "nope.pt"
    args = [command, str(missing)] + ([str(tmp_path / "out")] if command == "export" else
                                      [str(tmp_path / "d.npz"), "--out", str(tmp_path / "out")])
    assert cli_main(args) == 1
    err = capsys.readouterr().err
    assert "no such checkpoint file" in err and str(missing) in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    ([], "give a budget"),
    (["--steps", "1", "--resume"], "no checkpoint to resume from"),
])
def test_train_usage_errors_are_one_line(dataset, tmp_path, capsys, args, message):
    rc = cli_main(["train", str(dataset), "--run-dir", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and len(err.strip().splitlines()) == 1


def test_train_on_a_missing_dataset_names_it(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert cli_main(["train", str(missing), "--steps", "1", "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "beatgan prepare" in err


def test_lr_half_life_halves_both_learning_rates_by_step(dataset, tmp_path):
    run = tmp_path / "run"
    rc = cli_main(["train", str(dataset), *TINY, "--steps", "4", "--lr-half-life", "2",
                   "--lr-g", "4e-4", "--lr-d", "2e-4", "--checkpoint-steps", "4",
                   "--sample-every", "100", "--no-progress", "--run-dir", str(run)])
    assert rc == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["train_config"]["lr_half_life"] == 2
    # The 4th step ran at step count 3: 0.5 ** (3 / 2) of the base rates.
    assert ckpt["opt_g"]["param_groups"][0]["lr"] == pytest.approx(4e-4 * 0.5 ** 1.5)
    assert ckpt["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.5 ** 1.5)


# ---- settings retired in issue 22 (groove critic, augment_p, fake_noise, STFT critic) ----------
RETIRED_FLAGS = ("--groove-weight", "--augment-p", "--fake-noise")
RETIRED_RECIPES = ("cpu-groove", "cpu-stft", "cpu-stft-nn")
RETIRED_OFF = {"stft_critic": False, "stft_weight": 2.0, "groove_critic": False,
               "groove_weight": 1.0, "augment_p": 0.0, "fake_noise": False}


def _with_train_config(trained, tmp_path, **changes):
    """A copy of the tiny run's last checkpoint whose stored recipe has `changes`, as a
    checkpoint written before the settings were retired has."""
    ckpt = load_checkpoint(trained["run"] / "checkpoints" / "last.pt")
    ckpt["train_config"] = {**ckpt["train_config"], **changes}
    path = tmp_path / "old.pt"
    torch.save(ckpt, path)
    return path


def test_train_help_lists_no_retired_flag_or_recipe(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--recipe" in out and "cpu-bar" in out and "dm-vae-mel" in out
    for word in (*RETIRED_FLAGS, *RETIRED_RECIPES, "groove"):
        assert word not in out, word


@pytest.mark.parametrize("name", RETIRED_RECIPES)
def test_a_retired_recipe_is_argparses_invalid_choice(dataset, tmp_path, capsys, name):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", str(dataset), "--recipe", name, "--steps", "1",
                  "--run-dir", str(tmp_path / "r")])
    assert e.value.code == 2
    assert f"invalid choice: '{name}'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("key, value, shown", [("stft_critic", True, "stft_critic=true"),
                                               ("groove_critic", True, "groove_critic=true"),
                                               ("augment_p", 0.5, "augment_p=0.5"),
                                               ("fake_noise", True, "fake_noise=true")])
def test_resuming_a_checkpoint_trained_with_a_retired_setting_is_one_line(
        trained, dataset, tmp_path, capsys, key, value, shown):
    old = _with_train_config(trained, tmp_path, **{**RETIRED_OFF, key: value})
    run = tmp_path / "run"
    rc = cli_main(["train", str(dataset), *TINY, "--steps", str(STEPS + 1), "--resume", str(old),
                   "--no-progress", "--run-dir", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert f"checkpoint {old} was trained with" in err[0] and shown in err[0]
    assert "retired" in err[0] and "current recipe" in err[0] and "Traceback" not in err[0]
    assert not run.exists()  # refused before anything was written


def test_a_checkpoint_with_the_retired_settings_off_still_resumes(trained, dataset, tmp_path, capsys):
    old = _with_train_config(trained, tmp_path, **RETIRED_OFF)
    run = tmp_path / "run"
    assert cli_main(["train", str(dataset), *TINY, "--steps", str(STEPS + 1), "--resume", str(old),
                     "--checkpoint-steps", "100", "--sample-every", "100", "--no-progress",
                     "--run-dir", str(run)]) == 0
    assert f"resumed from {old} at step {STEPS}" in capsys.readouterr().out
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == STEPS + 1 and not set(RETIRED_OFF) & set(ckpt["train_config"])


def test_the_committed_training_state_resumes_through_the_cli(dataset, tmp_path, capsys):
    """`beatgan train --resume training/state/dm-vae-mel`: its stored recipe (written with the
    retired settings off) reads back as today's dm-vae-mel, and one more step trains."""
    from beatgan.generator.engine import DEFAULT_MODEL_DIR
    folder = JUDGE_DIR.parent / "state" / "dm-vae-mel"
    st = load_resume_state(folder)
    assert set(RETIRED_OFF) <= set(st["train_config"])  # written before the retirement
    assert TrainConfig.from_dict(st["train_config"]) == recipe("dm-vae-mel")
    card = json.loads((DEFAULT_MODEL_DIR / "model_card.json").read_text())
    assert TrainConfig.from_dict(card["training"]["recipe"]) == recipe("dm-vae-mel")
    run = tmp_path / "run"
    assert cli_main(["train", str(dataset), "--recipe", "dm-vae-mel", "--resume", str(folder),
                     "--steps", str(st["step"] + 1), "--threads", "1", "--no-progress",
                     "--checkpoint-steps", "100000", "--sample-every", "100000",
                     "--run-dir", str(run)]) == 0
    assert f"at step {st['step']}" in capsys.readouterr().out
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == st["step"] + 1


def test_stored_training_configs_drop_retired_settings_when_off_and_refuse_them_when_on():
    stored = recipe("cpu-bar").to_dict()
    assert TrainConfig.from_dict({**stored, **RETIRED_OFF}) == recipe("cpu-bar")
    with pytest.raises(RetiredSettingError, match=r"^x\.pt was trained with the groove critic "
                                                  r"\(groove_critic=true\)"):
        TrainConfig.from_dict({**stored, "groove_critic": True, "groove_weight": 2.0}, "x.pt")
    # a key that was never a setting is still an error
    with pytest.raises(ValueError, match=r"unknown training config keys: \['colour'\]"):
        TrainConfig.from_dict({**stored, "colour": "red"}, "x.pt")


def test_the_release_page_names_the_recipe_extras():
    assert _recipe_extras(recipe("cpu-bar").to_dict()) == []
    assert _recipe_extras(recipe("cpu-bar", envelope=True, post_filter=512).to_dict()) == [
        "envelope output", "learned post-filter (512 taps)"]
    # A checkpoint from before the retirement keeps saying what it was trained with.
    old = {**recipe("cpu-bar").to_dict(), **RETIRED_OFF, "groove_critic": True, "fake_noise": True}
    extras = _recipe_extras(old)
    assert any("groove critic" in x and "retired" in x for x in extras)
    assert any("noise on the generated side" in x for x in extras)
    assert "STFT" not in _recipe_line(recipe("cpu-bar").to_dict())


def test_the_critic_sees_real_and_generated_bars_as_they_are(tmp_path):
    """Nothing is added to either side on the way to the critic (the retired fake_noise and
    augment_p did)."""
    bar = 28224
    data = (np.random.default_rng(0).standard_normal((4, 2, bar)) * 0.1).astype(np.float32)
    meta = {"channels": 2, "sample_rate": 14700, "tempo_bpm": 125.0,
            "augment": {"noise_lsb24": 10000, "noise_peak": 10000 / 2 ** 23}}
    t = Trainer(recipe("cpu-bar", model_size=2, batch_size=2), data, meta, RunOptions(run_dir=tmp_path))
    t._g_fwd = lambda z: torch.zeros(len(z), 2, bar)  # silent generated bars
    seen = []
    t.D.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    t.critic_step()
    real, fake = seen[:2]
    assert all(any(torch.equal(r, torch.from_numpy(d)) for d in data) for r in real)
    assert torch.count_nonzero(fake) == 0
