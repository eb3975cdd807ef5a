"""The command line forgives and explains (issue 23): each case runs `beatgan` as a process, the
way a producer types it, and checks what it prints, its exit code and what is on disk."""
from __future__ import annotations

import io
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from serve_support import ENTRY, DaemonProcess

from beatgan.bridge import generate_cmd
from beatgan.bridge.cli import UserError
from beatgan.bridge.loop_size import human_bytes, loop_bytes
from beatgan.bridge.requests import MAX_BARS
from beatgan.generator.latent import MAX_SEED


def beatgan(*args, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, **kw)


def one_error(proc, code=1) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


# --- version and global flags -----------------------------------------------------------------

def test_version_names_the_distribution_and_where_it_runs_from():
    proc = beatgan("--version")
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"beatgan-bridge \d+\.\d+\.\d+ \(Python 3\.\d+", proc.stdout), proc.stdout


def test_global_flags_work_after_the_command(tmp_path):
    # --debug after the command name: a bad model folder then shows its traceback.
    proc = beatgan("generate", "--model", tmp_path / "nope", "--out", tmp_path / "o", "--debug")
    assert proc.returncode != 0
    assert "unrecognized arguments" not in proc.stderr
    assert "Traceback" in proc.stderr and "nope" in proc.stderr
    assert beatgan("generate", "--version").stdout.startswith("beatgan-bridge ")


def test_unknown_flag_gets_the_commands_usage_and_a_suggestion(tmp_path):
    err = one_error(beatgan("generate", "--bmp", "128", "--out", tmp_path), code=2)
    assert "usage: beatgan generate" in err
    assert "unrecognized arguments: --bmp 128" in err and "did you mean --bpm?" in err


def test_mistyped_command_gets_a_suggestion():
    err = one_error(beatgan("generat", "-n", "1"), code=2)
    assert "did you mean generate?" in err


# --- generate: seeds, bars, large jobs, paths as they are written -----------------------------

def test_seed_run_past_the_top_is_refused_not_wrapped(tiny_model, tmp_path):
    out = tmp_path / "o"
    err = one_error(beatgan("generate", "--seed", MAX_SEED, "-n", 2, "--model", tiny_model,
                            "--out", out))
    assert f"--seed {MAX_SEED - 1} or lower" in err
    assert not out.exists() or not list(out.iterdir())
    # The last seed itself still works.
    proc = beatgan("generate", "--seed", MAX_SEED, "--model", tiny_model, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert f"_s{MAX_SEED}_" in proc.stdout


def test_random_first_seed_leaves_room_for_the_run():
    for drawn in (0, MAX_SEED - 1, MAX_SEED):
        seeds = generate_cmd.seed_range(None, 3, lambda: drawn)
        assert seeds == list(range(seeds[0], seeds[0] + 3)) and seeds[-1] <= MAX_SEED
    with pytest.raises(UserError, match="at most"):
        generate_cmd.seed_range(0, MAX_SEED + 2, None)


def test_bars_take_the_osc_range(tiny_model, tmp_path):
    proc = beatgan("generate", "--bars", 3, "--bpm", 120, "--seed", 1, "--model", tiny_model,
                   "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = sf.info(proc.stdout.split()[0])
    assert info.frames == round(3 * 4 * 60 / 120 * 44100)
    err = one_error(beatgan("generate", "--bars", MAX_BARS + 1, "--out", tmp_path), code=2)
    assert f"must be 1-{MAX_BARS}" in err


def test_size_estimate_matches_the_files(tiny_model, tmp_path):
    proc = beatgan("generate", "--bars", 2, "--bpm", 97.3, "--rate", 48000, "-n", 2,
                   "--model", tiny_model, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = loop_bytes(48000, 2, "PCM_24", 2, 4, 97.3)
    for path in proc.stdout.split():
        assert 0 <= expected - Path(path).stat().st_size < 256
    assert human_bytes(50_800_000_000) == "50.8 GB"


def test_large_job_without_a_terminal_wants_yes(tiny_model, tmp_path):
    out = tmp_path / "o"
    # 5,000 loops (~2.5 GB) asks for --yes yet fits on any disk CI has: a larger job would hit
    # the free-space check first on a nearly full disk, which is another test's business.
    err = one_error(beatgan("generate", "-n", 5000, "--model", tiny_model, "--out", out,
                            stdin=subprocess.DEVNULL))
    assert "5,000 loops" in err and "GB" in err and "--yes" in err
    assert not out.exists()


def test_large_job_on_a_terminal_asks_first(tiny_model, tmp_path):
    out = tmp_path / "o"
    main, child = pty.openpty()
    os.write(main, b"n\n")
    try:
        proc = beatgan("generate", "-n", 5000, "--model", tiny_model, "--out", out, stdin=child)
    finally:
        os.close(main)
        os.close(child)
    err = one_error(proc)
    assert "Go ahead? [y/N]" in err and "nothing written" in err
    assert not out.exists()


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_confirmation_yes_and_the_flag(tmp_path):
    big = 2000
    generate_cmd.confirm_size(big, 1000, tmp_path, yes=True)             # --yes: no question
    generate_cmd.confirm_size(big, 1000, tmp_path, yes=False, stdin=_Tty("y\n"))
    generate_cmd.confirm_size(10, 1000, tmp_path, yes=False, stdin=io.StringIO(""))  # small
    with pytest.raises(UserError, match="--yes"):
        generate_cmd.confirm_size(10, 200_000_000, tmp_path, yes=False, stdin=io.StringIO(""))
    with pytest.raises(UserError, match="free"):                       # can never fit
        generate_cmd.confirm_size(10, 10**18, tmp_path, yes=True)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_paths_appear_as_written_and_a_signal_leaves_a_summary_and_no_part_file(
        tiny_model, tmp_path, sig, code):
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "generate", "-n", "600", "--seed", "10",
                             "--model", tiny_model, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = [proc.stdout.readline().strip() for _ in range(3)]
        # Printed while the command still runs, and each file is already complete.
        assert proc.poll() is None, "the paths only came at the end"
        for path in first:
            assert sf.info(path).frames > 0
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    printed = first + rest.split()
    m = re.search(rf"stopped by {sig.name} after (\d+) of 600 loops \(seeds 10-(\d+), in ", err)
    assert m, err
    assert int(m.group(1)) == len(printed) < 600
    assert int(m.group(2)) == 10 + len(printed) - 1
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in printed)


# --- serve: start-up errors and the summary ----------------------------------------------------

def serve_error(tiny_model, tmp_path, *args) -> str:
    d = DaemonProcess(tmp_path, tiny_model, "--no-midi", "--no-audio", *args)
    proc = subprocess.run(d.argv, env=d.env, capture_output=True, text=True, timeout=60)
    err = one_error(proc)
    assert "stopped" not in err, err   # nothing before the error says the daemon ran
    lines = [line for line in err.splitlines() if line.startswith("beatgan serve: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_host_that_is_not_an_address(tiny_model, tmp_path):
    line = serve_error(tiny_model, tmp_path, "--host", "999.1.1.1")
    assert "not an IP address or a known host name" in line and "--host 127.0.0.1" in line
    assert "another beatgan serve" not in line


def test_a_host_that_is_not_this_computers(tiny_model, tmp_path):
    line = serve_error(tiny_model, tmp_path, "--host", "192.0.2.1")   # TEST-NET-1
    assert "not an address of this computer" in line
    assert "another beatgan serve" not in line


def test_allow_must_be_an_ip_address(tiny_model, tmp_path):
    line = serve_error(tiny_model, tmp_path, "--allow", "127.0.0.1", "--allow", "notanip")
    assert "'notanip' is not an IP address" in line


def test_summary_says_how_to_stop(tiny_model, tmp_path):
    d = DaemonProcess(tmp_path, tiny_model, "--no-midi", "--no-audio").start()
    try:
        assert "Ctrl-C" in d.line("stop")
    finally:
        assert d.stop() == 0, d.log()


def test_windows_says_to_use_loopmidi(monkeypatch):
    """No virtual MIDI ports on Windows: the summary line names loopMIDI and --midi-in."""
    from beatgan.bridge.midi_in import MidiInput, MidiUnavailable
    monkeypatch.setattr(sys, "platform", "win32")
    midi = MidiInput(note_map=None, clock=None, handle=None)
    with pytest.raises(MidiUnavailable) as e:
        midi.open()
    assert str(e.value).startswith("virtual MIDI ports do not exist on Windows")
    assert "loopMIDI" in str(e.value) and "--midi-in BeatGAN" in str(e.value)
    assert ";" not in str(e.value)       # one reason, not one per backend tried
