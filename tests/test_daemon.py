"""The daemon as a process: signals, start-up errors, the config file, missing back-ends,
Ableton Link. Each case that needs a running daemon starts its own (signals end it)."""
from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time

import pytest
import soundfile as sf

from serve_support import DaemonProcess, free_udp_port


def run_cli(d: DaemonProcess, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(d.argv, env=d.env, capture_output=True, text=True, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("beatgan serve: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- start-up errors: one readable line, exit code 1 ----------------------------------------

def test_unknown_config_key(tiny_model, tmp_path):
    d = DaemonProcess(tmp_path, tiny_model, config="threads = 1\nqeue_size = 3\n")
    line = one_line_error(run_cli(d, timeout=30))
    assert "unknown key 'qeue_size'" in line and "queue_size" in line


@pytest.mark.parametrize("text, words", [
    ("osc_port = 'x'\n", "osc_port must be an integer"),
    ("audio = 1\n", "audio must be true or false"),
    ("allow = '127.0.0.1'\n", "allow must be a list of strings"),
    ("osc_port = 70000\n", "osc_port must be in 0..65535"),
    ("mode = 'loud'\n", "mode must be beats|repitch|stretch"),
    ("threads = \n", "not valid TOML"),
])
def test_bad_config_values(tiny_model, tmp_path, text, words):
    d = DaemonProcess(tmp_path, tiny_model, config=text)
    assert words in one_line_error(run_cli(d, timeout=30))


def test_default_config_file_is_read(tiny_model, tmp_path):
    """Without --config, serve.toml in the user config folder is read (here: a bad one)."""
    d = DaemonProcess(tmp_path, tiny_model)
    i = d.argv.index("--config")
    del d.argv[i:i + 2]
    default = tmp_path / "config" / "beatgan" / "serve.toml"
    default.parent.mkdir(parents=True)
    default.write_text("nonsense = true\n")
    line = one_line_error(run_cli(d, timeout=30))
    assert str(default) in line and "unknown key 'nonsense'" in line


def test_missing_config_file(tiny_model, tmp_path):
    d = DaemonProcess(tmp_path, tiny_model)
    d.argv[d.argv.index("--config") + 1] = str(tmp_path / "nope.toml")
    assert "config file not found" in one_line_error(run_cli(d, timeout=30))


def test_bad_model_folder(tmp_path):
    d = DaemonProcess(tmp_path, tmp_path / "no-model-here", "--no-midi", "--no-audio")
    line = one_line_error(run_cli(d))
    assert "no-model-here" in line


def test_port_in_use(tiny_model, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        d = DaemonProcess(tmp_path, tiny_model, "--no-midi", "--no-audio")
        d.argv[d.argv.index("--osc-port") + 1] = str(taken.getsockname()[1])
        line = one_line_error(run_cli(d, timeout=30))
    assert "cannot listen for OSC" in line and "--osc-port" in line


# --- a running daemon: missing back-ends, config precedence, SIGTERM --------------------------

def test_sigterm_finishes_in_flight_writes_and_answers_everything(tiny_model, tmp_path):
    """No usable audio device (none here; a device name that matches none on a machine with a
    sound card) and no MIDI backend (no ALSA sequencer, no JACK server): the summary says so
    and the folder keeps working. Then SIGTERM during a burst: the batch in flight is written
    whole, every request gets done or error, and nothing partial is left."""
    d = DaemonProcess(tmp_path, tiny_model, "--audio-device", "beatgan-test-no-such-device",
                      # JACK is named explicitly (no server runs): MIDI is off on every machine
                      config="threads = 1\nreply_port = 9\nmax_batch = 4\n"
                             "midi_backend = 'mido.backends.rtmidi/UNIX_JACK'\n")
    d.start()
    try:
        assert d.line("audio").startswith("off:") and "still go to the folder" in d.line("audio")
        assert d.line("midi").startswith("off:") and "OSC still works" in d.line("midi")
        assert str(tmp_path / "serve.toml") in d.line("config")
        with d.client() as osc:                 # replies arrive: the flag beat reply_port = 9
            assert osc.ping(1)
            n = 40
            for i in range(n):                  # 8 bars at 40 bpm: each write takes a while
                osc.send("/beatgan/generate", i, 40.0, 8)
            first = osc.recv(timeout=30)
            assert first[0] == "/beatgan/done"
            d.proc.send_signal(signal.SIGTERM)
            replies = [first]
            while len(replies) < n:
                try:
                    replies.append(osc.recv(timeout=30))
                except (TimeoutError, socket.timeout):
                    break
        assert d.stop(timeout=60) == 0
    finally:
        d.kill()
    assert len(replies) == n, (len(replies), d.log()[-2000:])
    done = [r for r in replies if r[0] == "/beatgan/done"]
    errors = [r for r in replies if r[0] == "/beatgan/error"]
    assert len(done) + len(errors) == n and errors, replies
    assert all("shutting down" in r[1][1] for r in errors), errors
    for r in done:
        assert sf.info(r[1][0]).frames == round(8 * 4 * 60 * 44100 / 40.0)
    assert sorted(str(p) for p in d.wavs()) == sorted(r[1][0] for r in done)
    assert d.leftovers() == []
    assert "SIGTERM: stopping" in d.log()


def test_sigint_exits_130_and_config_values_apply(tiny_model, tmp_path):
    d = DaemonProcess(tmp_path, tiny_model, "--no-midi", "--no-audio", "--no-folder",
                      config="threads = 1\nqueue_size = 3\nmode = 'repitch'\n")
    d.start()
    try:
        assert d.line("folder").startswith("off")
        with d.client() as osc:
            status = osc.ask("/beatgan/status")[1]
            assert status[5] == 3 and status[9] == "repitch"
            address, args = osc.ask("/beatgan/generate", 1, 120.0)
            assert address == "/beatgan/done" and args[0] == ""   # audio-only: no file
        assert d.stop(signal.SIGINT) == 130
    finally:
        d.kill()
    assert not d.out.exists() or d.wavs() == []
    assert "SIGINT: stopping" in d.log()


def test_ableton_link_tempo(tiny_model, tmp_path):
    """A Link peer in this process at 97 bpm: the daemon (--link) follows it while no OSC
    tempo or MIDI clock outranks it."""
    # Not a skip: the `test` extra installs aalink, and a missing Link must not pass silently.
    import aalink
    started, stop = threading.Event(), threading.Event()

    def peer():
        async def main():
            link = aalink.Link(97.0)
            link.enabled = True
            started.set()
            # Link merges two sessions by its own rule, not by who came first; a tempo set once
            # the peers see each other is what every peer follows (as when a drummer changes it).
            while not stop.is_set() and link.num_peers == 0:
                await asyncio.sleep(0.05)
            link.tempo = 97.0
            while not stop.is_set():
                await asyncio.sleep(0.05)
            link.enabled = False
        asyncio.run(main())
    t = threading.Thread(target=peer)
    t.start()
    started.wait(10)
    d = DaemonProcess(tmp_path, tiny_model, "--no-midi", "--no-audio", "--link")
    try:
        d.start()
        assert "Link" in d.line("link")
        with d.client() as osc:
            deadline = time.monotonic() + 15
            status = None
            while time.monotonic() < deadline:
                status = osc.ask("/beatgan/status")[1]
                if status[2:4] == [97.0, "link"]:
                    break
                time.sleep(0.2)
            assert status[2:4] == [97.0, "link"], status
            assert osc.ask("/beatgan/tempo", 120.0)[1] == [120.0, "osc"]
            assert osc.ask("/beatgan/tempo", 0)[1] == [97.0, "link"]
        assert d.stop() == 0
    finally:
        d.kill()
        stop.set()
        t.join(10)


def test_free_port_helper_gives_distinct_ports():
    assert free_udp_port() > 0
