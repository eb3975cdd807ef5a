"""Bad input against the real daemon over UDP: after each case the daemon still answers ping
and the output folder holds only whole WAVs (no temporary or partial file).

The daemon of this module runs with RLIMIT_FSIZE = 4 MiB: a loop bigger than that fails in the
middle of its write with EFBIG, the same path a full disk takes (a write error after part of the
file is on disk). Where the test may mount file systems (root with CAP_SYS_ADMIN) a real full
tmpfs and a real read-only mount are tested too.
"""
from __future__ import annotations

import math
import os
import resource
import shutil
import socket
import subprocess
import threading

import pytest
import soundfile as sf

from beatgan.bridge.spare_files import SPARE_DIR

from serve_support import DaemonProcess, osc_bytes

FSIZE_LIMIT = 4 * 1024 * 1024


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


@pytest.fixture(scope="module")
def daemon(tiny_model, tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("bad_input"), tiny_model, "--no-midi",
                      "--no-audio", preexec_fn=_limit_file_size).start()
    yield d
    assert d.stop() == 0, d.log()


@pytest.fixture
def osc(daemon):
    with daemon.client() as c:
        yield c
        c.drain(0.1)
        assert c.ping(token=4242), f"no pong after the case\n{daemon.log()[-3000:]}"
        assert daemon.alive()
        assert daemon.leftovers() == [], daemon.leftovers()
        for wav in daemon.wavs():
            sf.info(str(wav))            # every file that exists is a whole, readable WAV


def error_of(osc, *message) -> str:
    address, args = osc.ask(*message)
    assert address == "/beatgan/error", (address, args)
    return args[1]


@pytest.mark.parametrize("message, words", [
    (("/beatgan/generate", "42"), "seed must be an int"),
    (("/beatgan/generate", 1, "120"), "bpm must be a number"),
    (("/beatgan/generate", 1, math.nan), "finite"),
    (("/beatgan/generate", 1, math.inf), "finite"),
    (("/beatgan/generate", 1, -math.inf), "finite"),
    (("/beatgan/generate", 1, -120.0), "40..300"),
    (("/beatgan/generate", 1, 3.4e38), "40..300"),
    (("/beatgan/generate", 1, 1e-30), "40..300"),
    (("/beatgan/generate", -5), "-1 = random"),
    (("/beatgan/generate", ("h", 2**62)), "seed must be in"),
    (("/beatgan/generate", 2.5), "whole number"),
    (("/beatgan/generate", ("d", 1e300)), "seed must be in"),
    (("/beatgan/generate", 1, 120.0, 1000000), "bars must be in 1..8"),
    (("/beatgan/generate", 1, 120.0, 1, 1), "at most 3"),
    (("/beatgan/variation",), "missing seed, amount"),
    (("/beatgan/variation", 1, math.nan), "finite"),
    (("/beatgan/morph", 1, 2, 7.0), "t must be in 0..1"),
    (("/beatgan/tempo", math.nan), "finite"),
    (("/beatgan/tempo", 1e9), "40..300"),
    (("/beatgan/tempo", -1.0), "40..300"),
    (("/beatgan/mode", "/etc/passwd"), "mode must be one of"),
    (("/beatgan/mode", "../../beats"), "mode must be one of"),
    (("/beatgan/slot", -1), "slot must be in 0..11"),
    (("/beatgan/ping", "x"), "token must be an int"),
    (("/beatgan/play", 1, 2, 3), "at most 1"),
    (("/beatgan/play", 0.5), "state must be a whole number"),
    (("/beatgan/nope",), "unknown address"),
    (("/../../etc/passwd",), "unknown address"),
    (("/beatgan/generate/../../x",), "unknown address"),
    (("/beatgan/generate", ("b", b"\x00\xff" * 100)), "seed must be an int, got bytes"),
    (("/beatgan/generate", ("T", True)), "seed must be an int, got bool"),
])
def test_bad_messages_are_answered(osc, message, words):
    assert words in error_of(osc, *message)


@pytest.mark.parametrize("data", [
    b"", b"x", b"\x00" * 8, b"#bundle\x00", b"#bundle\x00" + b"\xff" * 12, b"\xde\xad\xbe\xef" * 9,
    osc_bytes("/beatgan/generate", 1, 120.0)[:-3],
    osc_bytes("/beatgan/generate", 1, 120.0)[:21],
    bytes(range(256)) * 4,
])
def test_garbage_and_truncated_packets(osc, data):
    osc.send_raw(data)
    address, args = osc.recv()
    if address == "/beatgan/error":
        assert args[0] in ("", "/beatgan/generate") and args[1]
    else:  # a truncation that is still a valid (shorter) message is carried out normally
        assert address == "/beatgan/done", (address, args)


def test_64k_packets(osc):
    huge_address = "/beatgan/" + "a" * (65_000)
    osc.send_raw(osc_bytes(huge_address))
    address, args = osc.recv()
    assert address == "/beatgan/error" and len(args[0]) <= 256
    osc.send_raw(osc_bytes("/beatgan/mode", "b" * 65_000))
    address, args = osc.recv()
    assert address == "/beatgan/error" and len(args[1]) < 300
    osc.send_raw(osc_bytes("/beatgan/generate", ("b", b"\x01" * 65_000)))
    assert osc.recv()[0] == "/beatgan/error"
    osc.send_raw(b"\xff" * 65_507)      # the largest UDP payload there is
    assert osc.recv()[0] == "/beatgan/error"


def test_deleted_output_folder_is_recreated(osc, daemon):
    shutil.rmtree(daemon.out)
    address, args = osc.ask("/beatgan/generate", 11, 120.0)
    assert address == "/beatgan/done", args
    assert os.path.dirname(args[0]) == str(daemon.out)


def test_output_folder_that_is_a_file(osc, daemon):
    shutil.rmtree(daemon.out)
    daemon.out.write_text("not a folder")
    try:
        message = error_of(osc, "/beatgan/generate", 12, 120.0)
        assert "not a folder" in message
        assert daemon.out.read_text() == "not a folder"
    finally:
        daemon.out.unlink()
        daemon.out.mkdir()


def test_output_folder_whose_parent_is_a_file(tiny_model, tmp_path):
    """Start-up with an output folder that cannot exist: one clear line, exit code 1."""
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    d = DaemonProcess(tmp_path / "d", tiny_model, "--no-midi", "--no-audio")
    d.argv[d.argv.index("--out") + 1] = str(blocker / "loops")
    proc = subprocess.run(d.argv, env=d.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    err = [line for line in proc.stderr.splitlines() if "error" in line]
    assert err and "cannot use" in err[-1] and "Traceback" not in proc.stderr


def test_write_failing_mid_file(osc, daemon):
    """A loop larger than the file size limit fails half-written (EFBIG): it is answered with
    the reason, the half-written temporary file is removed, and a small loop still works."""
    message = error_of(osc, "/beatgan/generate", 13, 40.0, 8)   # 48 s, ~12.7 MB of PCM_24
    assert "could not write the loop" in message and "too large" in message
    assert osc.ask("/beatgan/generate", 13, 120.0)[0] == "/beatgan/done"


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount"
    probe = "/proc/self/status"
    caps = int([line for line in open(probe) if line.startswith("CapEff")][0].split()[1], 16)
    return None if caps & (1 << 21) else "no CAP_SYS_ADMIN to mount"  # 21 = CAP_SYS_ADMIN


def test_disk_full_tmpfs(osc, daemon):
    why = _can_mount()
    if why:
        pytest.skip(f"{why}; the write-failure path is covered by test_write_failing_mid_file")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(daemon.out)],
                   check=True)
    try:
        first = osc.ask("/beatgan/generate", 14, 120.0)     # 529 KB: fits once
        assert first[0] == "/beatgan/done", first
        message = error_of(osc, "/beatgan/generate", 15, 120.0)
        assert "disk is full" in message
        # The daemon's hidden spares folder (its spares cannot be made: the disk is full) is
        # not a loop's leftover.
        names = [n for n in os.listdir(daemon.out) if n != SPARE_DIR]
        assert names == [os.path.basename(first[1][0])], names   # no partial file
    finally:
        subprocess.run(["umount", str(daemon.out)], check=True)


def test_read_only_output_folder(osc, daemon):
    """chmod stops a normal user; root ignores it, so as root a read-only bind mount is used."""
    if os.geteuid() != 0:
        os.chmod(daemon.out, 0o555)
        try:
            assert "permission denied" in error_of(osc, "/beatgan/generate", 16, 120.0)
        finally:
            os.chmod(daemon.out, 0o755)
        return
    why = _can_mount()
    if why:
        pytest.skip(f"running as root ({why}): chmod does not stop root's writes; the "
                    "unwritable-folder path is covered by test_output_folder_that_is_a_file")
    out = str(daemon.out)
    subprocess.run(["mount", "--bind", out, out], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", out], check=True)
        assert "read-only" in error_of(osc, "/beatgan/generate", 16, 120.0)
    finally:
        subprocess.run(["umount", out], check=True)


def test_flood_is_answered_in_full_and_ping_keeps_answering(osc, daemon):
    """3000 generate requests as fast as one socket sends them: each gets done or a 'queue
    full' error, pings sent during the flood are answered, and memory stays put."""
    rss_before = daemon.rss_kb()
    replies: list[tuple[str, list]] = []
    stop = threading.Event()

    def reader():
        while True:
            try:
                replies.append(osc.recv(timeout=3.0))
            except (TimeoutError, socket.timeout):
                if stop.is_set():
                    return
    t = threading.Thread(target=reader)
    t.start()
    n = 3000
    for i in range(n):
        osc.send("/beatgan/generate", i % 1000, 120.0)
        if i % 500 == 250:
            osc.send("/beatgan/ping", 100000 + i)
    stop.set()
    t.join(60)
    pongs = [r for r in replies if r[0] == "/beatgan/pong"]
    answers = [r for r in replies if r[0] in ("/beatgan/done", "/beatgan/error")]
    assert len(pongs) == 6
    assert len(answers) == n, (len(answers), replies[-3:])
    full = [r for r in answers if r[0] == "/beatgan/error"]
    assert full and all("queue full" in r[1][1] for r in full)
    assert any(r[0] == "/beatgan/done" for r in answers)
    assert daemon.rss_kb() - rss_before < 50 * 1024
