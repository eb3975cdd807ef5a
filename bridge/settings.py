"""BridgeConfig: every setting of `beatgan serve`, from defaults < TOML file < flags.

The TOML file is optional: `serve.toml` in your user config directory (on Linux
~/.config/beatgan/serve.toml), or the file named by --config. Its keys are the field names below;
an unknown key or a value of the wrong type is an error that names the key.
"""
from __future__ import annotations

import ipaddress
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI (a dependency there)
    import tomli as tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import platformdirs

from .flush import FLUSH_MODES

APP = "beatgan"
CONFIG_FILE = "serve.toml"
OSC_PORT = 14700     # clear of AbletonOSC (11000/11001) and Reaper's OSC defaults (8000/9000)
REPLY_PORT = 14701
FOLDER_NOTE = "folder.txt"  # the daemon's loop folder, one line, for the REAPER scripts


@dataclass(frozen=True)
class BridgeConfig:
    # OSC
    host: str = "127.0.0.1"          # address the OSC server binds; 0.0.0.0 opens it to your LAN
    osc_port: int = OSC_PORT         # UDP port; 0 = any free port (printed at start-up)
    reply_port: int = REPLY_PORT     # replies go to the sender's host at this port; 0 = sender's port
    allow: tuple[str, ...] = ()      # client IPs allowed to send; empty = anyone who reaches `host`
    # model
    model: str = ""                  # model folder; "" = the shipped weights/ (or $BEATGAN_MODEL)
    device: str = "auto"             # auto (CUDA when present) | cpu | cuda | cuda:N
    dtype: str = "fp32"              # fp32 | fp16 | bf16
    threads: int = 1                 # torch CPU threads (0 = torch's default); 1 because a
                                     # DAW shares the CPU, and OpenMP's 2-thread barriers stall
                                     # badly on a busy machine (bench/generate.py: 5x slower)
    truncation: float = 0.0          # latent truncation psi, 0.05..2 (1 = none, lower = tighter,
                                     # less varied bars); 0 = the model card's default
    warmup: bool = True              # run the generator once per batch size before serving
    # requests
    bars: int = 1                    # loop length for MIDI notes, in bars
    mode: str = "beats"              # fit mode at start: beats | repitch | stretch
    headroom_db: float = 1.0         # peak level below full scale, dB
    queue_size: int = 64             # generation requests waiting; more get "queue full"
    max_batch: int = 8               # generate requests run as one batch on the device
    # sinks
    folder: bool = True              # write each loop as a WAV into `out`
    out: str = ""                    # output folder; "" = <your music folder>/BeatGAN
    rate: int = 44100                # WAV sample rate, Hz
    stems: bool = False              # also one WAV per voice next to each loop (drum machine)
    midi_file: bool = False          # also the loop's pattern as a .mid next to it (drum machine)
    flush: str = "after"             # files fsynced to disk: after | before /beatgan/done, or
                                     # off (the OS's own time); see bridge/flush.py
    spare_files: bool = True         # keep hidden files ready in `out` that loops are written
                                     # over (faster than new files); see bridge/spare_files.py
    audio: bool = True               # loop the latest bar on an audio device
    audio_device: str = ""           # device name (substring) or index; "" = default output
    # MIDI and tempo
    midi: bool = True                # MIDI input on
    midi_in: str = ""                # open this existing input port; "" = a virtual port BeatGAN
    midi_backend: str = ""           # mido backend; "" = mido's default, then rtmidi over JACK
    slot_base_note: int = 36         # lowest of the 12 seed-slot notes (36 = C1 in Ableton)
    slots_file: str = ""             # "" = <your user data folder>/slots.json
    clock_timeout_s: float = 1.0     # MIDI clock silent this long no longer sets the tempo, s
    link: bool = False               # follow Ableton Link (needs the `link` extra, aalink)

    def __post_init__(self):
        _check_port("osc_port", self.osc_port)
        _check_port("reply_port", self.reply_port)
        if self.mode not in ("beats", "repitch", "stretch"):
            raise ValueError(f"mode must be beats|repitch|stretch, got {self.mode!r}")
        if self.flush not in FLUSH_MODES:
            raise ValueError(f"flush must be {'|'.join(FLUSH_MODES)}, got {self.flush!r}")
        if self.dtype not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"dtype must be fp32|fp16|bf16, got {self.dtype!r}")
        for name, lo, hi in (("queue_size", 1, 10_000), ("max_batch", 1, 256), ("bars", 1, 8),
                             ("threads", 0, 1024), ("rate", 8000, 384_000),
                             ("slot_base_note", 0, 127 - 11)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
        if self.truncation != 0.0 and not 0.05 <= self.truncation <= 2.0:
            raise ValueError(f"truncation must be 0 (the model's default) or in 0.05..2, "
                             f"got {self.truncation}")
        for addr in self.allow:
            check_client_address(addr)
        if not 0.0 <= self.headroom_db <= 60.0:
            raise ValueError(f"headroom_db must be in 0..60 dB, got {self.headroom_db}")
        if not 0.05 <= self.clock_timeout_s <= 60.0:
            raise ValueError(f"clock_timeout_s must be in 0.05..60 s, got {self.clock_timeout_s}")

    # Resolved paths (platform folders are looked up here, not at import).
    def out_path(self) -> Path:
        if self.out:
            return Path(self.out).expanduser()
        return Path(platformdirs.user_music_dir()) / "BeatGAN"

    def slots_path(self) -> Path:
        if self.slots_file:
            return Path(self.slots_file).expanduser()
        return Path(platformdirs.user_data_dir(APP)) / "slots.json"


def check_client_address(addr: str) -> None:
    """An allow-list entry is compared with the sender's IP address, so it must be one: a host
    name or a typo would silently drop every client."""
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError(f"allow: {addr!r} is not an IP address; give the client's address, "
                         "e.g. 127.0.0.1 or 192.168.1.20") from None


def _check_port(name: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} must be in 0..65535, got {port}")


def folder_note_path() -> Path:
    """Where the daemon notes its loop folder for the REAPER scripts (they cannot ask it over
    OSC): folder.txt in the user data folder, which the scripts work out the same way:
    Linux $XDG_DATA_HOME/beatgan (~/.local/share/beatgan), macOS ~/Library/Application
    Support/beatgan, Windows %LOCALAPPDATA%\\beatgan\\beatgan."""
    return Path(platformdirs.user_data_dir(APP)) / FOLDER_NOTE


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / CONFIG_FILE


def _coerce(name: str, value, default):
    """Check one TOML value against the field's default type (TOML has ints, floats, bools,
    strings and arrays; an int is fine where a float is expected)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ValueError(f"{name} must be {_kind(default)}, got {type(value).__name__} {value!r}")
    return value


def _kind(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, tuple):
        return "a list of strings"
    return {int: "an integer", float: "a number", str: "a string"}[type(default)]


def from_mapping(data: dict, source: str, base: BridgeConfig | None = None) -> BridgeConfig:
    base = base or BridgeConfig()
    known = {f.name: getattr(base, f.name) for f in fields(BridgeConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{source}: unknown key {unknown[0]!r}; valid keys: {', '.join(known)}")
    try:
        values = {k: _coerce(k, v, known[k]) for k, v in data.items()}
        return replace(base, **values)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def load_file(path: Path, base: BridgeConfig | None = None) -> BridgeConfig:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    return from_mapping(data, str(path), base)


def resolve(config_file: str | None, overrides: dict) -> tuple[BridgeConfig, Path | None]:
    """Defaults, then the TOML file (the named one must exist; the default one may not), then
    the flags that were given (`overrides`, None values left out). Returns the config and the
    file that was read, if any."""
    cfg = BridgeConfig()
    path: Path | None
    if config_file:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: config file not found")
    else:
        path = default_config_path()
        if not path.is_file():
            path = None
    if path is not None:
        cfg = load_file(path, cfg)
    given = {k: v for k, v in overrides.items() if v is not None}
    return from_mapping(given, "command line", cfg), path

