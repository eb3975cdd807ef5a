"""The real daemon process over real UDP: python-osc bytes from a plain socket, and liblo's
oscsend/oscdump (a client we did not write). WAVs are read back with soundfile (libsndfile),
not with the writer's own code."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serve_support import DaemonProcess, OscClient

BEATS = 4  # the tiny model's beats per bar
READY_LINE = "beatgan serve: ready"


@pytest.fixture(scope="module")
def daemon(tiny_model, tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("osc_daemon"), tiny_model, "--no-midi",
                      "--no-audio", "--allow", "127.0.0.1").start()
    yield d
    code = d.stop()
    assert code == 0, d.log()


@pytest.fixture
def osc(daemon):
    with daemon.client() as c:
        yield c
        assert daemon.alive(), daemon.log()


def expected_samples(bpm: float, bars: int, rate: int = 44100) -> int:
    return int(round(bars * BEATS * 60.0 * rate / bpm))


def check_done(reply, seed=None, bpm=None, bars=1) -> Path:
    address, args = reply
    assert address == "/beatgan/done", reply
    path, got_seed, got_bpm, got_bars, latency_ms = args
    assert isinstance(path, str) and isinstance(got_seed, int) and isinstance(got_bpm, float)
    assert isinstance(got_bars, int) and isinstance(latency_ms, float) and latency_ms > 0
    if seed is not None:
        assert got_seed == seed
    if bpm is not None:
        assert got_bpm == pytest.approx(bpm)
    assert got_bars == bars
    p = Path(path)
    info = sf.info(str(p))
    assert info.samplerate == 44100 and info.channels == 2
    assert info.frames == expected_samples(got_bpm, bars)
    return p


def test_summary_names_model_device_ports_folder_audio(daemon):
    text = "\n".join(daemon.summary)
    assert "tiny-beatgan-bar" in daemon.line("model")
    assert daemon.line("device").startswith("cpu")
    assert "warm-up" in daemon.line("device")
    assert f"127.0.0.1:{daemon.port}" in daemon.line("osc")
    assert f"port {daemon.reply_port}" in daemon.line("osc")
    assert str(daemon.out) in daemon.line("folder")
    assert daemon.line("audio").startswith("off")
    assert daemon.line("midi").startswith("off")
    assert "125 bpm (model)" in daemon.line("tempo")
    assert text.count(READY_LINE) == 1


def test_ping_pong(osc):
    assert osc.ask("/beatgan/ping") == ("/beatgan/pong", [])
    assert osc.ask("/beatgan/ping", 1234) == ("/beatgan/pong", [1234])


def test_generate_writes_a_wav_and_answers_done(osc, daemon):
    path = check_done(osc.ask("/beatgan/generate", 42, 120.0, 2), seed=42, bpm=120.0, bars=2)
    assert path.parent == daemon.out and path.name.startswith("beatgan_120bpm_s42_2bar")
    audio, rate = sf.read(str(path), dtype="float32")
    assert rate == 44100 and np.abs(audio).max() > 0.1   # a real, normalised loop


def test_same_seed_same_loop_and_random_seeds_differ(osc):
    a = check_done(osc.ask("/beatgan/generate", 7, 100.0), seed=7, bpm=100.0)
    b = check_done(osc.ask("/beatgan/generate", 7.0, 100, 1.0), seed=7, bpm=100.0)  # Pd floats
    assert np.array_equal(sf.read(str(a))[0], sf.read(str(b))[0])
    r1 = osc.ask("/beatgan/generate")
    r2 = osc.ask("/beatgan/generate", -1)
    check_done(r1), check_done(r2)
    assert r1[1][1] != r2[1][1]


def test_truncation_changes_the_loops_that_follow_and_0_restores_the_models(osc):
    plain = check_done(osc.ask("/beatgan/generate", 9, 100.0), seed=9)
    assert osc.ask("/beatgan/truncation", 0.5) == ("/beatgan/truncation", [0.5])
    tight = check_done(osc.ask("/beatgan/generate", 9, 100.0), seed=9)
    varied = check_done(osc.ask("/beatgan/variation", 9, 0.0, 100.0), seed=9)
    assert osc.ask("/beatgan/truncation", 0.0) == ("/beatgan/truncation", [1.0])  # the card's
    again = check_done(osc.ask("/beatgan/generate", 9, 100.0), seed=9)
    a, b, c, d = (sf.read(str(p))[0] for p in (plain, tight, varied, again))
    assert not np.allclose(a, b, atol=1e-3)  # a tamer take on the same seed
    assert np.allclose(b, c, atol=1e-4)      # variation 0 of the seed, at the same truncation
    assert np.array_equal(a, d)
    assert osc.ask("/beatgan/truncation", 5.0)[0] == "/beatgan/error"


def test_variation_and_morph(osc):
    v = check_done(osc.ask("/beatgan/variation", 42, 0.25, 140.0), seed=42, bpm=140.0)
    assert "var025" in v.name
    v2 = check_done(osc.ask("/beatgan/variation", 42, 0.25, 140.0, 1, 3), seed=42)
    assert "var025-v3" in v2.name
    assert not np.array_equal(sf.read(str(v))[0], sf.read(str(v2))[0])
    m = check_done(osc.ask("/beatgan/morph", 1, 2, 0.5, 90.0, 4), seed=1, bpm=90.0, bars=4)
    assert "morph2-t050" in m.name


def test_tempo_precedence_and_status(osc):
    address, args = osc.ask("/beatgan/status")
    assert address == "/beatgan/status"
    model, device, bpm, source, depth, size, folder, audio, midi, mode = args
    assert (model, device, bpm, source, depth, size) == ("tiny-beatgan-bar", "cpu", 125.0,
                                                          "model", 0, 64)
    assert (audio, midi, mode) == ("off", "off", "beats")
    assert osc.ask("/beatgan/tempo", 133.5) == ("/beatgan/tempo", [133.5, "osc"])
    check_done(osc.ask("/beatgan/generate", 3), bpm=133.5)
    check_done(osc.ask("/beatgan/generate", 3, 150.0), bpm=150.0)   # the request's own tempo
    osc.send("/tempo/raw", 97.0)      # Reaper's feedback: no reply, but it sets the OSC tempo
    assert osc.ask("/beatgan/status")[1][2:4] == [97.0, "osc"]
    assert osc.ask("/beatgan/tempo", 0) == ("/beatgan/tempo", [125.0, "model"])


def test_mode_switch(osc):
    assert osc.ask("/beatgan/mode", "repitch") == ("/beatgan/mode", ["repitch"])
    assert osc.ask("/beatgan/status")[1][9] == "repitch"
    check_done(osc.ask("/beatgan/generate", 5, 100.0), bpm=100.0)
    assert osc.ask("/beatgan/mode", "beats") == ("/beatgan/mode", ["beats"])


def test_slot_save(osc):
    check_done(osc.ask("/beatgan/generate", 99))
    assert osc.ask("/beatgan/slot", 3) == ("/beatgan/slot", [3, 99])
    assert osc.ask("/beatgan/slot", 4, 1234) == ("/beatgan/slot", [4, 1234])


def test_play_without_audio_says_why(osc):
    address, args = osc.ask("/beatgan/play")
    assert address == "/beatgan/error" and "no audio output" in args[1]


def test_errors_name_the_address_and_field(osc):
    assert osc.ask("/beatgan/generate", 1, 500.0) == (
        "/beatgan/error", ["/beatgan/generate", "bpm must be 0 (host tempo) or in 40..300 bpm, "
                                                "got 500"])
    assert osc.ask("/beatgan/whatever")[1][0] == "/beatgan/whatever"


def test_requests_are_answered_in_order_and_batched(osc, daemon):
    for seed in range(20):
        osc.send("/beatgan/generate", seed, 128.0)
    replies = [osc.recv() for _ in range(20)]
    assert [r[1][1] for r in replies] == list(range(20))
    for r in replies:
        check_done(r, bpm=128.0)


def test_clients_outside_the_allow_list_are_dropped_and_logged(daemon):
    with OscClient(daemon.port, host="127.0.0.2") as stranger:
        try:
            stranger.sock.sendto(b"", ("127.0.0.1", daemon.port))
        except OSError:
            pytest.skip("127.0.0.2 is not routable on this machine's loopback")
        stranger.send("/beatgan/ping", 5)
        with pytest.raises((TimeoutError, socket.timeout)):
            stranger.recv(timeout=1.0)
    time.sleep(0.2)
    assert "not in the allow-list" in daemon.log()


def test_reply_port_is_the_configured_one(daemon):
    """Sent from an arbitrary port, the answer still arrives on the daemon's reply port."""
    with daemon.client() as listener, OscClient(daemon.port) as sender:
        assert sender.port != daemon.reply_port
        sender.send("/beatgan/ping", 9)
        assert listener.recv() == ("/beatgan/pong", [9])


def test_liblo_oscsend_and_oscdump(daemon, tmp_path):
    """liblo (C) encodes, sends and decodes: the daemon speaks OSC, not just python-osc."""
    for tool in ("oscsend", "oscdump"):
        assert shutil.which(tool), "apt-get install liblo-tools"
    dump = subprocess.Popen(["oscdump", "-L", str(daemon.reply_port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)  # oscdump binds its port
        for args in (["/beatgan/ping", "i", "31"],
                     ["/beatgan/truncation", "f", "0"],
                     ["/beatgan/generate", "iff", "77", "110.0", "1"],
                     ["/beatgan/generate", "s", "../etc"]):
            subprocess.run(["oscsend", "localhost", str(daemon.port), *args], check=True,
                           timeout=10)
        deadline = time.monotonic() + 20
        out = ""
        while time.monotonic() < deadline and out.count("\n") < 4:
            time.sleep(0.2)
            if dump.poll() is not None:
                break
            out += _read_available(dump)
    finally:
        dump.terminate()
        dump.wait(10)
    # oscdump prefixes each message with its OSC time tag ("eeb05e23.3f8f14db ").
    lines = [re.sub(r"^[0-9a-f]+\.[0-9a-f]+ ", "", line) for line in out.splitlines()
             if line.strip()]
    assert any(line.startswith("/beatgan/pong i 31") for line in lines), out
    assert any(line.startswith("/beatgan/truncation f 1.0") for line in lines), out
    done = [line for line in lines if line.startswith("/beatgan/done sifif ")]
    assert done and " 77 110.0" in done[0], out
    path = done[0].split('"')[1]
    assert sf.info(path).frames == expected_samples(110.0, 1)
    assert any(line.startswith("/beatgan/error ss") and "seed must be an int" in line
               for line in lines), out


def _read_available(proc) -> str:
    import os
    import select
    fd = proc.stdout.fileno()
    chunks = []
    while select.select([fd], [], [], 0)[0]:
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data.decode(errors="replace"))
    return "".join(chunks)


def test_few_threads(daemon, osc):
    """Nothing per request: main, OSC, worker, torch's intra-op pool (threads = 1 here) and the
    spare-file thread, plus the fsync pool, which makes a thread only while all of its threads
    are busy (fsyncs that overlap: a second one in some runs, which is why this once read 7)
    and never more than SYNC_THREADS. 40 more requests back to back may not add more."""
    from beatgan.bridge.flush import SYNC_THREADS

    for seed in range(40):
        osc.send("/beatgan/generate", 7000 + seed, 128.0)
        assert osc.recv(timeout=30.0)[0] == "/beatgan/done"
    assert daemon.threads() <= 6 + SYNC_THREADS, daemon.threads()
