"""Helpers for the tests that run the real `beatgan serve` process: a JACK dummy server, the
daemon process, and a plain-socket OSC client (python-osc only builds and parses bytes)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from beatgan.bridge.spare_files import SPARE_DIR, SPARE_PREFIX

READY = "beatgan serve: ready"
ENTRY = "import sys; from beatgan.bridge.cli import main; sys.exit(main())"  # = the `beatgan` script


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc_bytes(address: str, *args) -> bytes:
    """Args are values, or (type_tag, value) pairs to force a tag."""
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, tuple):
            b.add_arg(a[1], a[0])
        else:
            b.add_arg(a)
    return b.build().dgram


class OscClient:
    """One UDP socket that sends to the daemon and receives its replies (bind it to the
    daemon's reply port, or use reply port 0 = the sender's port)."""

    def __init__(self, daemon_port: int, port: int = 0, host: str = "127.0.0.1"):
        self.dest = (host, daemon_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]

    def send(self, address: str, *args) -> None:
        self.sock.sendto(osc_bytes(address, *args), self.dest)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    def recv(self, timeout: float = 10.0) -> tuple[str, list]:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65535)
        m = OscMessage(data)
        return m.address, list(m.params)

    def ask(self, address: str, *args, timeout: float = 20.0) -> tuple[str, list]:
        """Send one message and return the first reply (the daemon answers in order)."""
        self.send(address, *args)
        return self.recv(timeout)

    def ping(self, token: int = 1, timeout: float = 10.0) -> bool:
        """True when a pong with this token comes back (other replies are skipped)."""
        self.send("/beatgan/ping", token)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                address, args = self.recv(max(deadline - time.monotonic(), 0.01))
            except (TimeoutError, socket.timeout):
                return False
            if address == "/beatgan/pong" and args == [token]:
                return True
        return False

    def drain(self, quiet_s: float = 0.3) -> list[tuple[str, list]]:
        got = []
        while True:
            try:
                got.append(self.recv(quiet_s))
            except (TimeoutError, socket.timeout):
                return got

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class JackServer:
    """`jackd -d dummy` under a unique server name, so parallel runs never share one."""

    def __init__(self, rate: int = 44100, period: int = 256):
        self.name = f"beatgan-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.rate, self.period = rate, period
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        for tool in ("jackd", "jack_wait", "jack_lsp", "jack_rec"):
            if shutil.which(tool) is None:
                return f"{tool} not found: apt-get install jackd2"
        return None

    def env(self) -> dict:
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def start(self) -> "JackServer":
        # --sync: the server waits for late clients instead of dropping their audio, so a busy
        # test machine makes the dummy clock run slow rather than put gaps in what we capture.
        # Its messages go to a file: a pipe nobody reads would fill up and stall the server.
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["jackd", "--no-realtime", "--sync", "-d", "dummy", "-r", str(self.rate),
             "-p", str(self.period)],
            env=self.env(), stdout=self._log, stderr=subprocess.STDOUT)
        ok = subprocess.run(["jack_wait", "-w", "-t", "10"], env=self.env(),
                            capture_output=True, text=True, timeout=20)
        if ok.returncode != 0 or self.proc.poll() is not None:
            err = self.stop()
            raise RuntimeError(f"jackd did not start: {ok.stdout} {ok.stderr} {err}")
        return self

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, text=True,
                             timeout=10).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def stop(self) -> str:
        if self.proc is None:
            return ""
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return self.log()

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def connections(self) -> str:
        return subprocess.run(["jack_lsp", "-c"], env=self.env(), capture_output=True,
                              text=True, timeout=10).stdout


class DaemonProcess:
    """`python -m beatgan.bridge.cli serve ...` with its own config/data folders; stdout (the
    summary) is read until ready, stderr (the log) goes to a file."""

    def __init__(self, tmp: Path, model: Path, *args: str, env: dict | None = None,
                 reply_port: int | None = None, config: str | None = None,
                 preexec_fn=None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.out = self.tmp / "out"
        self.log_path = self.tmp / "daemon.log"
        self.reply_port = free_udp_port() if reply_port is None else reply_port
        cfg = self.tmp / "serve.toml"
        # threads = 1: the test machine has 2 cores and the test process needs one.
        cfg.write_text(config if config is not None else "threads = 1\n")
        # Not `-m beatgan.bridge.cli`: that makes cli a second module (__main__), whose
        # UserError is another class than the one the daemon raises.
        self.argv = [sys.executable, "-c", ENTRY, "serve", "--model", str(model),
                     "--out", str(self.out), "--osc-port", "0", "--reply-port",
                     str(self.reply_port), "--config", str(cfg), *args]
        base = {**os.environ, "XDG_CONFIG_HOME": str(self.tmp / "config"),
                "XDG_DATA_HOME": str(self.tmp / "data"), "PYTHONUNBUFFERED": "1",
                # never reach a developer's own JACK server, and never start one
                "JACK_NO_START_SERVER": "1",
                "JACK_DEFAULT_SERVER": f"beatgan-none-{uuid.uuid4().hex[:6]}"}
        self.env = {**base, **(env or {})}
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen | None = None
        self.summary: list[str] = []
        self.port = 0

    def start(self, timeout: float = 90.0) -> "DaemonProcess":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, preexec_fn=self.preexec_fn)
        # Read the summary on a thread, so a daemon that hangs before printing fails the test
        # after `timeout` instead of blocking it forever.
        lines: list[str] = []
        done = threading.Event()

        def read():
            for line in self.proc.stdout:
                lines.append(line.rstrip("\n"))
                if lines[-1].startswith("  stop"):  # the summary's last line
                    break
            done.set()
        threading.Thread(target=read, daemon=True).start()
        done.wait(timeout)
        self.summary = list(lines)
        if READY not in lines:
            self.kill()
            raise RuntimeError(f"daemon did not start: stdout={lines}\nlog:\n{self.log()}")
        m = re.search(r"listening on [^ ]+:(\d+)", "\n".join(lines))
        self.port = int(m.group(1))
        return self

    def line(self, key: str) -> str:
        for line in self.summary:
            if line.strip().startswith(key):
                return line.strip()[len(key):].strip()
        raise KeyError(key)

    def client(self, port: int | None = None) -> OscClient:
        return OscClient(self.port, self.reply_port if port is None else port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._log.close()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wavs(self) -> list[Path]:
        return sorted(self.out.glob("*.wav")) if self.out.exists() else []

    def leftovers(self) -> list[Path]:
        """Anything in the output folder that is not a finished WAV (temporary or partial),
        except the spare files a running daemon keeps there (bridge/spare_files.py)."""
        if not self.out.exists():
            return []
        return sorted(p for p in self.out.iterdir() if p.suffix != ".wav" and p.name != SPARE_DIR)

    def spare_files(self) -> list[Path]:
        """The hidden spare files in the output folder (none once the daemon has stopped)."""
        where = self.out / SPARE_DIR
        return sorted(where.glob(SPARE_PREFIX + "*")) if where.is_dir() else []

    def spares_folder_left(self) -> bool:
        """Whether the hidden spares folder is still there (it goes with the daemon)."""
        return (self.out / SPARE_DIR).exists()
