"""When the loop files reach the disk (serve's `flush`): the Flusher fsyncs real files after the
reply and says when it is done, a file a DAW took away is no error, a failed fsync is logged and
counted; the setting is checked in the TOML file and on the command line; the daemon with
`--flush after` (the default) and `--flush before` writes whole files, and with `after` logs that
every file of a loop reached the disk (BEATGAN_TRACE_STAGES)."""
from __future__ import annotations

import logging
import os
import re
import threading

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge.cli import main as cli_main
from beatgan.bridge.flush import Flusher, fsync_file
from beatgan.bridge.settings import BridgeConfig, resolve

from dm_support import trained_drum_machine
from serve_support import DaemonProcess


@pytest.fixture(scope="module")
def dm_model(tmp_path_factory):
    return trained_drum_machine(tmp_path_factory)


def files(tmp_path, n=11):
    out = []
    for k in range(n):
        p = tmp_path / f"f{k}.wav"
        p.write_bytes(os.urandom(4096))
        out.append(p)
    return out


def test_every_file_is_flushed_and_the_callback_comes_once(tmp_path):
    f = Flusher()
    calls, done = [], threading.Event()
    f.flush(files(tmp_path), then=lambda failed: (calls.append(failed), done.set()))
    assert done.wait(10) and f.wait(10)
    assert calls == [0] and f.pending() == 0 and f.failed == 0


def test_a_file_moved_away_before_its_flush_is_no_error(tmp_path, caplog):
    f = Flusher()
    calls = []
    f.flush([tmp_path / "taken-by-the-daw.wav"], then=calls.append)
    assert f.wait(10)
    assert calls == [0] and f.failed == 0 and "could not flush" not in caplog.text


def test_a_failed_fsync_is_logged_and_counted(tmp_path, caplog):
    # A folder cannot be opened for writing: a real OSError (EISDIR) from the real call.
    with pytest.raises(OSError):
        fsync_file(tmp_path)
    f = Flusher()
    calls = []
    with caplog.at_level(logging.ERROR, logger="beatgan.bridge"):
        f.flush([tmp_path, *files(tmp_path, 2)], then=calls.append)
        assert f.wait(10)
    assert calls == [1] and f.failed == 1
    assert re.search(r"could not flush .* to disk \(.*\): the file is in place and whole",
                     caplog.text)


def test_wait_returns_false_while_a_flush_is_still_running(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    gate = threading.Event()
    pool = ThreadPoolExecutor(1)
    pool.submit(gate.wait)                   # the one thread is busy until the gate opens
    f = Flusher(pool)
    f.flush(files(tmp_path, 1))
    assert f.wait(0.2) is False and f.pending() == 1
    gate.set()
    assert f.wait(10) and f.pending() == 0
    pool.shutdown()


def test_the_setting_is_checked_in_the_file_and_on_the_command_line(tmp_path, capsys):
    assert BridgeConfig().flush == "after"
    with pytest.raises(ValueError, match="flush must be after|before|off, got 'sometimes'"):
        BridgeConfig(flush="sometimes")
    toml = tmp_path / "serve.toml"
    toml.write_text('flush = "before"\n')
    assert resolve(toml, {})[0].flush == "before"
    toml.write_text('flush = "never"\n')
    with pytest.raises(ValueError, match="flush"):
        resolve(toml, {})
    with pytest.raises(SystemExit) as e:
        cli_main(["serve", "--flush", "never"])
    assert e.value.code == 2
    assert "invalid choice: 'never'" in capsys.readouterr().err


@pytest.mark.parametrize("flush", ["after", "before"])
def test_the_daemon_writes_whole_files_and_flushes_them(dm_model, tmp_path, flush):
    d = DaemonProcess(tmp_path / "d", dm_model, "--no-midi", "--no-audio", "--stems", "--midi",
                      "--flush", flush, env={**os.environ, "BEATGAN_TRACE_STAGES": "1"}).start()
    try:
        when = "right after" if flush == "after" else "before"
        assert d.line("folder").endswith(f"flushed to disk {when} each reply)")
        with d.client() as c:
            address, args = c.ask("/beatgan/generate", 3, 128.0, 1)
            assert address == "/beatgan/done", args
            path, midi, stems = args[0], args[5], args[6:]
            x, _ = sf.read(path, always_2d=True)
            total = sum(sf.read(s, always_2d=True)[0] for s in stems)
            assert np.abs(total - x).max() < 1e-4 and open(midi, "rb").read(4) == b"MThd"
            assert c.ping()
    finally:
        assert d.stop() == 0
    log = d.log()
    flushed = re.findall(r"flushed seed=3: (\d+) files on disk ([\d.]+) ms after", log)
    if flush == "after":
        assert flushed == [(str(2 + len(stems)), flushed[0][1])], log[-2000:]
    else:
        assert flushed == [] and re.search(r"stages seed=3 .* synced", log)
    assert "could not flush" not in log
