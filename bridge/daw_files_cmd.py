"""`beatgan daw-files --out DIR`: copy what lives in the DAW (the Max for Live device, the REAPER
scripts and OSC config, the Pd patch) out of the installed package, so a pip/pipx install needs
no repository checkout."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

NEXT_STEPS = {
    "max_for_live": "Ableton Live: drag BeatGAN.amxd onto a MIDI track (docs/ableton.md)",
    "reaper": "REAPER: BeatGAN.ReaperOSC into REAPER's OSC folder, the .lua files into "
              "Scripts/BeatGAN (docs/reaper.md)",
    "pd": "Pd: open beatgan.pd (docs/pd.md)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder to copy into (created; files of the same name are replaced)")


def run(args: argparse.Namespace) -> int:
    from beatgan.bridge.cli import UserError

    from .daw_files import daw_files

    found = daw_files()
    missing = [name for name, files in found.items() if not files]
    if missing:
        raise UserError(f"this installation has no DAW files for {', '.join(missing)}; "
                        "reinstall beatgan-bridge")
    out = args.out.expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder; pass another --out")
    for name, files in found.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for src in files:
            dest = folder / src.name
            shutil.copyfile(src, dest)
            print(dest, flush=True)
    print("\nNext:\n" + "\n".join(f"  {line}" for line in NEXT_STEPS.values()))
    return 0
