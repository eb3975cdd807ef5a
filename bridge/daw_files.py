"""Where the DAW-side files are: the `beatgan.daw.*` package data of an installed wheel, or the
repository's max_for_live/, reaper/ and pd/ folders in a checkout.

One table says which files a producer needs; pyproject.toml's package-data lists the same
patterns, and tests/test_wheel.py checks that a wheel carries every file this table finds.
"""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

# folder -> file patterns (the build script and the tests of each folder stay in the repository)
DAW_FILES: dict[str, tuple[str, ...]] = {
    "max_for_live": ("*.amxd", "*.maxpat", "*.js", "README.md"),
    "reaper": ("*.lua", "*.ReaperOSC"),
    "pd": ("*.pd",),
}

REPO = Path(__file__).resolve().parent.parent


def daw_folder(name: str) -> Path:
    """The folder holding `name`'s files (a key of DAW_FILES)."""
    try:
        spec = find_spec(f"beatgan.daw.{name}")
    except ImportError:  # an older editable install without beatgan.daw: the checkout has them
        spec = None
    for where in (spec.submodule_search_locations or []) if spec else []:
        if any(Path(where).glob(DAW_FILES[name][0])):
            return Path(where)
    return REPO / name


def daw_files() -> dict[str, list[Path]]:
    """folder name -> the files to hand out, sorted."""
    found = {}
    for name, patterns in DAW_FILES.items():
        folder = daw_folder(name)
        found[name] = sorted({p for pat in patterns for p in folder.glob(pat) if p.is_file()})
    return found
