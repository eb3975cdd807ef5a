"""The drum-machine generator: a bar is a few drum voices, each a short sound, placed by a velocity
pattern on the bar's sixteenth grid. Every part is learned from audio; only the structure is given.

    z (B, latent) -> MLP -> per voice: a hit (noise bands + a gliding tone), a pan
                         -> per voice and step: a velocity;  per step: a micro-timing offset
    bar = sum over voices of (hit * pattern), circularly: a hit's tail rings past the bar end
          into its start, as in a loop cut from a track.

Why a prior instead of a raw-sample network: on two CPU cores a WaveGAN never learned that a hit
starts sharp and decays, or that the space between hits is quiet (docs/training.md). Here a hit is
an exponentially decaying sum of band-limited noises plus a sine whose pitch glides
down (kick and tom bodies), so every bar is made of hits by construction, and the network's job is
which hits, how they sound, and where they go. It also knows what a flat WAV hides: per-voice stems
and the pattern (`stems`, `describe`).

Placement happens in the frequency domain: a voice's bar is its hit's spectrum times the
spectrum of its pulse train, sum_s v[k, s] exp(-2 pi i f (t_s + tau_s) / T). That is a circular
convolution (the wrap-around for free) with offsets tau_s that stay differentiable (swing).

Deterministic given the latent: the band noise a bar's hits are cut from is drawn from a seed made
of the U(-1, 1) latent's bytes (`forward`; the Gaussian latent's bytes where a caller decodes one
directly), and the latent prior is a buffer saved with the weights.
The forward pass takes z ~ U(-1, 1)^latent like every BeatGAN model (so seeds, truncation,
variation and morph work unchanged) and maps it to the Gaussian the decoder was trained on.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import GeneratorConfig

# Ranges of the synthesis parameters; the network picks a point in each through a sigmoid.
BAND_GAIN_DB = (-70.0, 0.0)      # per noise band
BAND_DECAY_S = (0.001, 1.5)      # time constant of a band's exponential decay
TONE_GAIN_DB = (-70.0, 6.0)
TONE_START_HZ = (30.0, 3000.0)
TONE_END_RATIO = (0.25, 1.0)     # end pitch / start pitch: tones only glide down
TONE_GLIDE_S = (0.002, 0.2)
TONE_DECAY_S = (0.005, 0.6)      # short: a held sine leaves a tonal line (the prototypes' artefact)
FLOOR_DB = (-100.0, -40.0)       # the background noise floor (the dataset's augmentation noise)
MAX_SWING = 0.25                 # micro-timing, in steps, either way
LOW_HZ = 40.0                    # lowest band edge
OUT_GAIN = 0.25                  # unit-RMS noise bands summed: keep hits near full scale
NOISE_SEED = 0x5EED              # the floor noise's seed (it is saved with the weights anyway)

VOICE_PARAMS = ("band_gain", "band_decay", "tone_gain", "tone_start", "tone_end", "tone_glide",
                "tone_decay", "pan")


def _span(x: torch.Tensor, lo: float, hi: float, log: bool = False) -> torch.Tensor:
    s = torch.sigmoid(x)
    if log:
        return torch.exp(math.log(lo) + s * (math.log(hi) - math.log(lo)))
    return lo + s * (hi - lo)


def band_edges(bands: int, sample_rate: int) -> torch.Tensor:
    """bands + 1 log-spaced edges from LOW_HZ to Nyquist (Hz)."""
    return torch.logspace(math.log10(LOW_HZ), math.log10(sample_rate / 2), bands + 1,
                          dtype=torch.float64)


def band_masks(bands: int, length: int, sample_rate: int) -> torch.Tensor:
    """(bands, length // 2 + 1) amplitude masks over the rFFT bins of a `length`-sample signal:
    bands centred on log-spaced frequencies from LOW_HZ to Nyquist, each a half cosine in log
    frequency reaching the neighbouring centres, so the masks' squares sum to 1 at every bin
    (white noise split into bands sums back to white noise). Smooth on purpose: brick-wall bands
    leave a step at every edge whose gains differ, and the set's average spectrum shows it."""
    freqs = torch.fft.rfftfreq(length, 1.0 / sample_rate, dtype=torch.float64)
    centres = torch.logspace(math.log10(LOW_HZ), math.log10(sample_rate / 2), bands, dtype=torch.float64)
    if bands == 1:
        return torch.ones(1, len(freqs), dtype=torch.float32)
    step = math.log(centres[1] / centres[0])
    x = (torch.log(freqs.clamp_min(1e-3)) - math.log(centres[0])) / step   # position in bands
    x = x.clamp(0.0, bands - 1.0)
    dist = (x[None] - torch.arange(bands, dtype=torch.float64)[:, None]).abs()
    return torch.where(dist < 1.0, torch.cos(0.5 * math.pi * dist), torch.zeros_like(dist)).float()


def latent_seeds(z: torch.Tensor) -> list[int]:
    """One 63-bit seed per latent, from its float32 bytes: the noise a bar's hits are cut from
    is a function of its latent, so a seed (or an encoded loop) gives the same bar everywhere.

    Hash what the caller holds (the U(-1, 1) latent), never a product computed from it: a
    batched matrix product can round the last bit differently from a single one, and a hash
    turns one bit into a different bar."""
    import hashlib
    rows = z.detach().to("cpu", torch.float32).contiguous().numpy()
    return [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little") >> 1
            for r in rows]


def white_spectrum(n: int, seed: int) -> torch.Tensor:
    """(n // 2 + 1,) complex64: the rFFT of n samples of N(0, 1) white noise, drawn directly
    from `seed`: interior bins complex Gaussian with E|X|^2 = n, DC (and Nyquist for even n)
    real with E X^2 = n, all independent, as the transform of white noise is."""
    f = n // 2 + 1
    r = torch.randn(2, f, generator=torch.Generator().manual_seed(seed)) * math.sqrt(n / 2)
    r[1, 0] = 0.0
    r[0, 0] *= math.sqrt(2.0)
    if n % 2 == 0:
        r[1, -1] = 0.0
        r[0, -1] *= math.sqrt(2.0)
    return torch.complex(r[0], r[1])


class DrumMachine(nn.Module):
    """z (B, latent) in U(-1, 1) -> (B, channels, bar_samples). `decode` takes the Gaussian latent
    directly (training, encoding a loop); `parameters_for`/`stems` expose the parts."""

    ENV_HOP = 32  # samples between computed points of a band's decay envelope

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        if cfg.arch != "drum-machine":
            raise ValueError(f"DrumMachine needs arch 'drum-machine', got {cfg.arch!r}")
        if cfg.oneshot_samples % self.ENV_HOP:
            raise ValueError(f"oneshot_samples must be a multiple of {self.ENV_HOP}")
        if cfg.channels not in (1, 2):
            raise ValueError(f"a drum machine renders mono or stereo, got {cfg.channels} channels")
        self.cfg = cfg
        k, s, nb = cfg.voices, cfg.steps, cfg.bands
        hidden = 32 * cfg.model_size
        # LayerNorm keeps the synthesis parameters in range while the encoder's latents still
        # wander early in training (without it a run at lr 1e-3 diverged at step 150).
        self.trunk = nn.Sequential(
            nn.Linear(cfg.latent_dim, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2))
        self.n_voice_params = 2 * nb + 6
        self.voice_head = nn.Linear(hidden, k * self.n_voice_params)
        self.velocity_head = nn.Linear(hidden, k * s)
        self.timing_head = nn.Linear(hidden, s)
        self.floor_head = nn.Linear(hidden, 1)
        with torch.no_grad():
            # Start with quiet hits everywhere (the loss then carves the pattern) and on the grid.
            self.velocity_head.bias.fill_(-1.5)
            # Tones start silent: a sine's pitch is a poor direction for a spectral loss (a wrong
            # pitch's gradient points nowhere), while a narrow noise band's gain is a straight
            # one; with 32 bands, 4 below 100 Hz, the bands carry the kick body first.
            self.voice_head.bias.view(cfg.voices, self.n_voice_params)[:, 2 * nb] = -8.0
            self.timing_head.weight.mul_(0.01)
            self.timing_head.bias.zero_()
        t = cfg.bar_samples
        self.register_buffer("band_masks", band_masks(nb, cfg.oneshot_samples, cfg.sample_rate),
                             persistent=False)                                     # (NB, F)
        # A band's power in the time domain from its rFFT (Parseval): bins 1..n/2-1 stand for
        # two (their mirror images), DC and Nyquist for one.
        twice = torch.full((self.band_masks.shape[1],), 2.0)
        twice[0] = 1.0
        if cfg.oneshot_samples % 2 == 0:
            twice[-1] = 1.0
        self.register_buffer("band_power_masks", self.band_masks.square() * twice,
                             persistent=False)                                     # (NB, F)
        g = torch.Generator().manual_seed(NOISE_SEED + 1)  # quiet: its fixed spectrum is harmless
        self.register_buffer("floor_noise", torch.randn(cfg.channels, t, generator=g))
        # Fade the last 10 % of a hit: a long decay cut at the table's end would click.
        n = cfg.oneshot_samples
        fade = torch.ones(n)
        m = max(1, n // 10)
        fade[-m:] = torch.linspace(1.0, 0.0, m)
        self.register_buffer("fade", fade, persistent=False)
        self.register_buffer("time_s", torch.arange(n) / cfg.sample_rate, persistent=False)
        # Step s starts at s T / S samples: s f / S cycles at FFT bin f, reduced mod 1 in
        # integers (in float32, f * position would drift by 1e-3 cycles at the top bins).
        f = torch.arange(t // 2 + 1, dtype=torch.int64)
        grid = torch.remainder(torch.arange(cfg.steps)[:, None] * f, cfg.steps) / cfg.steps
        self.register_buffer("grid_cycles", grid.float(), persistent=False)          # (S, F)
        # The latent prior: a Gaussian fitted to the encoded training bars after training
        # (identity until then). z = prior_mean + prior_chol @ N(0, 1).
        self.register_buffer("prior_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("prior_chol", torch.eye(cfg.latent_dim))
        # Every bar leaves at this RMS (the training bars' median, set by the trainer): level is
        # the mixer's job, so training spends nothing on it and no seed comes out silent.
        self.register_buffer("out_rms", torch.tensor(0.1))
        self.encoder = LoopEncoder(cfg)  # shipped with the weights: a user's loop -> its latent

    # ---- latents ----------------------------------------------------------------------------
    def gaussian_latent(self, u: torch.Tensor) -> torch.Tensor:
        """U(-1, 1) -> the decoder's latent: inverse normal CDF, then the fitted prior."""
        g = math.sqrt(2.0) * torch.erfinv(u.clamp(-0.999999, 0.999999))
        return self.prior_mean + g @ self.prior_chol.T

    def uniform_latent(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of gaussian_latent: a decoder latent (an encoded loop) -> the U(-1, 1)
        latent that seeds, variations and morphs work in."""
        g = torch.linalg.solve_triangular(self.prior_chol, (z - self.prior_mean).T, upper=False).T
        return torch.erf(g / math.sqrt(2.0))

    @torch.no_grad()
    def encode(self, bars: torch.Tensor) -> torch.Tensor:
        """(B, C, T) bars at the model tempo and rate -> (B, latent) U(-1, 1) latents whose bars
        rebuild them (the posterior means)."""
        bars = bars * self.level_gain(bars)
        mu, _ = self.encoder(bars)
        return self.uniform_latent(mu)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.decode(self.gaussian_latent(u), latent_seeds(u))

    # ---- parts ------------------------------------------------------------------------------
    def band_noise(self, z: torch.Tensor, seeds: list[int] | None = None) -> torch.Tensor:
        """(B, NB, L) unit-RMS band-limited noise, one draw per latent (seeded by `seeds`,
        default a hash of z).

        A new draw per bar, not one table for every bar: a fixed table's spectrum has the same
        random peaks in every hit of every bar, and they stand ~7 dB out of the set's average
        spectrum (real loops, cut from many samples, average theirs out).

        The white noise is drawn as its spectrum: the rFFT of Gaussian white noise is
        independent complex Gaussian bins (real DC and Nyquist bins of twice the power), so
        drawing those directly is the same noise in distribution without the forward FFT, and
        each band's RMS comes from its spectrum (Parseval) instead of a pass over its samples."""
        n = self.cfg.oneshot_samples
        white = torch.stack([white_spectrum(n, s) for s in
                             (latent_seeds(z) if seeds is None else seeds)]
                            ).to(self.band_masks.device)                                  # (B, F)
        power = (white.real.square() + white.imag.square()) @ self.band_power_masks.T   # (B, NB)
        scale = (n * n / power.clamp_min(1e-30)).sqrt().to(torch.float32)
        masks = self.band_masks * scale[..., None]                                       # (B, NB, F)
        return torch.fft.irfft(white[:, None] * masks, n=n)                              # (B, NB, L)

    def parameters_for(self, z: torch.Tensor, seeds: list[int] | None = None) -> dict[str, torch.Tensor]:
        """Every synthesis parameter, in its unit: the pattern a MIDI file or a stem needs, and
        the bar's band noise (drawn from `seeds`; see band_noise)."""
        cfg = self.cfg
        b, k, s, nb = z.shape[0], cfg.voices, cfg.steps, cfg.bands
        h = self.trunk(z)
        v = self.voice_head(h).view(b, k, self.n_voice_params)
        step = cfg.bar_samples / s
        start = _span(v[..., 2 * nb + 1], *TONE_START_HZ, log=True)
        return {
            "band_gain": 10 ** (_span(v[..., :nb], *BAND_GAIN_DB) / 20),             # (B, K, NB)
            "band_decay_s": _span(v[..., nb:2 * nb], *BAND_DECAY_S, log=True),        # (B, K, NB)
            "tone_gain": 10 ** (_span(v[..., 2 * nb], *TONE_GAIN_DB) / 20),           # (B, K)
            "tone_start_hz": start,
            "tone_end_hz": start * _span(v[..., 2 * nb + 2], *TONE_END_RATIO),
            "tone_glide_s": _span(v[..., 2 * nb + 3], *TONE_GLIDE_S, log=True),
            "tone_decay_s": _span(v[..., 2 * nb + 4], *TONE_DECAY_S, log=True),
            "pan": torch.tanh(v[..., 2 * nb + 5]),                                    # (B, K) -1..1
            "velocity": torch.sigmoid(self.velocity_head(h)).view(b, k, s),           # (B, K, S)
            "offset_samples": MAX_SWING * step * torch.tanh(self.timing_head(h)),     # (B, S)
            "floor": 10 ** (_span(self.floor_head(h)[:, 0], *FLOOR_DB) / 20),         # (B,)
            "noise": self.band_noise(z, seeds),                                              # (B, NB, L)
        }

    def hits(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, oneshot_samples): each voice's hit at velocity 1."""
        return OUT_GAIN * (self._band_part(p) + self._tone(p)) * self.fade

    def hit_parts(self, p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(hits, tone), each (B, K, L): the hits and their tonal part alone (hits with every
        noise band silent), for the price of the hits: a renderer that wants both (stems, voice
        names) computes the tone once. hits - tone is the noise bands' part."""
        tone = OUT_GAIN * self._tone(p) * self.fade
        return OUT_GAIN * self._band_part(p) * self.fade + tone, tone

    def _band_part(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, L): the noise bands under their decay envelopes, before OUT_GAIN and the fade.

        Band envelopes are computed every ENV_HOP samples and interpolated linearly in between;
        that turns B*K*bands*L exponentials into one batched matrix product at the cost of
        attacks no sharper than ENV_HOP samples (2 ms). Per hop e the product is the envelope at
        both ends of the hop, (2K, NB), times the hop's noise, (NB, hop): one (E, 2K, NB) x
        (E, NB, hop) product, 5x faster on one CPU thread than two einsums whose batch dimension
        sits in the middle (they copy every operand into place first)."""
        b, k = p["band_gain"].shape[:2]
        n, hop = self.cfg.oneshot_samples, self.ENV_HOP
        frames = n // hop
        noise = p["noise"]
        t_env = torch.arange(frames + 1, device=noise.device) * (hop / self.cfg.sample_rate)
        gain = p["band_gain"][:, None]                                              # (B, 1, K, NB)
        env = gain * torch.exp(-t_env[:, None, None] / p["band_decay_s"][:, None])  # (B, E+1, K, NB)
        ends = torch.cat([env[:, :-1], env[:, 1:]], dim=2)                          # (B, E, 2K, NB)
        hops = noise.view(b, -1, frames, hop).transpose(1, 2)                      # (B, E, NB, hop)
        out = torch.matmul(ends, hops)                                              # (B, E, 2K, hop)
        now, nxt = out[:, :, :k], out[:, :, k:]
        a = torch.arange(hop, device=noise.device) / hop
        return (now + (nxt - now) * a).transpose(1, 2).reshape(b, k, n)

    def _tone(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, L): the gliding sine, before OUT_GAIN and the fade."""
        t = self.time_s
        f0, f1 = p["tone_start_hz"][..., None], p["tone_end_hz"][..., None]
        freq = f1 + (f0 - f1) * torch.exp(-t / p["tone_glide_s"][..., None])  # (B, K, L)
        phase = 2 * math.pi * torch.cumsum(freq, dim=-1) / self.cfg.sample_rate
        return p["tone_gain"][..., None] * torch.sin(phase) * torch.exp(-t / p["tone_decay_s"][..., None])

    def pulse_spectra(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K, F) complex: the spectrum of each voice's pulse train over the bar."""
        cfg = self.cfg
        n, s = cfg.bar_samples, cfg.steps
        f = torch.arange(n // 2 + 1, device=self.grid_cycles.device, dtype=torch.float32)
        cycles = self.grid_cycles + p["offset_samples"][..., None] * (f / n)          # (B, S, F)
        e = torch.polar(torch.ones_like(cycles), -2 * math.pi * torch.remainder(cycles, 1.0))
        return torch.matmul(p["velocity"].to(e.dtype), e)                     # (B, K, F)

    def _voice_spectra(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        n = self.cfg.bar_samples
        return torch.fft.rfft(self.hits(p), n=n) * self.pulse_spectra(p)     # (B, K, F)

    def _pan_gains(self, pan: torch.Tensor) -> torch.Tensor:
        """(B, K) pan -> (B, C, K) gains, constant power, unity at the centre."""
        if self.cfg.channels == 1:
            return torch.ones_like(pan)[:, None]
        angle = (pan + 1.0) * math.pi / 4
        return math.sqrt(2.0) * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)

    def _floor(self, p: dict[str, torch.Tensor]) -> torch.Tensor:
        return p["floor"][:, None, None] * self.floor_noise                  # (B, C, T)

    def level_gain(self, bar: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1) gain that takes each bar to out_rms."""
        return self.out_rms / bar.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-8)

    def decode(self, z: torch.Tensor, seeds: list[int] | None = None) -> torch.Tensor:
        """Gaussian latent (B, latent) -> (B, channels, bar_samples), at out_rms. `seeds` pick
        the band noise (default: a hash of z; `forward` passes a hash of the uniform latent)."""
        p = self.parameters_for(z, seeds)
        spec = self._voice_spectra(p)                                        # (B, K, F)
        mix = torch.einsum("bck,bkf->bcf", self._pan_gains(p["pan"]).to(spec.dtype), spec)
        bar = torch.fft.irfft(mix, n=self.cfg.bar_samples) + self._floor(p)
        return bar * self.level_gain(bar)

    @torch.no_grad()
    def parts(self, z: torch.Tensor, seeds: list[int] | None = None) -> dict[str, torch.Tensor]:
        """What a renderer needs to rebuild the bar at any tempo and rate, for a Gaussian latent:
        hits (B, K, L) at the model rate and velocity 1, velocity (B, K, S), offset_samples
        (B, S) at the model rate, pan_gains (B, C, K), floor (B, C, T) and gain (B,): the level
        the model's bar was scaled by. At the model tempo, gain * (sum over voices and steps of
        pan * velocity * hit placed at step * T / S + offset, wrapped) + gain * floor = decode(z).
        Also every synthesis parameter (parameters_for), for describing the voices."""
        p = self.parameters_for(z, seeds)
        voices, floor = self.stems(z, seeds)
        raw_floor = self._floor(p)
        gain = (floor.flatten(1).norm(dim=1) / raw_floor.flatten(1).norm(dim=1).clamp_min(1e-12))
        return {**p, "hits": self.hits(p), "pan_gains": self._pan_gains(p["pan"]),
                "floor": raw_floor, "gain": gain}

    @torch.no_grad()
    def stems(self, z: torch.Tensor, seeds: list[int] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(voices (B, K, C, T), floor (B, C, T)) for a Gaussian latent: they sum to
        `decode(z, seeds)`."""
        p = self.parameters_for(z, seeds)
        voices = torch.fft.irfft(self._voice_spectra(p), n=self.cfg.bar_samples)  # (B, K, T)
        voices = self._pan_gains(p["pan"]).permute(0, 2, 1)[..., None] * voices[:, :, None]
        floor = self._floor(p)
        gain = self.level_gain(voices.sum(1) + floor)
        return voices * gain[:, None], floor * gain


class LoopEncoder(nn.Module):
    """(B, C, T) bar -> (mu, logvar) of the Gaussian latent: analysis for analysis-by-synthesis
    training and for "give me the stems and variations of this loop" (`generate --like`).

    Log-magnitude STFT of mid and side at 12 frames per sixteenth; five conv blocks halve
    frequency each time but time only three times (25 frames: more than one per step, so where
    a hit is survives to the dense layer); frequency is then averaged out."""

    N_FFT = 512
    BLOCKS = ((1, 2), (2, 2), (4, 2), (8, 1), (8, 1))  # (channels / width, time stride)

    def __init__(self, cfg: GeneratorConfig, width: int = 16):
        super().__init__()
        self.cfg = cfg
        self.hop = max(1, cfg.bar_samples // (12 * cfg.steps))
        self.register_buffer("window", torch.hann_window(self.N_FFT), persistent=False)
        c_in = 2 if cfg.channels == 2 else 1
        layers = []
        for mult, t_stride in self.BLOCKS:
            layers += [nn.Conv2d(c_in, mult * width, 3, stride=(2, t_stride), padding=1),
                       nn.LeakyReLU(0.2)]
            c_in = mult * width
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            n_feat = self._pooled(torch.zeros(1, cfg.channels, cfg.bar_samples)).shape[1]
        self.out = nn.Linear(n_feat, 2 * cfg.latent_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = x[..., :self.cfg.bar_samples].float()
        if x.shape[1] == 2:
            x = torch.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], dim=1) * 0.5  # mid, side
        b, c, t = x.shape
        spec = torch.stft(x.reshape(b * c, t), self.N_FFT, self.hop, window=self.window,
                          return_complex=True).abs()
        spec = torch.log(spec[:, 1:] + 1e-4)                                # drop DC: 256 bins
        return spec.view(b, c, *spec.shape[1:])                            # (B, C, 256, frames)

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(self.features(x)).mean(dim=2).flatten(1)         # (B, C * frames)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self._pooled(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)
