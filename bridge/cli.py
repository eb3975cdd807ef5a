"""BeatGAN Bridge: neural drum loops next to your DAW.

The `beatgan` console entry: a table of subcommands, each a module with `add_arguments` + `run`.

Subcommand modules are imported lazily so `beatgan --help` and `beatgan generate` do not pay for
the daemon's or the trainer's imports.
"""
from __future__ import annotations

import argparse
import enum
import importlib
import logging
import sys


class Exit(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("beatgan.bridge.generate_cmd", "generate loop WAVs at a tempo"),
    "serve": ("beatgan.bridge.serve_cmd", "run the bridge daemon: OSC and MIDI in, WAVs and audio out"),
    "prepare": ("beatgan.training.prepare_cmd", "turn a folder of drum loops into a training dataset"),
    "render-kit": ("beatgan.training.render_kit", "render EDM drum loops from free drum kits (a stand-in sample pack)"),
    "train": ("beatgan.training.train_cmd", "train a generator on a prepared dataset"),
    "ship": ("beatgan.training.ship_cmd", "release a checkpoint: export, evaluate, card figures, README"),
    "export": ("beatgan.training.export_cmd", "export a training checkpoint as shipped weights"),
    "evaluate": ("beatgan.training.evaluate_cmd", "measure a model against its dataset: novelty, onsets, Fréchet distance"),
    "judge": ("beatgan.training.judge_cmd", "build, verify or show the fixed quality judge evaluate uses"),
}


class UserError(Exception):
    """An error the user can fix: printed as one line, no traceback (unless --debug)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for `command` (only its module is imported); the others are listed."""
    parser = argparse.ArgumentParser(prog="beatgan", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return Exit.USAGE
    try:
        return int(importlib.import_module(args._module).run(args) or Exit.OK)
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except (UserError, FileNotFoundError, ValueError, OSError) as e:
        if args.debug:
            raise
        print(f"beatgan {args.command}: error: {e}", file=sys.stderr)
        return Exit.ERROR


if __name__ == "__main__":  # pragma: no cover
    # Run the imported module's main, not this __main__ copy: commands raise
    # beatgan.bridge.cli.UserError, which is a different class from __main__.UserError.
    from beatgan.bridge.cli import main as _main
    sys.exit(_main())
