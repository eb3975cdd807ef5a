"""`beatgan serve`: the bridge daemon (OSC and MIDI in; WAVs and audio out). See docs/serve.md."""
from __future__ import annotations

import argparse

# Flag -> BridgeConfig field. These flags are stable: scripts use them.
_VALUE_FLAGS = {
    "host": "host", "osc_port": "osc_port", "reply_port": "reply_port", "out": "out",
    "model": "model", "device": "device", "midi_in": "midi_in", "audio_device": "audio_device",
    "truncation": "truncation", "flush": "flush",
}
_OFF_FLAGS = {"no_midi": "midi", "no_audio": "audio", "no_folder": "folder",
              "no_spare_files": "spare_files"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Every default is None so a flag that was not given leaves the config file's value alone.
    p.add_argument("--host", help="address to listen on for OSC (default 127.0.0.1; 0.0.0.0 "
                                  "opens it to your LAN)")
    p.add_argument("--osc-port", type=int, metavar="PORT",
                   help="UDP port to listen on for OSC (default 14700; 0 = any free port)")
    p.add_argument("--reply-port", type=int, metavar="PORT",
                   help="UDP port on the sender's host that replies go to (default 14701; "
                        "0 = the port the request came from)")
    p.add_argument("--allow", action="append", metavar="ADDR",
                   help="only accept OSC from this client IP (repeat for more; default: anyone "
                        "who can reach --host)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the loop WAVs (default: <your music folder>/BeatGAN)")
    p.add_argument("--no-folder", action="store_true", default=None,
                   help="do not write WAVs (audio output only)")
    p.add_argument("--stems", action="store_true", default=None,
                   help="also write one WAV per voice next to each loop; they sum to the loop "
                        "(needs a drum-machine model)")
    p.add_argument("--midi", action="store_true", default=None,
                   help="also write each loop's pattern as a .mid next to it, General MIDI "
                        "drums on channel 10 (needs a drum-machine model; MIDI input is "
                        "--midi-in / --no-midi)")
    p.add_argument("--flush", choices=("after", "before", "off"),
                   help="when the files are flushed to disk (fsync): right after /beatgan/done "
                        "(default: replies ~5 ms sooner with stems; a power cut in those ms "
                        "can lose the newest loop), before it (done = on disk), or off (the "
                        "OS's own time)")
    p.add_argument("--no-spare-files", action="store_true", default=None,
                   help="write every file anew instead of over hidden spare files kept ready "
                        "in the folder (default: spares on; ~6 MB of disk with stems)")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped weights/)")
    p.add_argument("--device", help="auto (CUDA when present), cpu, cuda or cuda:N "
                                    "(default auto)")
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="latent truncation, 0.05-2: 1 = none, lower = tighter, more typical and "
                        "less varied bars, higher = wilder (default: the model card's)")
    p.add_argument("--midi-in", metavar="NAME",
                   help="open this existing MIDI input port (default: create a virtual port "
                        "named BeatGAN)")
    p.add_argument("--no-midi", action="store_true", default=None, help="no MIDI input")
    p.add_argument("--audio-device", metavar="NAME|INDEX",
                   help="audio output device, by name (a unique part of it) or index "
                        "(default: the default output)")
    p.add_argument("--no-audio", action="store_true", default=None, help="no audio output")
    p.add_argument("--link", action="store_true", default=None,
                   help="follow Ableton Link's tempo (needs `pip install 'beatgan-bridge[link]'`)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML settings file (default: serve.toml in your user config folder, "
                        "if it exists)")


def overrides(args: argparse.Namespace) -> dict:
    given = {field: getattr(args, flag) for flag, field in _VALUE_FLAGS.items()}
    given.update({field: False for flag, field in _OFF_FLAGS.items() if getattr(args, flag)})
    if args.allow:
        given["allow"] = list(args.allow)
    if args.link:
        given["link"] = True
    if args.stems:
        given["stems"] = True
    if args.midi:
        given["midi_file"] = True
    return given


def run(args: argparse.Namespace) -> int:
    from .daemon import run as run_daemon
    from .settings import resolve
    cfg, path = resolve(args.config, overrides(args))
    return run_daemon(cfg, path)
