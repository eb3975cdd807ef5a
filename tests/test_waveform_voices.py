"""The drum machine with learned one-shot waveforms for voices (generator/waveform_voices.py,
issue 22): the config switch and its old cards, the decoder's upsampling, the parent's invariants
(hits land on their steps, stems and parts rebuild the bar), bar_parts and the voice map, the
weights format, and a toy training through the real CLI that really trains and whose model
`beatgan generate --stems --midi` renders."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from beatgan.bridge.bar_parts import bar_parts, tone_part
from beatgan.bridge.cli import main as cli_main
from beatgan.bridge.pattern import Pattern
from beatgan.generator import GeneratorConfig, named_config
from beatgan.generator.drum_machine import DrumMachine
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.networks import build_generator
from beatgan.generator.waveform_voices import (CODE_DIM, HitDecoder, UpConv,
                                               WaveformDrumMachine)
from beatgan.generator.weights import ModelLoadError
from beatgan.training.recipes import recipe

from conftest import make_tiny_model
from test_stems_serve import check_loop_files
from train_support import make_kit_dataset


def wave_cfg(**kw):
    return named_config("drum-machine", **{"model_size": 1, "voice_model": "waveform", **kw})


def wave_net(seed: int = 0, **kw) -> WaveformDrumMachine:
    torch.manual_seed(seed)
    return build_generator(wave_cfg(**kw)).eval()


# ---- the config switch --------------------------------------------------------------------

def test_the_switch_builds_the_waveform_voices_and_parametric_stays_the_default():
    assert named_config("drum-machine").voice_model == "parametric"
    assert type(build_generator(named_config("drum-machine", model_size=1))) is DrumMachine
    assert type(build_generator(wave_cfg())) is WaveformDrumMachine
    assert recipe("dm-vae-wave") == recipe("dm-vae-mel", voice_model="waveform")
    assert recipe("dm-vae-mel").voice_model == "parametric"
    from beatgan.training.ship_cmd import _recipe_extras   # the release page names the voices
    assert not any("waveform" in x for x in _recipe_extras(recipe("dm-vae-mel").to_dict()))
    extras = _recipe_extras(recipe("dm-vae-wave").to_dict())
    assert any("--voice-model waveform" in x for x in extras)


def test_config_checks_the_voice_model_and_old_cards_load():
    with pytest.raises(ValueError, match="voice_model must be one of parametric, waveform"):
        wave_cfg(voice_model="sampled")
    with pytest.raises(ValueError, match="drum-machine setting"):
        named_config("beatgan-bar", voice_model="waveform")
    old = named_config("drum-machine").to_dict()
    del old["voice_model"]  # a model card written before the field existed
    assert GeneratorConfig.from_dict(old) == named_config("drum-machine")
    assert GeneratorConfig.from_dict(wave_cfg().to_dict()) == wave_cfg()
    with pytest.raises(ValueError, match="multiple of 64"):
        HitDecoder(wave_cfg(oneshot_samples=8192 - 32))


def test_the_parametric_models_weights_are_untouched():
    """Same tensor names and shapes as before the switch existed (shipped weights load)."""
    torch.manual_seed(0)
    state = DrumMachine(named_config("drum-machine", model_size=1)).state_dict()
    assert state["voice_head.weight"].shape == (8 * (2 * 32 + 6), 32)
    assert not any(k.startswith("hit_decoder") for k in state)


# ---- the decoder --------------------------------------------------------------------------

@pytest.mark.parametrize("kernel,factor", [(9, 4), (5, 4), (7, 2), (3, 3)])
def test_up_conv_is_nearest_neighbour_upsampling_then_the_conv(kernel, factor):
    torch.manual_seed(0)
    m = UpConv(6, 5, factor, kernel, mode="nearest")
    x = torch.randn(3, 6, 40)
    want = m.conv(torch.nn.functional.interpolate(x, scale_factor=factor, mode="nearest"))
    got = m(x)
    assert got.shape == (3, 5, 40 * factor)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kernel,factor", [(9, 4), (5, 4), (7, 2), (3, 3)])
def test_up_conv_is_linear_interpolation_then_the_conv(kernel, factor):
    torch.manual_seed(0)
    m = UpConv(6, 5, factor, kernel)
    x = torch.randn(3, 6, 40)
    # The input extended by zeros, interpolated, and the conv's reach of it (no zero padding
    # after the upsampling: the conv's edge taps read the interpolated fade to zero).
    p, half = 4, kernel // 2
    up = torch.nn.functional.interpolate(torch.nn.functional.pad(x, (p, p)), scale_factor=factor,
                                         mode="linear", align_corners=False)
    up = up[..., factor * p - half: factor * (p + 40) + half]
    want = torch.nn.functional.conv1d(up, m.conv.weight, m.conv.bias)
    got = m(x)
    assert got.shape == (3, 5, 40 * factor)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_up_conv_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="linear"):
        UpConv(2, 2, 4, 9, mode="cubic")


def test_decoder_makes_unit_rms_waveforms_of_a_hits_length():
    torch.manual_seed(0)
    cfg = wave_cfg(model_size=2)
    w = HitDecoder(cfg)(torch.randn(5, CODE_DIM))
    assert w.shape == (5, cfg.oneshot_samples)
    torch.testing.assert_close(w.square().mean(-1), torch.ones(5), rtol=0, atol=1e-4)
    assert (w[0] - w[1]).abs().max() > 1e-3                # another code, another waveform


# ---- the drum machine's invariants, with these voices -------------------------------------

@pytest.mark.parametrize("channels", [1, 2])
def test_forward_shape_and_determinism(channels):
    net = wave_net(channels=channels)
    u = torch.rand(3, net.cfg.latent_dim) * 2 - 1
    a = net(u)
    assert a.shape == (3, channels, net.cfg.bar_samples) and torch.isfinite(a).all()
    assert torch.equal(a, net(u))
    assert torch.equal(wave_net(channels=channels)(u), a)    # same seed, same network
    assert (a[0] - a[1]).abs().max() > 1e-4
    # No noise draw: a bar is its latent's, whatever the batch around it (to rounding).
    assert (net(u[1:2]) - a[1:2]).abs().max() < 1e-5


def test_hits_start_at_zero_decay_and_end_faded():
    net = wave_net()
    p = net.parameters_for(torch.randn(2, net.cfg.latent_dim))
    h = net.hits(p)
    assert h.shape == (2, net.cfg.voices, net.cfg.oneshot_samples)
    assert h[..., 0].abs().max() == 0                      # the attack starts from silence
    assert h[..., -1].abs().max() == 0                     # the parent's end fade
    assert set(p) >= {"velocity", "offset_samples", "pan", "floor", "gain", "decay_s"}
    assert p["decay_s"].min() >= 0.005 and p["decay_s"].max() <= 1.5


@pytest.mark.parametrize("step", [0, 5, 15])
def test_a_hit_lands_on_its_step_to_the_sample_and_wraps(step):
    net = wave_net(channels=1)
    p = {k: v.detach().clone() for k, v in net.parameters_for(torch.zeros(1, 64)).items()}
    p["velocity"].zero_()
    p["velocity"][0, 0, step] = 1.0
    p["offset_samples"].zero_()
    p["decay_s"].fill_(0.3)
    with torch.no_grad():
        hit = net.hits(p)[0, 0]
        n = net.cfg.bar_samples
        bar = torch.fft.irfft(torch.fft.rfft(hit, n=n) * net.pulse_spectra(p)[0, 0], n=n)
    start = step * n // net.cfg.steps
    want = torch.zeros(n).index_add_(0, (start + torch.arange(len(hit))) % n, hit)
    assert torch.allclose(bar, want, atol=2e-4 * float(hit.abs().max()))


def test_stems_and_parts_rebuild_the_bar():
    net = wave_net()
    with torch.no_grad():
        net.timing_head.weight.zero_()  # whole-sample positions: a time-domain sum is exact
    z = torch.randn(2, net.cfg.latent_dim)
    bar = net.decode(z)
    voices, floor = net.stems(z)
    assert torch.allclose(voices.sum(1) + floor, bar, atol=1e-5)
    p = net.parts(z)
    t, steps = net.cfg.bar_samples, net.cfg.steps
    rebuilt = p["gain"][:, None, None] * p["floor"]
    for k in range(net.cfg.voices):
        for s in range(steps):
            idx = (s * t // steps + torch.arange(p["hits"].shape[-1])) % t
            w = (p["gain"][:, None, None] * p["pan_gains"][:, :, k, None]
                 * p["velocity"][:, k, s, None, None])
            rebuilt = rebuilt.index_add(2, idx, w * p["hits"][:, k, None])
    assert torch.allclose(rebuilt, bar, atol=1e-5)


def test_gradients_reach_the_decoder_and_the_envelope():
    net = wave_net().train()
    net.decode(torch.randn(2, net.cfg.latent_dim)).square().mean().backward()
    for name in ("hit_decoder.inp.weight", "hit_decoder.blocks.0.conv.weight",
                 "hit_decoder.blocks.4.conv.weight", "voice_head.weight", "velocity_head.weight"):
        g = dict(net.named_parameters())[name].grad
        assert g is not None and g.abs().max() > 0, name


# ---- weights, bar_parts, voice names ------------------------------------------------------

def test_weights_round_trip_and_bar_parts(tmp_path):
    folder = make_tiny_model(tmp_path / "wave", name="drum-machine", model_size=1,
                             voice_model="waveform")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["config"]["voice_model"] == "waveform"
    gen = BeatGenerator.load(folder, device="cpu")
    assert type(gen.net) is WaveformDrumMachine
    torch.manual_seed(0)
    fresh = build_generator(wave_cfg())                    # what make_tiny_model saved, in fp32
    bars = gen.generate([3, 4])
    assert bars.shape == (2, 2, 28224) and np.isfinite(bars).all()
    assert np.array_equal(bars, BeatGenerator.load(folder, device="cpu").generate([3, 4]))
    for k, v in fresh.state_dict().items():               # fp16 shards: rounding only
        torch.testing.assert_close(gen.net.state_dict()[k], v.half().float(), rtol=0, atol=0)

    parts = bar_parts(gen, [3], exact_level=True)[0]
    assert parts.hits.shape == (8, 8192) and not parts.tone.any()
    pattern = Pattern.from_parts(parts)                    # names from the measured hits
    assert len(pattern.voices) == 8 and all(v.name for v in pattern.voices)
    with torch.no_grad():
        p = gen.net.parameters_for(torch.zeros(1, 64))
        assert not tone_part(gen.net, p).any()


def test_a_parametric_weights_folder_is_not_loaded_as_waveform_voices(tmp_path):
    folder = make_tiny_model(tmp_path / "dm", name="drum-machine", model_size=1)
    card_path = folder / "model_card.json"
    card = json.loads(card_path.read_text())
    card["config"]["voice_model"] = "waveform"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="voice_head.weight has shape"):
        BeatGenerator.load(folder, device="cpu")


# ---- training through the real CLI --------------------------------------------------------

@pytest.fixture(scope="module")
def kit_dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("wavekit"), loops=8, slice_samples=28224)


def test_toy_training_reduces_reconstruction_loss_and_generates_stems_and_midi(kit_dataset,
                                                                                tmp_path):
    run, model = tmp_path / "run", tmp_path / "model"
    assert cli_main(["train", str(kit_dataset), "--recipe", "dm-vae-wave", "--model-size", "1",
                     "--batch-size", "4", "--steps", "40", "--threads", "1",
                     "--checkpoint-steps", "5", "--sample-every", "1000", "--no-progress",
                     "--run-dir", str(run), "--export", str(model)]) == 0
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["model_config"]["voice_model"] == "waveform"
    assert ckpt["train_config"]["voice_model"] == "waveform"
    first, last = ckpt["history"][0], ckpt["history"][-1]
    assert last["step"] == 40
    assert last["val_rec"] < 0.9 * first["val_rec"], (first["val_rec"], last["val_rec"])

    gen = BeatGenerator.load(model, device="cpu")
    assert type(gen.net) is WaveformDrumMachine
    out = tmp_path / "loops"
    assert cli_main(["generate", "--seed", "5", "--bpm", "97.3", "--model", str(model),
                     "--out", str(out), "--stems", "--midi"]) == 0
    (loop,) = [p for p in out.glob("*.wav") if "_stem" not in p.name]
    stems = sorted(out.glob(loop.stem + "_stem*.wav"), key=lambda p: p.name)
    stems = [p for p in stems if "floor" not in p.name] + [out / f"{loop.stem}_stem-floor.wav"]
    check_loop_files(loop, loop.with_suffix(".mid"), stems, gen, 5, 97.3, 1, 44100)


@pytest.mark.parametrize("recipe_name,value,message", [
    ("cpu-bar", "waveform",
     "voice_model 'waveform' is a drum-machine setting; arch 'bar' has no voices"),
    ("dm-vae-mel", "sampled", "voice_model must be one of parametric, waveform, got 'sampled'")])
def test_a_bad_voice_model_flag_is_one_line_and_writes_nothing(kit_dataset, tmp_path, capsys,
                                                               recipe_name, value, message):
    run = tmp_path / "run"
    assert cli_main(["train", str(kit_dataset), "--recipe", recipe_name, "--voice-model", value,
                     "--steps", "1", "--run-dir", str(run)]) != 0
    assert capsys.readouterr().err.strip() == f"beatgan train: error: {message}"
    assert not run.exists()
