"""The drum machine with learned one-shot waveforms for voices (`voice_model="waveform"`).

Everything but the hit is the parametric drum machine's (drum_machine.py): the latent and its
prior, the MLP trunk, the 16-step velocity pattern, the micro-timing, the pan, the floor, the
placement by FFT, the level and the loop encoder. Only how a hit is made differs:

    trunk -> per voice k: a code c_k (CODE_DIM), a gain, a decay time, an attack time, a pan
    c_k -> HitDecoder (one network shared by every voice) -> w_k (L,) at unit RMS
    hit_k(t) = gain_k * (1 - exp(-t / attack_k)) * exp(-t / decay_k) * w_k(t) * fade(t)

Why a second voice model: the parametric hit can only be noise bands and one gliding sine; a
learned waveform can be any sound (a clap's bursts, a cowbell's partials, a sampled kick's
click), at the price of a prior that no longer says "drum". Issue 22 measures both on the judge.

The decoder upsamples by interpolation and then convolves, never by transposed convolution:
a stride-4 transposed convolution whose kernels overlap unevenly leaves a periodic pattern (the
checkerboard; in audio a tone at the low rate's multiples) in every hit from initialisation on,
and a hit with a line in its spectrum is the artefact the judge measures (Odena et al., Distill
2016; Donahue et al. saw the same in WaveGAN). The envelope is outside the network because a
decoder would have to learn "sharp start, exponential decay" for every code, which is what two
numbers say.

No noise is drawn: a hit is a function of the latent alone (the `seeds` argument the parent's
callers pass is accepted and unused), so a seed's bar is the same everywhere.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import GeneratorConfig
from .drum_machine import FLOOR_DB, MAX_SWING, OUT_GAIN, DrumMachine, _span

CODE_DIM = 16                    # per-voice code the shared decoder is conditioned on
GAIN_DB = (-70.0, 6.0)           # a voice's level (its waveform is at unit RMS)
DECAY_S = (0.005, 1.5)           # time constant of the hit's exponential decay
ATTACK_S = (0.0002, 0.01)        # time constant of its rise: 0.2 ms is a click, 10 ms a swell
UPSAMPLE = 4                     # per decoder block
BLOCKS = 3                       # 4^3 = 64: the decoder starts at oneshot_samples / 64 positions
KERNEL = 9                       # taps of each decoder convolution


class UpConv(nn.Module):
    """Upsampling by `factor` (linear interpolation, or nearest neighbour), then a `kernel`-tap
    conv1d: (N, C_in, M) -> (N, C_out, factor M). The input is extended by zeros before it is
    upsampled, so the conv's edge taps read the interpolation's fade to zero ('same' length).

    Computed as `factor` convolutions at the low rate, one per output phase, each the weighted
    sum of the high-rate taps that read the same low-rate sample (4 taps for 9 at x4): the same
    output to rounding (tests/test_waveform_voices.py), a third of the multiplications and no
    upsampled copy of the input. The learned weights are the high-rate conv's (`conv`), so the
    phases stay tied together, not a transposed conv's free phases (where a checkerboard comes
    from).

    Why linear by default: nearest-neighbour upsampling repeats each sample `factor` times, so
    after three blocks every hit is a 64-sample stamp scaled by the slow signal under it; its
    spectrum is a comb at multiples of 14700 / 64 = 230 Hz. A dm-vae-wave run with it stood
    10.5-10.9 dB over its neighbourhood on the judge's artefact figure at every checkpoint (real
    bars 2.2 dB). Linear interpolation leaves only kinks at the frame joins, whose images fall
    off as 1/f^2 instead of 1/f: the comb went, but a line at 3.59 kHz (the last block's image
    band) grew to 8.0 dB by step 2200, so this is better, not solved (docs/training.md)."""

    def __init__(self, c_in: int, c_out: int, factor: int, kernel: int, mode: str = "linear"):
        super().__init__()
        if mode not in ("linear", "nearest"):
            raise ValueError(f"mode must be 'linear' or 'nearest', got {mode!r}")
        self.factor, self.c_out = factor, c_out
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        # Output sample factor m + r, tap j reads upsampled sample u = factor m + r + j - pad,
        # which is low-rate sample u // factor (nearest) or the two around position
        # (u + 0.5) / factor - 0.5 (linear, as F.interpolate with align_corners=False).
        pad = kernel // 2
        reads: list[tuple[int, int, int, float]] = []            # (phase, low-rate offset, tap, w)
        for r in range(factor):
            for j in range(kernel):
                u = r + j - pad
                if mode == "nearest":
                    reads.append((r, u // factor, j, 1.0))
                    continue
                pos = (u + 0.5) / factor - 0.5
                i0 = math.floor(pos)
                a = pos - i0
                reads += [(r, i0, j, 1.0 - a), (r, i0 + 1, j, a)]
        lo = min(d for _, d, _, _ in reads)
        hi = max(d for _, d, _, _ in reads)
        taps = torch.zeros(factor, hi - lo + 1, kernel)
        for r, d, j, w in reads:
            taps[r, d - lo, j] += w
        self.register_buffer("phase_taps", taps, persistent=False)       # (factor, T, kernel)
        self.pad = (-lo, hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, c = self.factor, self.c_out
        w = torch.einsum("rtj,oij->roit", self.phase_taps, self.conv.weight)   # (f, C_out, C_in, T)
        y = F.conv1d(F.pad(x, self.pad), w.reshape(f * c, *w.shape[2:]),
                     self.conv.bias.repeat(f))                                 # (N, f C_out, M)
        n, _, m = y.shape
        return y.view(n, f, c, m).permute(0, 2, 3, 1).reshape(n, c, m * f)


class HitDecoder(nn.Module):
    """(N, CODE_DIM) codes -> (N, oneshot_samples) waveforms at unit RMS.

    linear -> (4 d, L / 64) -> linear x4 + conv1d -> (2 d, L / 16), LeakyReLU
                            -> linear x4 + conv1d -> (d, L / 4), LeakyReLU
                            -> linear x4 + conv1d -> (1, L)
    (channels at least 4). The last block makes the one output channel itself: a full-rate conv
    after it would be the dearest layer of the model (a 1-channel conv1d's backward pass on
    a CPU cost more than the rest of the decoder together), and the d input channels of the last
    conv already give each of the four image bands of its upsampling its own mix, so the top
    two octaves (above the L / 4 rate's Nyquist, 1.8 kHz) are not a copy of the bottom ones."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        scale = UPSAMPLE ** BLOCKS
        if cfg.oneshot_samples % scale:
            raise ValueError(f"a waveform voice needs oneshot_samples a multiple of {scale}, "
                             f"got {cfg.oneshot_samples}")
        self.positions = cfg.oneshot_samples // scale
        chans = [max(4, 4 * cfg.model_size >> i) for i in range(BLOCKS)] + [1]
        self.inp = nn.Linear(CODE_DIM, chans[0] * self.positions)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [UpConv(c_in, c_out, UPSAMPLE, KERNEL), nn.LeakyReLU(0.2)]
        self.blocks = nn.Sequential(*layers[:-1])   # no activation on the waveform itself

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        n = code.shape[0]
        x = F.leaky_relu(self.inp(code), 0.2).view(n, -1, self.positions)             # (N, C, L/64)
        w = self.blocks(x)[:, 0]                                                        # (N, L)
        # Zero mean: the convolutions' biases through LeakyReLU leave an offset that the decay
        # envelope turns into a sub-bass thump; at initialisation it held ~25 dB more energy
        # below 100 Hz than all the rest, which real bars do not.
        w = w - w.mean(dim=-1, keepdim=True)
        # Unit RMS: the level is the gain's job, so the decoder only learns a shape and a voice
        # can fall silent through one number (as the parametric voices' band gains do).
        return w * torch.rsqrt(w.square().mean(dim=-1, keepdim=True) + 1e-8)


class WaveformDrumMachine(DrumMachine):
    """The drum machine (same latent, pattern, placement, encoder) whose hits come from a learned
    waveform decoder instead of noise bands and a tone. `parameters_for` gives the pattern,
    pan and floor under the parent's names, and per voice code, gain, decay_s and attack_s;
    `hit_parts` gives a zero tonal part (no part of a learned hit is known to be tonal, so
    renderers and voice naming treat all of it as the measured hit)."""

    def __init__(self, cfg: GeneratorConfig):
        if cfg.voice_model != "waveform":
            raise ValueError(f"WaveformDrumMachine needs voice_model 'waveform', got "
                             f"{cfg.voice_model!r}")
        super().__init__(cfg)
        hidden = self.voice_head.in_features
        self.n_voice_params = CODE_DIM + 4          # code, gain, decay, attack, pan
        # Replaces the parent's head (band gains and decays, a tone): a different shape, so a
        # parametric model's weights can never be loaded into this one by mistake.
        self.voice_head = nn.Linear(hidden, cfg.voices * self.n_voice_params)
        self.hit_decoder = HitDecoder(cfg)
        with torch.no_grad():
            # Start with sharp attacks: most drum hits start within a millisecond.
            self.voice_head.bias.view(cfg.voices, self.n_voice_params)[:, CODE_DIM + 2] = -2.0

    def parameters_for(self, z: torch.Tensor, seeds: list[int] | None = None
                       ) -> dict[str, torch.Tensor]:
        """Every voice setting in its unit, and the pattern. `seeds` is unused (no noise)."""
        cfg = self.cfg
        b, k, s, c = z.shape[0], cfg.voices, cfg.steps, CODE_DIM
        h = self.trunk(z)
        v = self.voice_head(h).view(b, k, self.n_voice_params)
        step = cfg.bar_samples / s
        return {
            "code": v[..., :c],                                                       # (B, K, C)
            "gain": 10 ** (_span(v[..., c], *GAIN_DB) / 20),                          # (B, K)
            "decay_s": _span(v[..., c + 1], *DECAY_S, log=True),                      # (B, K)
            "attack_s": _span(v[..., c + 2], *ATTACK_S, log=True),                    # (B, K)
            "pan": torch.tanh(v[..., c + 3]),                                         # (B, K) -1..1
            # The pattern, timing and floor exactly as DrumMachine.parameters_for makes them
            # (that method also draws band noise these voices do not use, so it is not called).
            "velocity": torch.sigmoid(self.velocity_head(h)).view(b, k, s),           # (B, K, S)
            "offset_samples": MAX_SWING * step * torch.tanh(self.timing_head(h)),     # (B, S)
            "floor": 10 ** (_span(self.floor_head(h)[:, 0], *FLOOR_DB) / 20),         # (B,)
        }

    def hits(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, oneshot_samples): each voice's hit at velocity 1."""
        b, k, _ = p["code"].shape
        wave = self.hit_decoder(p["code"].reshape(b * k, -1)).view(b, k, -1)         # (B, K, L)
        t = self.time_s
        # The decay stops at e^-60 (-521 dB): further down, float32 turns denormal, and a CPU
        # multiplies denormals tens of times slower (a 5 ms decay reaches them after 0.44 s).
        decay = torch.exp(-(t / p["decay_s"][..., None]).clamp_max(60.0))
        env = -torch.expm1(-t / p["attack_s"][..., None]) * decay                     # (B, K, L)
        return OUT_GAIN * p["gain"][..., None] * env * wave * self.fade

    def hit_parts(self, p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(hits, tone): the tonal part is zero (see the class docstring)."""
        h = self.hits(p)
        return h, torch.zeros_like(h)

    def _tone(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, L) zeros: no part of a learned hit is a known tone (bridge.bar_parts.tone_part
        reads this)."""
        return p["gain"].new_zeros(*p["gain"].shape, self.cfg.oneshot_samples)
