"""`beatgan train --init-from`: fine-tune a trained generator (a shipped model folder or a
checkpoint) against fresh critics, with critic-only warm-up steps first; through the real CLI."""
from __future__ import annotations

import json

import pytest
import torch
from train_support import TINY, make_kit_dataset

from beatgan.bridge.cli import main as cli_main
from beatgan.generator.weights import load_state
from beatgan.training.trainer import load_checkpoint

QUIET = ["--no-progress", "--sample-every", "100"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("finetune_data"), loops=4)


@pytest.fixture(scope="module")
def base(tmp_path_factory, dataset):
    """A tiny trained model in the shipped weights format, and the run that made it."""
    root = tmp_path_factory.mktemp("base")
    assert cli_main(["train", str(dataset), *TINY, *QUIET, "--steps", "2", "--checkpoint-steps", "2",
                     "--run-dir", str(root / "run"), "--export", str(root / "model")]) == 0
    return root


def _finetune(dataset, init, run, *extra):
    return cli_main(["train", str(dataset), *TINY, *QUIET, "--init-from", str(init),
                     "--run-dir", str(run), *extra])


def test_finetune_starts_from_the_given_weights_after_a_critic_warm_up(dataset, base, tmp_path):
    run = tmp_path / "ft"
    # lr_g 0: the generator cannot move, so it must still be the shipped one at the end.
    assert _finetune(dataset, base / "model", run, "--steps", "2", "--checkpoint-steps", "2",
                     "--critic-warmup-steps", "3", "--lr-g", "0", "--export", str(tmp_path / "out")) == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    _, shipped = load_state(base / "model")
    for k, v in shipped.items():
        torch.testing.assert_close(ckpt["G"][k], v.float())
    assert ckpt["step"] == 2 and ckpt["d_steps"] == 3 + 5 * 2  # warm-up, then 5 critic steps per G step
    assert ckpt["init_from"]["path"] == str(base / "model") and ckpt["init_from"]["steps"] == 2
    # The starting point is evaluated first: it is the score fine-tuning has to beat.
    history = json.loads((run / "evaluation.json").read_text())
    assert [h["step"] for h in history] == [0, 2]
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["training"]["init_from"]["name"] == "beatgan"
    assert card["training"]["recipe"]["critic_warmup_steps"] == 3


def test_finetune_from_a_checkpoint_keeps_its_ema_near_the_start(dataset, base, tmp_path):
    run = tmp_path / "ft"
    start = load_checkpoint(base / "run" / "checkpoints" / "last.pt")
    assert _finetune(dataset, base / "run" / "checkpoints" / "last.pt", run, "--steps", "2",
                     "--checkpoint-steps", "2", "--ema-decay", "0.9", "--lr-g", "1e-2") == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["init_from"]["steps"] == 2 and ckpt["d_steps"] == 10  # no warm-up asked for

    def dist(a):
        return sum(float((a[k] - start["G"][k]).norm() ** 2) for k in a) ** 0.5
    # The paper recipe has no EMA, so G_ema started as a copy of G ("G" key). After two steps at
    # decay 0.9 the EMA moved at most 1 - 0.9**2 = 19 % of the way a warm-up EMA (decay 0.1 at
    # step 0) would have; a snapped EMA would sit almost on G.
    assert ckpt["init_from"]["weights"] == "G"
    assert dist(ckpt["G_ema"]) < 0.3 * dist(ckpt["G"])


def test_finetune_resume_does_not_warm_up_again(dataset, base, tmp_path):
    run = tmp_path / "ft"
    assert _finetune(dataset, base / "model", run, "--steps", "1", "--checkpoint-steps", "1",
                     "--critic-warmup-steps", "2") == 0
    assert cli_main(["train", str(dataset), *TINY, *QUIET, "--run-dir", str(run), "--resume",
                     "--steps", "2", "--checkpoint-steps", "1", "--critic-warmup-steps", "2"]) == 0
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["d_steps"] == 2 + 5 * 2 and ckpt["init_from"]["path"] == str(base / "model")


@pytest.mark.parametrize("problem", ["other size", "corrupt", "missing"])
def test_bad_init_is_one_line_naming_it(dataset, base, tmp_path, capsys, problem):
    init = base / "model"
    extra = []
    if problem == "other size":
        extra = ["--model-size", "4"]
    elif problem == "corrupt":
        init = tmp_path / "model"
        init.mkdir()
        for f in (base / "model").iterdir():
            if f.is_file():
                (init / f.name).write_bytes(f.read_bytes())
        shard = next(init.glob("*.safetensors"))
        shard.write_bytes(shard.read_bytes()[:-64])
    else:
        init = tmp_path / "nope"
    rc = _finetune(dataset, init, tmp_path / "ft", "--steps", "1", *extra)
    err = capsys.readouterr().err
    assert rc == 1 and str(init) in err and len(err.strip().splitlines()) == 1, err
    if problem == "other size":
        assert "model_size" in err and not (tmp_path / "ft").exists()


def test_ship_names_the_model_it_was_fine_tuned_from(dataset, base, tmp_path):
    run = tmp_path / "ft"
    assert _finetune(dataset, base / "model", run, "--steps", "1", "--checkpoint-steps", "1") == 0
    out = tmp_path / "weights"
    assert cli_main(["ship", str(run / "checkpoints" / "last.pt"), str(dataset), "--out", str(out),
                     "--name", "tiny-ft"]) == 0
    readme = (out / "README.md").read_text()
    assert f"fine-tuned from `{base / 'model'}` (beatgan: 2 generator steps" in readme
