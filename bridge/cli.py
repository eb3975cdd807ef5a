"""BeatGAN Bridge: neural drum loops next to your DAW.

The `beatgan` console entry: a table of subcommands, each a module with `add_arguments` + `run`.

Subcommand modules are imported lazily so `beatgan --help` and `beatgan generate` do not pay for
the daemon's or the trainer's imports.
"""
from __future__ import annotations

import argparse
import difflib
import enum
import importlib
import logging
import re
import sys


class Exit(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("beatgan.bridge.generate_cmd", "generate loop WAVs at a tempo"),
    "daw-files": ("beatgan.bridge.daw_files_cmd", "copy the Max for Live device, REAPER scripts and Pd patch into a folder"),
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


DIST = "beatgan-bridge"  # the distribution name (pip install beatgan-bridge); imports are `beatgan`


def version() -> str:
    """`beatgan --version`: the installed distribution, and where it is imported from (so you
    can tell a pipx install from a checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version
    from pathlib import Path
    try:
        v = dist_version(DIST)
    except PackageNotFoundError:  # a checkout on sys.path that was never pip-installed
        v = "(not installed)"
    where = Path(__file__).resolve().parent.parent
    return f"{DIST} {v} (Python {sys.version.split()[0]}, {where})"


class Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped command or choice (Python 3.14's
    suggest_on_error, done with difflib so it works on 3.10+)."""

    def error(self, message: str):
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2))
            message += _did_you_mean(m.group(1), choices)
        super().error(message)


def _did_you_mean(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


class _Version(argparse.Action):
    """--version, printed as one line (argparse's own action re-wraps it to the terminal) and
    looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version())
        parser.exit()


def _global_flags(parser: argparse.ArgumentParser, after_command: bool) -> None:
    # The same flags before and after the command name. After it, the default is SUPPRESS so a
    # subcommand's parser does not overwrite a --debug given before the name with False.
    default = argparse.SUPPRESS if after_command else False
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show tracebacks and debug logs")
    parser.add_argument("--version", action=_Version, help="show the installed version and exit")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for `command` (only its module is imported); the others are listed."""
    parser = Parser(prog="beatgan", description=__doc__.splitlines()[0])
    _global_flags(parser, after_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(p)
            _global_flags(p, after_command=True)
    return parser


def _unknown_flags(parser: argparse.ArgumentParser, command: str | None, extras: list[str]):
    """Exit with the command's own usage, naming the unknown arguments and the closest flag."""
    target = parser
    if command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        target = sub.choices[command]
    flags = [o for a in target._actions for o in a.option_strings]
    hint = ""
    for word in extras:
        if word.startswith("-"):
            hint = _did_you_mean(word.split("=", 1)[0], flags)
            if hint:
                break
    target.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unknown_flags(parser, args.command, extras)
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
