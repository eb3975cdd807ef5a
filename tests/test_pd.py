"""pd/beatgan.pd: vanilla objects only, loads cleanly, and makes a loop with the real daemon.

Pd runs headless (`pd -nogui -nosound -nomidi`, puredata-core). The round trip uses Pd's real
[oscformat] -> [netsend -u -b] and [netreceive -u -b] -> [oscparse]; Pd's -batch mode is not
used there because it never polls network sockets.
"""
from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATCH = ROOT / "pd" / "beatgan.pd"
PD = shutil.which("pd")

# Pd 0.51+ vanilla objects (no externals: the patch must open in a plain Pd install)
PD_VANILLA = {
    "bng", "tgl", "nbx", "hsl", "vsl", "hradio", "vradio", "cnv", "vu",
    "loadbang", "t", "trigger", "f", "float", "i", "int", "s", "send", "r", "receive",
    "sel", "select", "route", "pack", "unpack", "list", "print", "spigot", "moses", "change",
    "netsend", "netreceive", "oscformat", "oscparse", "fudiformat", "fudiparse",
    "delay", "del", "metro", "timer", "declare", "makefilename", "symbol", "value", "v",
}

def pd() -> str:
    # Not a skip: CI must install puredata-core, and a missing Pd must not pass silently.
    assert PD, "Pd is not installed: apt-get install puredata-core"
    return PD


def records() -> list[str]:
    """The patch's records (';'-terminated, possibly wrapped over lines)."""
    text = PATCH.read_text()
    return [r.strip() for r in re.split(r"(?<!\\);\s*\n", text) if r.strip()]


def test_patch_uses_only_vanilla_objects_and_valid_connections():
    boxes, connects = [], []
    for rec in records():
        kind = rec.split()[:2]
        if kind[0] == "#X" and kind[1] in ("obj", "msg", "floatatom", "symbolatom", "text",
                                           "listbox"):
            boxes.append(rec.split())
        elif kind == ["#X", "connect"]:
            connects.append([int(x) for x in rec.split()[2:6]])
    names = {b[4] for b in boxes if b[1] == "obj"}
    assert names <= PD_VANILLA, names - PD_VANILLA
    assert {"oscformat", "netsend", "netreceive", "oscparse"} <= names
    for src, _, dst, _ in connects:
        assert 0 <= src < len(boxes) and 0 <= dst < len(boxes)
        assert boxes[src][1] != "text" and boxes[dst][1] != "text", "comments have no inlets"
    sends = [b for b in boxes if b[1] == "obj" and b[4] == "netsend"]
    assert [b[5:] for b in sends] == [["-u", "-b"]]


def run_pd(args, timeout=20):
    return subprocess.run([pd(), "-nogui", "-nosound", "-nomidi", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_patch_opens_without_errors():
    run = run_pd(["-batch", "-open", str(PATCH), "-send", "pd quit"])
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert not re.search(r"couldn't create|error|connection failed|bad", output, re.I), output


def test_pd_round_trip_with_the_real_daemon(tiny_model, tmp_path):
    from _daw_daemon import free_udp_port, running_daemon
    import soundfile

    out_dir = tmp_path / "BeatGAN"
    pd_port = free_udp_port()
    with running_daemon(tiny_model, out_dir, tmp_path, reply_port=pd_port) as daemon:
        # [beatgan <daemon port> <reply port>]: the shipped patch, used as an abstraction
        harness = tmp_path / "harness.pd"
        harness.write_text(f"#N canvas 0 50 450 300 12;\n"
                           f"#X obj 10 10 beatgan {daemon.osc_port} {pd_port};\n")
        proc = subprocess.Popen(
            [pd(), "-nogui", "-nosound", "-nomidi", "-path", str(PATCH.parent), "-open",
             str(harness), "-send",
             "beatgan ping; beatgan truncation 0.5; beatgan mode repitch; beatgan generate 42 120 1; "
             "beatgan tempo 400"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: "queue.Queue[str]" = queue.Queue()
        seen: list[str] = []
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
        try:
            deadline = time.monotonic() + 60
            done = None
            while done is None or not any(l.startswith("beatgan-error:") for l in seen):
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n")
                except queue.Empty:
                    raise AssertionError("Pd printed no reply in 60 s:\n" + "\n".join(seen)
                                         + "\ndaemon:\n" + "\n".join(daemon.log)) from None
                seen.append(line)
                if line.startswith("beatgan-done: "):
                    done = line
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    assert "beatgan-pong: bang" in seen
    assert "beatgan-other: truncation 0.5" in seen, seen  # the daemon's answer to Pd's float
    # the out-of-range tempo came back as an error Pd shows
    assert any(l.startswith("beatgan-error: /beatgan/tempo") for l in seen), seen
    path, seed, bpm, bars, latency = done[len("beatgan-done: "):].rsplit(" ", 4)
    wav = Path(path)
    assert wav.parent == out_dir and wav.suffix == ".wav"
    assert (float(seed), float(bpm), float(bars)) == (42, 120, 1)
    assert float(latency) > 0
    info = soundfile.info(str(wav))
    assert abs(info.duration - 4 * 60 / 120) < 0.01, "one bar at 120 bpm"
    assert not any("error" in l.lower() and not l.startswith("beatgan-error:") for l in seen), seen


def test_pd_shows_the_parts_of_a_drum_machine_loop(tmp_path_factory, tmp_path):
    from _daw_daemon import free_udp_port, running_daemon
    from dm_support import trained_drum_machine

    model = trained_drum_machine(tmp_path_factory)
    pd_port = free_udp_port()
    with running_daemon(model, tmp_path / "BeatGAN", tmp_path, reply_port=pd_port) as daemon:
        harness = tmp_path / "harness.pd"
        harness.write_text(f"#N canvas 0 50 450 300 12;\n"
                           f"#X obj 10 10 beatgan {daemon.osc_port} {pd_port};\n")
        proc = subprocess.Popen(
            [pd(), "-nogui", "-nosound", "-nomidi", "-path", str(PATCH.parent), "-open",
             str(harness), "-send", "beatgan stems 1; beatgan midi 1; beatgan generate 3 120 1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: "queue.Queue[str]" = queue.Queue()
        seen: list[str] = []
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
        try:
            deadline = time.monotonic() + 60
            while not any(l.startswith("beatgan-parts:") for l in seen):
                try:
                    seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip())
                except queue.Empty:
                    raise AssertionError("no parts in 60 s:\n" + "\n".join(seen)) from None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    assert "beatgan-other: stems 1" in seen and "beatgan-other: midi 1" in seen, seen
    parts = next(l for l in seen if l.startswith("beatgan-parts:")).split()[1:]
    parts = parts[1:] if parts[0] == "list" else parts     # Pd prints a list starting with a symbol
    assert parts[0].endswith(".mid") and Path(parts[0]).exists()
    assert len(parts) > 2 and all("_stem" in p and Path(p).exists() for p in parts[1:])
