"""The wheel a producer installs (issue 23): built from this checkout, installed into a fresh
virtual environment outside the repository, and run from there: `beatgan --version`,
`beatgan generate` with the shipped weights inside the package, `beatgan daw-files`, and
`beatgan serve` answering a ping over real UDP.

The fresh environment has no pip and no site packages of its own. Its third-party
dependencies (torch alone is ~0.9 GB) come from the project's environment through a .pth line
naming that site-packages folder: a .pth inside a folder added that way is not processed, so
the project's editable install (its finder hook lives in such a .pth) stays inert, and every
`beatgan` module must come from the installed wheel. The tests check that they do.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import tomllib
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serve_support import READY, OscClient, free_udp_port

from beatgan.bridge.daw_files import daw_files

REPO = Path(__file__).resolve().parent.parent


def _sources(dest: Path) -> Path:
    """Copy what the build reads (pyproject.toml, README and the package folders it names) to
    `dest`: the build then writes its build/ and egg-info there, never into the checkout."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    folders = sorted(set(project["tool"]["setuptools"]["package-dir"].values()))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "test", "tests", "*.wav", "*.png")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for folder in folders:
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    return dest


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "BEATGAN_MODEL")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_MUSIC_DIR=str(home / "Music"),
               PYTHONUNBUFFERED="1", JACK_NO_START_SERVER="1",
               JACK_DEFAULT_SERVER=f"beatgan-none-{uuid.uuid4().hex[:6]}")
    return env


class Installed:
    def __init__(self, root: Path):
        self.root = root
        self.venv = root / "venv"
        self.home = root / "home"
        self.home.mkdir()
        self.env = _clean_env(self.home)
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = self.venv / bindir / "python"
        self.beatgan = self.venv / bindir / "beatgan"

    def run(self, *args, timeout=180) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.beatgan), *map(str, args)], cwd=self.home, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    (root / "src").mkdir()
    src = _sources(root / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "-w", str(root / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = (root / "dist").glob("beatgan_bridge-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    inst = Installed(tmp_path_factory.mktemp("installed"))
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(inst.venv)], check=True, timeout=120)
    purelib = subprocess.run([str(inst.python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "beatgan_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(inst.python), "install",
                           "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert inst.beatgan.exists(), "the wheel installed no beatgan command"
    return inst


def test_wheel_carries_the_model_the_daw_files_and_no_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    weights = [p for p in (REPO / "weights").iterdir()
               if p.suffix in (".safetensors", ".json") and p.is_file()]
    assert any(p.suffix == ".safetensors" for p in weights)
    for p in weights:
        assert f"beatgan/weights/{p.name}" in names, p.name
    for folder, files in daw_files().items():
        for p in files:
            assert f"beatgan/daw/{folder}/{p.name}" in names, p
    for p in (REPO / "training" / "judge").glob("*") if (REPO / "training" / "judge").is_dir() else ():
        if p.is_file() and p.suffix in (".safetensors", ".json"):
            assert f"beatgan/training/judge/{p.name}" in names, p
    assert not [n for n in names if n.startswith("tests/") or "/test/" in n]
    assert "beatgan/bridge/cli.py" in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"beatgan = beatgan.bridge.cli:main" in entry


def test_the_installed_package_is_imported_not_the_checkout(installed):
    code = ("import sys, beatgan.bridge, beatgan.generator, beatgan.generator.engine as e;"
            "print(beatgan.bridge.__file__); print(beatgan.generator.__file__);"
            "print(e.DEFAULT_MODEL_DIR); print('\\n'.join(sys.path))")
    out = subprocess.run([str(installed.python), "-c", code], cwd=installed.home,
                         env=installed.env, capture_output=True, text=True, check=True).stdout
    bridge, generator, weights, *path = out.splitlines()
    venv = installed.venv.resolve()
    for p in (bridge, generator, weights):
        assert Path(p).resolve().is_relative_to(venv), p
    assert not [p for p in path if p and Path(p).resolve() == REPO], path
    assert (Path(weights) / "model_card.json").is_file()


def test_version(installed):
    proc = installed.run("--version")
    assert proc.returncode == 0, proc.stderr
    m = re.match(r"beatgan-bridge (\S+) \(Python 3\.\d+\.\d+, (.+)\)$", proc.stdout.strip())
    assert m, proc.stdout
    assert Path(m.group(2)).resolve().is_relative_to(installed.venv.resolve())


def test_generate_with_the_packaged_default_weights(installed, tmp_path):
    proc = installed.run("generate", "-n", 1, "--seed", 42, "--bpm", 128, "--out", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr
    (path,) = proc.stdout.split()
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, 82688)
    # The same loop as the checkout's weights make: the package carries the shipped model.
    # (A process of its own, like the installed one: torch's thread count changes the last
    # bits of a float sum; other weights would change the whole waveform.)
    from serve_support import ENTRY
    ref = subprocess.run([sys.executable, "-c", ENTRY, "generate", "-n", "1", "--seed", "42",
                          "--bpm", "128", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=180)
    assert ref.returncode == 0, ref.stderr
    a, _ = sf.read(path)
    b, _ = sf.read(ref.stdout.split()[0])
    assert np.abs(a).max() > 0.01
    assert np.allclose(a, b, atol=1e-4), np.abs(a - b).max()


def test_daw_files_are_copied_out_of_the_package(installed, tmp_path):
    proc = installed.run("daw-files", "--out", tmp_path / "daw")
    assert proc.returncode == 0, proc.stderr
    for folder, files in daw_files().items():
        for p in files:
            copied = tmp_path / "daw" / folder / p.name
            assert copied.read_bytes() == p.read_bytes(), copied
            assert str(copied) in proc.stdout


def test_serve_answers_ping(installed):
    reply_port = free_udp_port()
    cmd = [str(installed.beatgan), "serve", "--no-midi", "--no-audio", "--device", "cpu",
           "--osc-port", "0", "--reply-port", str(reply_port), "--out",
           str(installed.home / "loops")]
    log = open(installed.root / "serve.log", "wb")
    proc = subprocess.Popen(cmd, cwd=installed.home, env=installed.env, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("  stop"):
                break
        ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(180)
        assert READY in lines, (lines, (installed.root / "serve.log").read_text())
        summary = "\n".join(lines)
        port = int(re.search(r"listening on [^ ]+:(\d+)", summary).group(1))
        assert str(installed.venv / "lib") in summary or "site-packages" in summary, summary
        with OscClient(port, reply_port) as osc:
            assert osc.ping(token=23, timeout=20)
            address, args = osc.ask("/beatgan/generate", 42, 128.0, timeout=60)
            assert address == "/beatgan/done", args
            assert Path(args[0]).is_file()
    finally:
        proc.terminate()
        code = proc.wait(60)
        log.close()
    assert code == 0, (installed.root / "serve.log").read_text()
