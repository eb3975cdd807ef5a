"""Every doc, read as a new user would: repo paths and links exist, and every `beatgan` command in
a shell block parses with the real CLI. (test_daw_guides.py does the same, and more, for the DAW
guides; this covers the reference docs, the README and weights/README.md too.)"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from beatgan.bridge.cli import build_parser
from test_daw_guides import links, repo_paths

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "weights" / "README.md",
                                                ROOT / "max_for_live" / "README.md"]
SHELL_FENCES = ("sh", "bash", "console")   # unlabelled fences hold program output


def shell_lines(text: str) -> list[str]:
    """Lines of the ```sh fenced blocks; other fences (output, Python, TOML) are left out."""
    lines, lang = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            lang = line[3:].strip() if lang is None else None
            continue
        if lang in SHELL_FENCES:
            lines.append(line)
    return lines


def beatgan_commands(text: str) -> list[list[str]]:
    out = []
    joined = "\n".join(shell_lines(text)).replace("\\\n", " ")
    for line in joined.splitlines():
        for part in re.split(r"&&|;|\|", line):
            try:
                argv = shlex.split(part, comments=True)
            except ValueError:      # an output line with an apostrophe, not a command
                continue
            if argv and Path(argv[0]).name == "beatgan":
                out.append(argv)
            elif argv[:3] and argv[0].endswith("torchrun") and "beatgan.bridge.cli" in argv:
                out.append(["beatgan", *argv[argv.index("beatgan.bridge.cli") + 1:]])
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_paths_and_links_exist(doc):
    text = doc.read_text()
    missing = sorted(p for p in repo_paths(text) if not (ROOT / p).exists())
    assert missing == [], f"{doc.name} names files that are not in the repo"
    broken = sorted(t for t in links(text) if not (doc.parent / t.split("#")[0]).exists())
    assert broken == [], f"{doc.name} links to missing files"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_beatgan_commands_parse(doc):
    for argv in beatgan_commands(doc.read_text()):
        args = argv[1:]
        if "--help" in args or "-h" in args or "--version" in args:
            continue
        parser = build_parser(next((a for a in args if not a.startswith("-")), None))
        try:
            parsed = parser.parse_args(args)
        except SystemExit as e:
            raise AssertionError(f"{doc.name}: `{shlex.join(argv)}` does not parse") from e
        assert parsed.command, f"{doc.name}: `{shlex.join(argv)}` names no command"


def test_extraction_finds_the_commands_the_docs_hold():
    """Guard against a parser that silently finds nothing."""
    found = {tuple(a[:2]) for d in DOCS for a in beatgan_commands(d.read_text())}
    for cmd in ("generate", "serve", "render-kit", "prepare", "train", "export", "evaluate"):
        assert ("beatgan", cmd) in found, cmd
    torchrun = beatgan_commands((ROOT / "docs" / "training.md").read_text())
    assert any("--recipe" in a and a[1] == "train" for a in torchrun)
