"""Latency and memory of `beatgan serve`, measured from outside the process.

Starts the daemon on free ports and measures, one request at a time:
  * OSC in -> file renamed: send /beatgan/generate, wait for /beatgan/done (sent right after the
    WAV is renamed into place); both the wall-clock round trip seen here and the daemon's own
    latency_ms (datagram received -> file renamed) are reported.
  * note-on -> file: a MIDI note through rtmidi over a JACK dummy server (started here when
    jackd is installed), answered with /beatgan/done on the reply port.
Then floods the daemon with OSC at --flood-rate messages/s for --flood-s seconds (generate
requests, most rejected with "queue full", plus a ping every 100 ms) and reports the daemon's
RSS before, at peak and after, and how many pings came back.

    python bench/latency.py                          # shipped model, or a random-init beatgan-bar
    python bench/latency.py --model DIR --n 500 --threads 2 --device cpu
    python bench/latency.py --device cuda            # on a GPU machine
    python bench/latency.py --config drum-machine --model-size 16 --stems --threads 1
                                                     # a drum machine, stems and MIDI on
    python bench/latency.py --stems --threads 1 --no-midi --n 300 --interval-ms 100
                                                     # the shipped model, a request every ~120 ms

Targets (issue 4): p99 <= 50 ms on a 2-core CPU machine, <= 10 ms on an H100; RSS growth
under the flood <= 50 MB. With --stems (issue 24: a drum-machine model writing the loop, one WAV
per voice and the .mid): OSC in -> files p99 <= 25 ms, judged on the shipped model
(`--stems` alone, or `--model weights`). `--config drum-machine --model-size 16` is the worst
case: a random-init drum machine plays far more hits a bar (~120) than the trained one (~28),
though the files it writes are the same size.

With --stems the run is measured twice, the second time by a fresh daemon with
--no-spare-files (or the flush mode --against names), and the ratio printed. Requests go back
to back unless --interval-ms pauses between one reply and the next request: spare files are
made again between requests, so back to back (a flood) they are used up, while paced, as a DAW
asks, the files are written over them (docs/serve.md, "Spare files").

After the OSC figures, a baseline from the same run: the last request's files (their sizes),
made anew 100 times and then written over, with plain os.write calls and no BeatGAN code. What
this machine charges for new files (on this project's VM, whose memory balloon hands freed
pages back to its host, 7-18 ms for a loop with its stems, against 0.3 ms written over) is a
floor under back-to-back latency, where no spare files are left (docs/render.md).
Also printed: the daemon's CPU time per request (user and system, all threads): far below the
latency, the request waits (disk, GIL, other processes); close to it, it computes. Run the daemon
with BEATGAN_TRACE_STAGES=1 in the environment and its log (path printed at the end) gives, per
request, the ms from the datagram's arrival to each stage (queued, picked up, generated,
re-timed, written, synced, replied). The loops written are removed at the end; the log is kept.
BEATGAN_NO_JIT=1 in the environment runs the daemon on the NumPy twins of its compiled loops
(bridge/jit.py; the `jit:` line says which), to compare the two in alternating runs.
On a busy machine (a training run, tests) the figures are mostly the other programs' load:
`chrt -f 10 python bench/latency.py ...` (as root) lets the daemon run whenever it is ready, so
they show its own latency (this project's 2-core VM at load 5, a training run and tests, stems
on, shipped model: p50 16 ms, p99 21 ms with it; p50 29 ms, p99 55 ms without).
"""
from __future__ import annotations

import argparse
import os
import platform
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

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

ENTRY = "import sys; from beatgan.bridge.cli import main; sys.exit(main())"


def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def row(name: str, ms: list[float]) -> str:
    return (f"{name:<44} n={len(ms):<5} p50 {pct(ms, 50):7.2f}  p95 {pct(ms, 95):7.2f}  "
            f"p99 {pct(ms, 99):7.2f}  max {max(ms):7.2f} ms")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_use(pid: int) -> np.ndarray:
    """[user s, system s, minor page faults] the process (every thread) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return np.array([int(fields[11]) / tick, int(fields[12]) / tick, int(fields[7])], float)


def make_model(folder: Path, config: str, model_size: int | None = None) -> Path:
    """A randomly initialised model of a real config: latency depends on the architecture,
    not on what the weights learned."""
    import torch

    from beatgan.generator import ModelCard, named_config
    from beatgan.generator.networks import build_generator
    from beatgan.generator.weights import save_model
    torch.manual_seed(0)
    cfg = named_config(config, **({"model_size": model_size} if model_size else {}))
    save_model(build_generator(cfg), ModelCard(config=cfg, name=f"bench-random-{config}"), folder)
    return folder


def start_jack() -> tuple[subprocess.Popen | None, dict, str]:
    env = dict(os.environ)
    if not shutil.which("jackd"):
        return None, env, "jackd not installed"
    name = f"beatgan-bench-{uuid.uuid4().hex[:6]}"
    env.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    proc = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "44100", "-p", "256"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True)
    if ok.returncode != 0:
        proc.terminate()
        proc.wait(10)
        return None, dict(os.environ), "jackd did not start"
    return proc, env, ""


def start_daemon(argv: list[str], env: dict, log_path: Path):
    """(process, OSC port, start-up summary lines) of `beatgan serve` once it is ready, or None
    (its log printed) when it did not start."""
    log = open(log_path, "wb")
    daemon = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()   # the child holds its own copy
    summary = []
    while True:
        line = daemon.stdout.readline()
        if not line:
            print("daemon did not start:\n" + log_path.read_text()[-3000:])
            return None
        summary.append(line.rstrip())
        if line.startswith("  tempo"):
            break
    return daemon, int(re.search(r"listening on [^ ]+:(\d+)", "\n".join(summary)).group(1)), summary


def stop_daemon(daemon: subprocess.Popen) -> int:
    daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        return daemon.wait()


def serve_setting(flush: str, no_spares: bool) -> tuple[list[str], str]:
    """(serve flags, label) of a daemon measured with this flush mode, spare files on or off."""
    return (["--flush", flush] + ["--no-spare-files"] * no_spares,
            f"flush {flush}, spare files {'off' if no_spares else 'on'}")


def osc_latency(send, dest, replies, args, pid: int):
    """(round trips ms, the daemon's own latency_ms, [user s, system s, faults] per request,
    the sizes of the last request's files) of args.n generate requests sent one after
    another."""
    if args.stems:
        for address in ("/beatgan/stems", "/beatgan/midi"):
            send.sendto(osc(address, 1), dest)
            replies.take(address)
    for i in range(20):  # settle (the daemon warmed itself up; this warms our side)
        send.sendto(osc("/beatgan/generate", i, args.bpm), dest)
        replies.take("/beatgan/done")
    wall, own = [], []
    cpu0 = cpu_use(pid)
    for i in range(args.n):
        if args.interval_ms > 0:
            time.sleep(args.interval_ms / 1000.0)
        t0 = time.perf_counter()
        send.sendto(osc("/beatgan/generate", 1000 + i, args.bpm), dest)
        t1, done = replies.take("/beatgan/done")
        wall.append((t1 - t0) * 1000.0)
        own.append(done[4])
    cpu = (cpu_use(pid) - cpu0) / args.n
    paths = [done[0]] + ([p for p in done[5:] if p] if args.stems else [])
    return wall, own, cpu, [os.path.getsize(p) for p in paths if p]


def file_baseline(folder: Path, sizes: list[int], n: int) -> tuple[list[float], list[float]]:
    """(ms to make, ms to write over) a set of files of `sizes` in `folder`, n times each, in
    plain Python (no BeatGAN code): what this machine's file system and memory charge for one
    request's files. New files need new page-cache pages; on a VM that hands freed memory
    back to its host (virtio-balloon free page reporting) each such page costs a host fault."""
    folder.mkdir(parents=True, exist_ok=True)
    data = [os.urandom(size) for size in sizes]
    made, over = [], []
    for i in range(n):
        t0 = time.perf_counter()
        for k, d in enumerate(data):
            fd = os.open(folder / f"new-{i}-{k}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, d)
            os.close(fd)
        made.append((time.perf_counter() - t0) * 1000.0)
    for i in range(n):
        t0 = time.perf_counter()
        for k, d in enumerate(data):
            fd = os.open(folder / f"new-0-{k}", os.O_WRONLY)
            os.write(fd, d)
            os.close(fd)
        over.append((time.perf_counter() - t0) * 1000.0)
    shutil.rmtree(folder, ignore_errors=True)
    return made, over


def print_osc(measured, label: str) -> None:
    wall, own, (user_s, sys_s, faults), sizes = measured
    files = len(sizes)
    each = f" ({files} files each)" if files > 1 else ""
    print(f"{label}:")
    print(row("OSC generate -> /beatgan/done (round trip)" + each, wall))
    print(row("OSC in -> file renamed (daemon's latency_ms)", own))
    # CPU well under the latency: the request waits (disk, other processes); near it, it
    # computes (on two cores a busy machine stretches it).
    print(f"{'daemon CPU time per request (all threads)':<44} {(user_s + sys_s) * 1e3:7.2f} ms "
          f"(user {user_s * 1e3:.2f}, system {sys_s * 1e3:.2f}; {faults:.0f} page faults)")


class Replies:
    """Reads the reply port on a thread; a waiter takes the next reply of a kind."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.items: list[tuple[float, str, list]] = []
        self.cond = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, _ = self.sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            t = time.perf_counter()
            m = OscMessage(data)
            with self.cond:
                self.items.append((t, m.address, list(m.params)))
                self.cond.notify_all()

    def take(self, address: str, timeout: float = 30.0) -> tuple[float, list]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (t, a, args) in enumerate(self.items):
                    answered = address in ("/beatgan/done", "/beatgan/stems", "/beatgan/midi")
                    if a == address or (answered and a == "/beatgan/error"):
                        del self.items[i]
                        if a == "/beatgan/error":
                            raise RuntimeError(f"daemon error: {args}")
                        return t, args
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {address} within {timeout} s")
                self.cond.wait(left)

    def clear(self):
        with self.cond:
            self.items.clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model folder (default: shipped weights, else a "
                                               "random-init model of --config)")
    ap.add_argument("--config", default="beatgan-bar", help="config for the random-init model")
    ap.add_argument("--model-size", type=int, default=None, help="d of the random-init model")
    ap.add_argument("--stems", action="store_true",
                    help="turn stems and MIDI on (/beatgan/stems 1, /beatgan/midi 1): a "
                         "drum-machine model writes each loop with its stems and .mid")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads in the daemon")
    ap.add_argument("--n", type=int, default=500, help="requests per latency measurement")
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--flood-rate", type=int, default=5000, help="messages per second")
    ap.add_argument("--flood-s", type=float, default=10.0)
    ap.add_argument("--no-midi", action="store_true", help="skip the note-on measurement")
    ap.add_argument("--flush", choices=("after", "before", "off"), default="after",
                    help="the daemon's flush setting (default: serve's default, after)")
    ap.add_argument("--interval-ms", type=float, default=0.0,
                    help="pause between one reply and the next request (default 0: back to "
                         "back; a DAW asks at most every beat, 345 ms at 174 bpm)")
    ap.add_argument("--no-spare-files", action="store_true",
                    help="the daemon writes every file anew (serve --no-spare-files)")
    ap.add_argument("--against", choices=("after", "before", "off", "no-spares", "none"),
                    help="then measure OSC -> files again with this flush setting, or with "
                         "the same flush and no spare files, for a ratio (default with "
                         "--stems: no-spares; none: skip)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="beatgan-bench-"))
    model = args.model
    note = ""
    if model is None:
        from beatgan.generator.engine import DEFAULT_MODEL_DIR
        if args.config != "beatgan-bar" or args.model_size:
            model = make_model(tmp / "model", args.config, args.model_size)
            note = f" (random init of {args.config})"
        elif (DEFAULT_MODEL_DIR / "model_card.json").exists():
            model = DEFAULT_MODEL_DIR
        else:
            model = make_model(tmp / "model", args.config)
            note = f" (random init of {args.config}: no shipped weights yet)"

    jack, env, jack_why = (None, dict(os.environ), "--no-midi") if args.no_midi else start_jack()
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    reply.bind(("127.0.0.1", 0))
    reply_port = reply.getsockname()[1]
    toml = f"threads = {args.threads}\n"
    if jack is not None:  # the daemon and this script must meet on the same MIDI API
        toml += "midi_backend = 'mido.backends.rtmidi/UNIX_JACK'\n"
    (tmp / "serve.toml").write_text(toml)
    argv = [sys.executable, "-c", ENTRY, "serve", "--model", str(model), "--out", str(tmp / "out"),
            "--osc-port", "0", "--reply-port", str(reply_port), "--device", args.device,
            "--no-audio", "--config", str(tmp / "serve.toml")]
    if jack is None:
        argv.append("--no-midi")
    env.update(XDG_CONFIG_HOME=str(tmp / "cfg"), XDG_DATA_HOME=str(tmp / "data"))
    ours_flags, ours_label = serve_setting(args.flush, args.no_spare_files)
    started = start_daemon(argv + ours_flags, env, tmp / "daemon.log")
    if started is None:
        return 1
    daemon, port, summary = started
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"model:   {model}{note}")
    from beatgan.bridge.jit import jit_status   # the daemon has this environment: it decides alike
    print(f"jit:     {jit_status()}")
    print("\n".join(summary))
    print()

    replies = Replies(reply)
    send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", port)
    try:
        ours = osc_latency(send, dest, replies, args, daemon.pid)
        print_osc(ours, ours_label)
        made, over = file_baseline(tmp / "baseline", ours[3], min(args.n, 100))
        print(f"this machine, no BeatGAN code: the same {len(ours[3])} files "
              f"({sum(ours[3]) / 1e6:.1f} MB) made anew p50 {pct(made, 50):.2f}, p99 "
              f"{pct(made, 99):.2f} ms; written over existing ones p50 {pct(over, 50):.2f} ms")

        # --- note-on -> file ---------------------------------------------------------------
        if jack is not None:
            os.environ.update(JACK_DEFAULT_SERVER=env["JACK_DEFAULT_SERVER"],
                              JACK_NO_START_SERVER="1")
            import mido
            backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
            names = [n for n in backend.get_output_names() if "BeatGAN" in n]
            with backend.open_output(names[0]) as out:
                for _ in range(10):
                    out.send(mido.Message("note_on", note=60, velocity=100))
                    replies.take("/beatgan/done")
                wall, own = [], []
                for i in range(args.n):
                    t0 = time.perf_counter()
                    out.send(mido.Message("note_on", note=60 + i % 12 + 12, velocity=100))
                    t1, done = replies.take("/beatgan/done")
                    wall.append((t1 - t0) * 1000.0)
                    own.append(done[4])
            print(row("note-on -> /beatgan/done (round trip)", wall))
            print(row("note-on -> file renamed (daemon's latency_ms)", own))
        else:
            print(f"note-on -> file: not measured ({jack_why})")

        # --- flood ------------------------------------------------------------------------------
        replies.clear()
        before = rss_mb(daemon.pid)
        peak = before
        sent = pings = 0
        period = 0.001
        per_tick = max(1, round(args.flood_rate * period))
        t_start = time.perf_counter()
        next_ping = t_start
        next_rss = t_start
        while True:
            now = time.perf_counter()
            elapsed = now - t_start
            if elapsed >= args.flood_s:
                break
            due = int(elapsed * args.flood_rate) - sent
            for _ in range(min(due, per_tick * 20)):
                send.sendto(osc("/beatgan/generate", sent % 100000, args.bpm), dest)
                sent += 1
            if now >= next_ping:
                send.sendto(osc("/beatgan/ping", pings), dest)
                pings += 1
                next_ping += 0.1
            if now >= next_rss:
                peak = max(peak, rss_mb(daemon.pid))
                next_rss += 0.5
            time.sleep(period / 2)
        flood_s = time.perf_counter() - t_start
        time.sleep(3.0)  # let the queue empty and the last answers arrive
        after = rss_mb(daemon.pid)
        got = replies.items
        pongs = sum(1 for _, a, _ in got if a == "/beatgan/pong")
        done = sum(1 for _, a, _ in got if a == "/beatgan/done")
        errors = sum(1 for _, a, _ in got if a == "/beatgan/error")
        print(f"flood: {sent} generate requests in {flood_s:.1f} s ({sent / flood_s:.0f} msg/s) "
              f"+ {pings} pings")
        print(f"       answered: {done} done + {errors} error (queue full) = {done + errors} "
              f"of {sent}; pongs {pongs} of {pings}")
        print(f"       RSS before {before:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB: "
              f"growth {after - before:+.1f} MB (peak {peak - before:+.1f} MB)")
    finally:
        replies.stop = True
        code = stop_daemon(daemon)
        # Thousands of loops (a GB or more with stems): only the figures were wanted.
        shutil.rmtree(tmp / "out", ignore_errors=True)
        print(f"daemon exit code {code}; log: {tmp / 'daemon.log'}")
    against = args.against or ("no-spares" if args.stems and not args.no_spare_files else "")
    if against and against != "none":
        # The same requests with the files written another way, by a fresh daemon.
        flags, label = (serve_setting(args.flush, True) if against == "no-spares" else
                        serve_setting(against, args.no_spare_files))
        replies = Replies(reply)
        started = start_daemon(argv + flags + ["--no-midi"], env, tmp / f"daemon-{against}.log")
        if started is None:
            return 1
        base, port, _ = started
        try:
            theirs = osc_latency(send, ("127.0.0.1", port), replies, args, base.pid)
        finally:
            replies.stop = True
            stop_daemon(base)
            shutil.rmtree(tmp / "out", ignore_errors=True)
        print_osc(theirs, f"{label} (baseline)")
        print(f"daemon's latency, {ours_label} / {label}: "
              f"p50 x{pct(ours[1], 50) / pct(theirs[1], 50):.2f}, "
              f"p99 x{pct(ours[1], 99) / pct(theirs[1], 99):.2f}")
    if jack is not None:
        jack.terminate()
        jack.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
