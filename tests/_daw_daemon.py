"""A real `beatgan serve` for the DAW-side tests (Max for Live, Reaper, Pd), on free ports.

    with running_daemon(model_dir, out_dir) as d:
        d.send("/beatgan/generate", 42, 120.0, 1)
        address, args = d.receive("/beatgan/done")

The daemon listens on a port it picks (--osc-port 0, read from its start-up summary) and replies
to `d.reply_port`, a socket this helper holds. Everything started is stopped on exit, with
timeouts, so a hung daemon fails the test instead of the run.
"""
from __future__ import annotations

import contextlib
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from serve_support import free_udp_port  # noqa: F401  (re-exported for the DAW tests)

ROOT = Path(__file__).resolve().parents[1]
BEATGAN = Path(sys.executable).with_name("beatgan")
READY_TIMEOUT_S = 60.0


def encode(address: str, *args) -> bytes:
    """OSC bytes the way Max's [udpsend] types them: whole numbers as i, others as f."""
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, bool):
            raise TypeError("no booleans on the wire")
        if isinstance(a, float) and a.is_integer():
            b.add_arg(int(a), "i")
        elif isinstance(a, int):
            b.add_arg(a, "i")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


class Daemon:
    def __init__(self, proc: subprocess.Popen, osc_port: int, replies: socket.socket,
                 lines: "queue.Queue[str]", log: list[str]):
        self.proc, self.osc_port, self.replies, self._lines, self.log = (
            proc, osc_port, replies, lines, log)
        self.reply_port = replies.getsockname()[1]

    def send_bytes(self, data: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(data, ("127.0.0.1", self.osc_port))

    def send(self, address: str, *args) -> None:
        self.send_bytes(encode(address, *args))

    def receive(self, want: str | None = None, timeout: float = 30.0) -> tuple[str, list]:
        """The next reply (with address `want`, skipping others); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {want or 'reply'} within {timeout} s; got {seen}; "
                                     f"daemon log:\n" + "\n".join(self.log[-30:]))
            self.replies.settimeout(left)
            try:
                data, _ = self.replies.recvfrom(65536)
            except socket.timeout:
                continue
            msg = OscMessage(data)
            if want is None or msg.address == want:
                return msg.address, list(msg.params)
            seen.append((msg.address, list(msg.params)))

    def drain(self, wait: float = 0.3) -> list[tuple[str, list]]:
        """Every reply that arrives within `wait` seconds of the last one."""
        got = []
        with contextlib.suppress(AssertionError):
            while True:
                got.append(self.receive(timeout=wait))
        return got


@contextlib.contextmanager
def running_daemon(model: Path, out: Path, home: Path, reply_port: int | None = None):
    """Start `beatgan serve` with no MIDI and no audio; stop it on exit. Replies go to a socket
    this helper holds, or to `reply_port` (another client's, e.g. Pd's) when given."""
    replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replies.bind(("127.0.0.1", 0))
    reply_to = replies.getsockname()[1] if reply_port is None else reply_port
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), PYTHONUNBUFFERED="1")
    cmd = [str(BEATGAN), "serve", "--model", str(model), "--out", str(out), "--no-midi",
           "--no-audio", "--device", "cpu", "--osc-port", "0",
           "--reply-port", str(reply_to)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=str(home))
    lines: "queue.Queue[str]" = queue.Queue()
    log: list[str] = []

    def pump():
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        port = None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while port is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("beatgan serve did not get ready in "
                                     f"{READY_TIMEOUT_S} s:\n" + "\n".join(log)) from None
            m = re.search(r"osc\s+listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
            if proc.poll() is not None and lines.empty():
                raise AssertionError("beatgan serve exited:\n" + "\n".join(log))
        yield Daemon(proc, port, replies, lines, log)
    finally:
        replies.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
