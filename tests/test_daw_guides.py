"""The DAW guides, read as a new user would: every repo path they name exists, every `beatgan`
command they show parses with the real CLI, and every script they tell you to run answers --help.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from beatgan.bridge.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "docs" / "ableton.md", ROOT / "docs" / "reaper.md", ROOT / "docs" / "pd.md",
          ROOT / "max_for_live" / "README.md"]
TOP_DIRS = ("max_for_live", "reaper", "pd", "docs", "tests", "bench", "weights", "bridge",
            "generator", "training")
PATH_RE = re.compile(r"(?<![\w/.~-])((?:%s)/[\w./-]*\w)" % "|".join(TOP_DIRS))
BEATGAN = Path(sys.executable).with_name("beatgan")
# How the guides may start a script: `python3` (stdlib-only scripts, works on a fresh Debian
# where plain `python` does not exist) or the project's venv.
PYTHONS = ("python", "python3", ".venv/bin/python")


def code_spans(text: str) -> list[str]:
    """Fenced blocks (one entry per line) and inline `code` spans."""
    spans = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
        spans.extend(block.splitlines())
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    spans.extend(re.findall(r"`([^`\n]+)`", prose))
    return spans


def repo_paths(text: str) -> set[str]:
    found = set()
    for span in code_spans(text):
        found.update(PATH_RE.findall(span))
    return found


def links(text: str) -> set[str]:
    return {t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"\w+://|#", t)}


def commands(text: str, program: str) -> list[list[str]]:
    out = []
    for span in code_spans(text):
        span = re.sub(r"^\s*\$\s+", "", span)
        if re.match(rf"{re.escape(program)}(\s|$)", span):
            out.append(shlex.split(span))
    return out


# Paths and links of every guide are checked with all docs in test_docs.py.


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_guide_beatgan_commands_parse(guide):
    for argv in commands(guide.read_text(), "beatgan"):
        args = argv[1:]
        # as the CLI does: only the named command's module adds its flags
        parser = build_parser(next((a for a in args if not a.startswith("-")), None))
        if "--help" in args or "-h" in args or "--version" in args:
            run = subprocess.run([str(BEATGAN), *args], capture_output=True, text=True)
            assert run.returncode == 0, (argv, run.stderr)
            continue
        try:
            parsed = parser.parse_args(args)
        except SystemExit as e:   # argparse reports and exits on an unknown flag or bad value
            raise AssertionError(f"{guide.name}: `{shlex.join(argv)}` does not parse") from e
        assert parsed.command, f"{guide.name}: `{shlex.join(argv)}` names no command"


def test_guides_show_the_commands_they_rely_on():
    shown = {tuple(a[:2]) for g in GUIDES for a in commands(g.read_text(), "beatgan")}
    assert ("beatgan", "serve") in shown
    for name in sorted({cmd for _, cmd in shown if not cmd.startswith("-")}):
        run = subprocess.run([str(BEATGAN), name, "--help"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert f"usage: beatgan {name}" in run.stdout


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_guide_python_scripts_answer_help(guide):
    text = guide.read_text()
    for argv in [a for py in PYTHONS for a in commands(text, py)]:
        script = ROOT / argv[1]
        assert script.is_file(), argv
        run = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                             text=True, cwd=ROOT)
        assert run.returncode == 0, (argv, run.stderr)


def test_extraction_finds_what_the_guides_hold():
    """Guard against a regex that silently matches nothing."""
    text = (ROOT / "docs" / "ableton.md").read_text()
    assert {"max_for_live/BeatGAN.amxd", "max_for_live/beatgan.js"} <= repo_paths(text)
    assert ["beatgan", "serve", "--midi-in", "IAC Driver Bus 1"] in commands(text, "beatgan")
    assert "reaper/BeatGAN.ReaperOSC" in repo_paths((ROOT / "docs" / "reaper.md").read_text())
    assert "pd/beatgan.pd" in repo_paths((ROOT / "docs" / "pd.md").read_text())
    m4l = (ROOT / "max_for_live" / "README.md").read_text()
    assert ["python3", "max_for_live/build_amxd.py", "--check"] in [
        a[:3] for a in commands(m4l, "python3")]


# --- install first (issue 23) ------------------------------------------------------------------

README = ROOT / "README.md"


def install_section() -> str:
    text = README.read_text()
    m = re.search(r"^## Install\n(.*?)^## ", text, re.S | re.M)
    assert m, "README has no Install section"
    return m.group(1)


def test_readme_installs_on_each_os():
    section = install_section()
    for os_name, words in {"macOS": ("CoreAudio", "CoreMIDI"),
                           "Windows": ("WASAPI", "WinMM", "loopMIDI", "--midi-in BeatGAN"),
                           "Linux": ("ALSA", "JACK", "libportaudio2")}.items():
        assert f"**{os_name}**" in section, os_name
        for w in words:
            assert w in section, (os_name, w)
    for tool in ("pipx install", "uv tool install", "beatgan --version", "beatgan daw-files"):
        assert tool in section, tool


@pytest.mark.parametrize("guide", GUIDES[:3], ids=lambda p: p.name)
def test_guides_start_from_the_install_section(guide):
    head = guide.read_text()[:2500]
    assert "(../README.md#install)" in head
    assert "beatgan daw-files --out" in head


def test_reaper_guide_says_what_play_does_and_how_to_turn_it_off():
    text = (ROOT / "docs" / "reaper.md").read_text()
    head = text[:2500]
    assert "play" in head and "audio output" in head
    section = text[text.index("### What play does"):]
    section = section[:section.index("\n## ")]
    for words in ("--no-audio", "PLAY t/beatgan/play", "default output device"):
        assert words in section, words
