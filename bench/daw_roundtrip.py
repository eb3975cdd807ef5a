"""Round trip a DAW client sees: OSC request out, /beatgan/done back, WAV on disk.

Starts `beatgan serve` (no MIDI, no audio) on free ports, sends requests the way the Max for
Live device and the Pd patch do, one at a time, and prints the wall-clock time from sending the
request to receiving /beatgan/done, next to the latency the daemon reports itself.

    python bench/daw_roundtrip.py                         # the shipped model, 20 requests
    python bench/daw_roundtrip.py --model DIR --n 50 --bars 4 --threads 2
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def message(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a, "i" if isinstance(a, int) else "f")
    return b.build().dgram


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model folder (default: the shipped weights/)")
    ap.add_argument("--n", type=int, default=20, help="requests per kind (default 20)")
    ap.add_argument("--bars", type=int, default=1, help="bars per loop (default 1)")
    ap.add_argument("--bpm", type=float, default=124.0, help="tempo sent with requests")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for the daemon")
    args = ap.parse_args()

    beatgan = Path(sys.executable).with_name("beatgan")
    with tempfile.TemporaryDirectory() as tmp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as replies:
        replies.bind(("127.0.0.1", 0))
        replies.settimeout(60)
        cmd = [str(beatgan), "serve", "--out", str(Path(tmp) / "out"), "--no-midi",
               "--no-audio", "--device", "cpu", "--osc-port", "0",
               "--reply-port", str(replies.getsockname()[1])]
        if args.model:
            cmd += ["--model", args.model]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), XDG_CONFIG_HOME=tmp)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env)
        port = None
        summary = []
        for line in proc.stdout:
            summary.append(line.rstrip())
            m = re.search(r"osc\s+listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
            if port and line.strip().startswith("tempo"):
                break
        if port is None:
            print("\n".join(summary), file=sys.stderr)
            return 1
        print("\n".join(summary))
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        kinds = {
            "generate": lambda i: message("/beatgan/generate", 1000 + i, args.bpm, args.bars),
            "variation": lambda i: message("/beatgan/variation", 7, 0.3, args.bpm, args.bars, i),
            "morph": lambda i: message("/beatgan/morph", 1, 2, i / max(1, args.n - 1),
                                       args.bpm, args.bars),
        }
        try:
            print(f"\n{args.n} requests per kind, {args.bars} bar(s) at {args.bpm:g} bpm, "
                  f"one at a time")
            print(f"{'kind':<10} {'round trip ms (median / p90)':>30} {'daemon ms (median)':>20}")
            for kind, build in kinds.items():
                trips, reported = [], []
                for i in range(args.n):
                    t0 = time.perf_counter()
                    out.sendto(build(i), ("127.0.0.1", port))
                    while True:
                        msg = OscMessage(replies.recvfrom(65536)[0])
                        if msg.address in ("/beatgan/done", "/beatgan/error"):
                            break
                    if msg.address == "/beatgan/error":
                        print(f"error: {msg.params}", file=sys.stderr)
                        return 1
                    trips.append((time.perf_counter() - t0) * 1000)
                    reported.append(msg.params[4])
                q = statistics.quantiles(trips, n=10)
                print(f"{kind:<10} {statistics.median(trips):>19.1f} / {q[-1]:<8.1f} "
                      f"{statistics.median(reported):>20.1f}")
        finally:
            out.close()
            proc.terminate()
            proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
