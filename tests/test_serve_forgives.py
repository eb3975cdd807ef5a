"""The daemon over real UDP (issue 23): a malformed bundle gets answers, a flood of refusals is
a few log lines and a count, and the summary says where its loops go."""
from __future__ import annotations

import re
import socket
import time

import pytest

from serve_support import DaemonProcess, osc_bytes


@pytest.fixture(scope="module")
def daemon(tiny_model, tmp_path_factory):
    # A queue of one request: almost every request of a flood is refused.
    d = DaemonProcess(tmp_path_factory.mktemp("serve_forgives"), tiny_model, "--no-midi",
                      "--no-audio", config="threads = 1\nqueue_size = 1\nmax_batch = 1\n").start()
    yield d
    assert d.stop() == 0, d.log()


def test_malformed_bundle_elements_are_answered_over_udp(daemon):
    ping = osc_bytes("/beatgan/ping", 7)
    data = (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + len(ping).to_bytes(4, "big") + ping
            + (8).to_bytes(4, "big") + b"garbage!" + (-16).to_bytes(4, "big", signed=True))
    with daemon.client() as osc:
        osc.send_raw(data)
        got = [osc.recv(10.0) for _ in range(3)]
        assert got[0] == ("/beatgan/pong", [7])
        assert got[1][0] == "/beatgan/error" and "bundle element 2" in got[1][1][1]
        assert got[2][0] == "/beatgan/error" and "size -16" in got[2][1][1]
        assert osc.ping(token=8)      # the receive thread is not stuck in the bundle
    assert "Could not identify content type" not in daemon.log()


def test_a_flood_of_refusals_is_rate_limited_in_the_log(daemon):
    n = 2000
    with daemon.client() as osc:
        for i in range(n):
            osc.send("/beatgan/generate", i, 120.0)
        osc.drain(1.0)
        assert osc.ping(token=9)
    deadline = time.monotonic() + 20.0
    count = None
    while time.monotonic() < deadline and count is None:
        m = re.search(r"\.\.\. ([\d,]+) more queue-full refusals in the last \d+ s", daemon.log())
        count = int(m.group(1).replace(",", "")) if m else None
        time.sleep(0.5)
    log = daemon.log()
    shown = [line for line in log.splitlines() if "-> error: queue full" in line]
    assert count is not None, log[-3000:]
    assert len(shown) <= 10, len(shown)
    assert count + len(shown) > n // 2        # most of the flood was refused, and counted
