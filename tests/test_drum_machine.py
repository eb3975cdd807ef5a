"""The drum-machine family: hits land where the pattern puts them, to the sample; the parts sum to
the bar; the weights format and the engine carry it; analysis-by-synthesis training really trains
and resumes (at toy size, through the real CLI)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from beatgan.bridge.cli import main as cli_main
from beatgan.generator import named_config
from beatgan.generator.drum_machine import DrumMachine, band_masks
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.latent import seed_latent
from beatgan.training.spectral_loss import multi_resolution_stft_loss

from conftest import make_tiny_model
from train_support import make_kit_dataset


def tiny_cfg(**kw):
    return named_config("drum-machine", **{"model_size": 1, **kw})


def one_hit_params(net: DrumMachine, step: int, offset: float = 0.0, voice: int = 0):
    """Hand-set parameters: one voice, one hit at `step` (+ offset samples), a long bright decay."""
    cfg = net.cfg
    p = net.parameters_for(torch.zeros(1, cfg.latent_dim))
    p = {k: v.detach().clone() for k, v in p.items()}
    p["velocity"].zero_()
    p["velocity"][0, voice, step] = 1.0
    p["offset_samples"].zero_()
    p["offset_samples"][0, step] = offset
    p["band_gain"].fill_(1.0)
    p["band_decay_s"].fill_(0.3)
    return p


def test_a_bar_does_not_hang_on_the_last_bit_of_its_gaussian_latent(monkeypatch):
    """A batched matrix product may round the Gaussian latent differently from a single one;
    the band noise is seeded from the uniform latent, so that rounding moves the bar by rounding
    error, not to another noise draw (the bar's noise once hashed the Gaussian latent's bytes)."""
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg()).eval()
    u = torch.rand(3, net.cfg.latent_dim) * 2 - 1
    clean = net(u)
    exact = net.gaussian_latent
    monkeypatch.setattr(net, "gaussian_latent", lambda v: exact(v) * (1 + 1e-7) + 1e-7)
    assert not torch.equal(exact(u), net.gaussian_latent(u))
    assert (net(u) - clean).abs().max() < 1e-4


def test_config_is_exactly_one_bar_and_checks_its_fields():
    cfg = named_config("drum-machine")
    assert cfg.slice_samples == cfg.bar_samples == 28224 and cfg.positions == 16
    with pytest.raises(ValueError, match="longer than the bar"):
        named_config("drum-machine", oneshot_samples=40000)
    with pytest.raises(ValueError, match=">= 1"):
        named_config("drum-machine", voices=0)


@pytest.mark.parametrize("channels", [1, 2])
def test_forward_shape_and_determinism(channels):
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg(channels=channels)).eval()
    u = torch.rand(3, net.cfg.latent_dim) * 2 - 1
    a, b = net(u), net(u)
    assert a.shape == (3, channels, net.cfg.bar_samples)
    assert torch.equal(a, b)
    assert torch.isfinite(a).all()
    # Different latents, different bars.
    assert (a[0] - a[1]).abs().max() > 1e-4


@pytest.mark.parametrize("step", [0, 5, 15])
def test_a_hit_lands_on_its_step_to_the_sample_and_wraps(step):
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg(channels=1)).eval()
    p = one_hit_params(net, step)
    hit = net.hits(p)[0, 0]                                   # (L,)
    spec = torch.fft.rfft(hit, n=net.cfg.bar_samples) * net.pulse_spectra(p)[0, 0]
    bar = torch.fft.irfft(spec, n=net.cfg.bar_samples)
    n, start = net.cfg.bar_samples, step * net.cfg.bar_samples // net.cfg.steps
    expected = torch.zeros(n)
    idx = (start + torch.arange(len(hit))) % n               # the tail rings into the bar start
    expected.index_add_(0, idx, hit)
    assert torch.allclose(bar, expected, atol=2e-4 * float(hit.abs().max()))
    assert int(bar.abs().argmax()) == int((start + hit.abs().argmax()) % n)


def test_micro_timing_moves_a_hit_by_its_offset():
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg(channels=1)).eval()
    bars = []
    for offset in (0.0, 100.0):
        p = one_hit_params(net, 4, offset)
        spec = torch.fft.rfft(net.hits(p), n=net.cfg.bar_samples) * net.pulse_spectra(p)
        bars.append(torch.fft.irfft(spec, n=net.cfg.bar_samples)[0, 0])
    assert torch.allclose(torch.roll(bars[0], 100), bars[1], atol=1e-4 * float(bars[0].abs().max()))


def test_stems_sum_to_the_bar():
    torch.manual_seed(1)
    net = DrumMachine(tiny_cfg()).eval()
    z = net.gaussian_latent(torch.rand(2, net.cfg.latent_dim) * 2 - 1)
    voices, floor = net.stems(z)
    assert voices.shape == (2, net.cfg.voices, 2, net.cfg.bar_samples)
    assert torch.allclose(voices.sum(1) + floor, net.decode(z), atol=1e-5)


def test_band_masks_split_white_noise_and_sum_back_to_it():
    m = band_masks(8, 4096, 14700)
    assert torch.allclose(m.pow(2).sum(0), torch.ones(m.shape[1]), atol=1e-5)
    peaks = m.argmax(dim=1)
    assert torch.all(peaks[1:] > peaks[:-1])                  # each band sits above the last


def test_band_noise_is_a_function_of_the_latent():
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg()).eval()
    z = torch.randn(2, net.cfg.latent_dim)
    a, b = net.band_noise(z), net.band_noise(z.clone())
    assert torch.equal(a, b)                                  # same latent, same noise
    assert torch.allclose(a.pow(2).mean(-1), torch.ones(2, net.cfg.bands), atol=1e-4)
    assert not torch.allclose(a[0], a[1])                     # another latent, another draw


def test_weights_format_and_engine_carry_the_drum_machine(tmp_path):
    folder = make_tiny_model(tmp_path / "dm", name="drum-machine", model_size=1)
    gen = BeatGenerator.load(folder, device="cpu")
    assert gen.card.config.arch == "drum-machine"
    bars = gen.generate([3, 4])
    assert bars.shape == (2, 2, 28224)
    again = BeatGenerator.load(folder, device="cpu").generate([3, 4])
    assert np.array_equal(bars, again)                        # noise tables travel in the weights


def test_stft_loss_is_zero_for_equal_bars_and_grows_with_difference():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 8192) * 0.1
    same = multi_resolution_stft_loss(x, x)
    assert float(same["sc"]) == 0.0 and float(same["logmag"]) == 0.0
    near = multi_resolution_stft_loss(x + 0.01 * torch.randn_like(x), x)
    far = multi_resolution_stft_loss(torch.randn_like(x) * 0.1, x)
    assert 0 < float(near["sc"]) < float(far["sc"])


@pytest.fixture(scope="module")
def kit_dataset(tmp_path_factory):
    return make_kit_dataset(tmp_path_factory.mktemp("dmkit"), loops=8, slice_samples=28224)


VAE_TINY = ["--recipe", "dm-vae", "--model-size", "1", "--batch-size", "4", "--threads", "1",
            "--no-progress"]


def test_vae_training_reduces_reconstruction_loss_and_resumes(kit_dataset, tmp_path):
    run, state = tmp_path / "run", tmp_path / "state"
    assert cli_main(["train", str(kit_dataset), *VAE_TINY, "--steps", "60", "--lr-g", "1e-3",
                     "--checkpoint-steps", "5", "--sample-every", "1000", "--run-dir", str(run),
                     "--save-state", str(state)]) == 0
    hist = torch.load(run / "checkpoints" / "last.pt", weights_only=False)["history"]
    first, last = hist[0], hist[-1]
    assert last["step"] == 60
    assert last["val_rec"] < 0.9 * first["val_rec"], (first["val_rec"], last["val_rec"])
    # The judge scored every checkpoint and picked the best.
    assert all(h["judge_frechet"] > 0 and h["score"] == pytest.approx(1 / (1 + h["judge_frechet"])) for h in hist)
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=False)["best"]
    assert best["score"] == max(h["score"] for h in hist)
    assert json.loads((state / "state.json").read_text())["step"] == 60
    assert (state / "state.pt").stat().st_size < 15 * 2**20
    # A second session (a fresh clone: only the committed state folder) continues the run.
    run2 = tmp_path / "run2"
    assert cli_main(["train", str(kit_dataset), *VAE_TINY, "--steps", "70", "--lr-g", "1e-3",
                     "--checkpoint-steps", "5", "--sample-every", "1000", "--run-dir", str(run2),
                     "--resume", str(state), "--export", str(tmp_path / "model")]) == 0
    ckpt = torch.load(run2 / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["step"] == 70 and ckpt["history"][0]["step"] == first["step"]
    assert [(s["from_step"], s["to_step"]) for s in ckpt["sessions"]] == [(0, 60), (60, 70)]
    gen = BeatGenerator.load(tmp_path / "model", device="cpu")
    assert gen.card.training["sessions"] == 2 and gen.card.training["steps"] == 70
    bars = gen.generate([0, 1])
    assert bars.shape == (2, 2, 28224) and np.isfinite(bars).all()
    # The exported prior is the fitted one, not the identity it starts as.
    assert not torch.equal(gen.net.prior_chol, torch.eye(gen.card.config.latent_dim))


def test_parts_rebuild_the_bar_by_placing_hits_in_the_time_domain():
    """What a tempo renderer does with `parts`: place each hit at its step, wrap, scale."""
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg()).eval()
    with torch.no_grad():
        net.timing_head.weight.zero_()  # whole-sample positions: a time-domain sum is exact
    z = torch.randn(2, net.cfg.latent_dim)
    p = net.parts(z)
    t, s_count = net.cfg.bar_samples, net.cfg.steps
    bar = p["gain"][:, None, None] * p["floor"]
    for k in range(net.cfg.voices):
        for s in range(s_count):
            idx = (s * t // s_count + torch.arange(p["hits"].shape[-1])) % t
            w = p["gain"][:, None, None] * p["pan_gains"][:, :, k, None] * p["velocity"][:, k, s, None, None]
            bar = bar.index_add(2, idx, w * p["hits"][:, k, None])
    assert torch.allclose(bar, net.decode(z), atol=1e-5)


def test_uniform_and_gaussian_latents_are_inverse_and_encode_returns_uniform_latents(tmp_path):
    torch.manual_seed(0)
    net = DrumMachine(tiny_cfg()).eval()
    with torch.no_grad():  # a fitted prior, not the identity
        a = torch.randn(net.cfg.latent_dim, net.cfg.latent_dim) * 0.1
        net.prior_chol.copy_(torch.linalg.cholesky(a @ a.T + torch.eye(net.cfg.latent_dim)))
        net.prior_mean.normal_()
    u = torch.rand(4, net.cfg.latent_dim) * 1.8 - 0.9
    assert torch.allclose(net.uniform_latent(net.gaussian_latent(u)), u, atol=1e-4)
    gen = BeatGenerator.load(make_tiny_model(tmp_path / "dm", name="drum-machine", model_size=1))
    latents = gen.encode(gen.generate([1, 2]))
    assert latents.shape == (2, gen.card.config.latent_dim) and np.all(np.abs(latents) < 1)
    with pytest.raises(ValueError, match="no encoder"):
        BeatGenerator.load(make_tiny_model(tmp_path / "wg", model_size=2)).encode(np.zeros((1, 2, 28224)))


def test_mel_loss_sees_envelopes_and_averages_the_noise_realisation_out():
    from beatgan.training.spectral_loss import multi_resolution_mel_loss
    torch.manual_seed(0)
    decay = torch.exp(-torch.arange(8192) / 800.0)
    a, b = torch.randn(2, 2, 8192) * decay, torch.randn(2, 2, 8192) * decay  # same envelope
    slow = torch.randn(2, 2, 8192) * torch.exp(-torch.arange(8192) / 4000.0)  # another decay
    assert float(multi_resolution_mel_loss(a, a, 14700)["sc"]) == 0.0
    per_bin = multi_resolution_stft_loss(a, b)
    mel = multi_resolution_mel_loss(a, b, 14700)
    assert float(mel["sc"]) < 0.6 * float(per_bin["sc"])            # noise floor halved
    assert float(multi_resolution_mel_loss(slow, a, 14700)["logmag"]) > 1.5 * float(mel["logmag"])
