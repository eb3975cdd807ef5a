"""OSC routing fed with datagram bytes: every address, Pd-style floats, and every bad input
answered on /beatgan/error (no sockets here; the real daemon is tested in test_osc_daemon.py)."""
from __future__ import annotations

import math
import random

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage

from serve_support import osc_bytes

from beatgan.bridge.osc_api import ROUTES, OscApi
from beatgan.bridge.requests import (Generate, Midi, Mode, Morph, Ping, Play, Slot, Status, Stems,
                                     Stop, Tempo, Truncation, Variation)


msg = osc_bytes  # values, or (type_tag, value) pairs to force a tag (e.g. ("d", 1.0))


class Recorder:
    def __init__(self, fail: bool = False):
        self.requests, self.replies, self.fail = [], [], fail

    def handle(self, request, origin):
        if self.fail:
            raise RuntimeError("boom")
        self.requests.append((request, origin.address))

    def send(self, address, *args):
        self.replies.append((address, args))


def feed(data: bytes, fail: bool = False) -> Recorder:
    rec = Recorder(fail)
    OscApi(rec.handle).handle_datagram(data, rec.send, "test", 0.0)
    return rec


def one_request(data: bytes):
    rec = feed(data)
    assert rec.replies == [], rec.replies
    assert len(rec.requests) == 1
    return rec.requests[0][0]


def one_error(data: bytes) -> tuple[str, str]:
    rec = feed(data)
    assert rec.requests == []
    assert len(rec.replies) == 1, rec.replies
    address, args = rec.replies[0]
    assert address == "/beatgan/error"
    assert len(args) == 2 and all(isinstance(a, str) for a in args)
    return args


@pytest.mark.parametrize("data, expected", [
    (msg("/beatgan/generate"), Generate()),
    (msg("/beatgan/generate", 42), Generate(seed=42)),
    (msg("/beatgan/generate", -1, 0.0, 2), Generate(seed=None, tempo_bpm=None, bars=2)),
    (msg("/beatgan/generate", 42, 128.5, 4), Generate(42, 128.5, 4)),
    (msg("/beatgan/generate", 42.0, 128.5, 4.0), Generate(42, 128.5, 4)),     # Pd: all floats
    (msg("/beatgan/generate", ("h", 7), ("i", 120), ("d", 1.0)), Generate(7, 120.0, 1)),
    (msg("/beatgan/variation", 5, 0.25), Variation(5, 0.25)),
    (msg("/beatgan/variation", 5, 1, 90.0, 2, 3), Variation(5, 1.0, 90.0, 2, 3)),
    (msg("/beatgan/morph", 1, 2, 0.5), Morph(1, 2, 0.5)),
    (msg("/beatgan/morph", 1.0, 2.0, 0, 100, 8), Morph(1, 2, 0.0, 100.0, 8)),
    (msg("/beatgan/tempo", 127.25), Tempo(127.25)),
    (msg("/beatgan/tempo", 90), Tempo(90.0)),
    (msg("/tempo/raw", 99.5), Tempo(99.5)),
    (msg("/beatgan/mode", "stretch"), Mode("stretch")),
    (msg("/beatgan/truncation", 0.75), Truncation(0.75)),  # exact in float32
    (msg("/beatgan/truncation", 1), Truncation(1.0)),
    (msg("/beatgan/truncation", 0.0), Truncation(None)),  # back to the model's default
    (msg("/beatgan/play"), Play()),
    (msg("/beatgan/play", 1.0), Play(1)),           # REAPER's play toggle
    (msg("/beatgan/play", 0.0), Play(0)),
    (msg("/beatgan/stop"), Stop()),
    (msg("/beatgan/slot", 3), Slot(3)),
    (msg("/beatgan/slot", 11.0, 1234), Slot(11, 1234)),
    (msg("/beatgan/ping"), Ping()),
    (msg("/beatgan/ping", 77), Ping(77)),
    (msg("/beatgan/status"), Status()),
    (msg("/beatgan/stems", 1), Stems(1)),
    (msg("/beatgan/stems", 0.0), Stems(0)),          # Pd
    (msg("/beatgan/midi", 1.0), Midi(1)),
    (msg("/beatgan/midi", 0), Midi(0)),
])
def test_every_address_parses(data, expected):
    assert one_request(data) == expected


def test_message_without_type_tags_has_no_arguments():
    # OSC 1.0 made the type tag string optional for old senders: no tags = no arguments.
    assert one_request(b"/beatgan/ping\x00\x00\x00") == Ping()


def test_tempo_zero_clears():
    assert one_request(msg("/beatgan/tempo", 0.0)).tempo_bpm is None


def test_every_route_is_covered_above():
    assert set(ROUTES) == {"/beatgan/generate", "/beatgan/variation", "/beatgan/morph",
                           "/beatgan/tempo", "/tempo/raw", "/beatgan/mode", "/beatgan/truncation", "/beatgan/play",
                           "/beatgan/stop", "/beatgan/slot", "/beatgan/ping", "/beatgan/status",
                           "/beatgan/stems", "/beatgan/midi"}


@pytest.mark.parametrize("data, words", [
    (msg("/beatgan/stems"), ["missing", "state"]),
    (msg("/beatgan/stems", 2), ["state", "0..1"]),
    (msg("/beatgan/midi", "on"), ["state", "int", "str"]),
    (msg("/beatgan/generate", "12"), ["seed", "int", "str"]),
    (msg("/beatgan/generate", 1.5), ["seed", "whole"]),
    (msg("/beatgan/generate", 2**31), ["seed", "2147483647"]),
    (msg("/beatgan/generate", -2), ["seed", "-1"]),
    (msg("/beatgan/generate", ("h", 2**40)), ["seed"]),
    (msg("/beatgan/generate", True), ["seed", "bool"]),
    (msg("/beatgan/generate", 1, math.nan), ["bpm", "finite"]),
    (msg("/beatgan/generate", 1, math.inf), ["bpm", "finite"]),
    (msg("/beatgan/generate", 1, -120.0), ["bpm", "40..300"]),
    (msg("/beatgan/generate", 1, 1e30), ["bpm", "40..300"]),
    (msg("/beatgan/generate", 1, 20.0), ["bpm", "40..300"]),
    (msg("/beatgan/generate", 1, 120.0, 0), ["bars", "1..8"]),
    (msg("/beatgan/generate", 1, 120.0, 99), ["bars", "1..8"]),
    (msg("/beatgan/generate", 1, 120.0, 1, 5), ["at most 3"]),
    (msg("/beatgan/generate", 1, "/etc/passwd"), ["bpm", "str"]),
    (msg("/beatgan/generate", ("b", b"\x00" * 16)), ["seed", "bytes"]),
    (msg("/beatgan/variation", 5), ["missing amount"]),
    (msg("/beatgan/variation", 5, 1.5), ["amount", "0..1"]),
    (msg("/beatgan/variation", 5, -0.1), ["amount", "0..1"]),
    (msg("/beatgan/morph", 1, 2), ["missing t"]),
    (msg("/beatgan/morph", 1, 2, math.nan), ["t", "finite"]),
    (msg("/beatgan/tempo"), ["missing bpm"]),
    (msg("/beatgan/tempo", 400.0), ["bpm", "40..300"]),
    (msg("/beatgan/tempo", "fast"), ["bpm", "str"]),
    (msg("/beatgan/mode", "../../x"), ["mode", "beats|repitch|stretch"]),
    (msg("/beatgan/mode", 1), ["mode", "string"]),
    (msg("/beatgan/truncation"), ["missing truncation"]),
    (msg("/beatgan/truncation", 3.0), ["truncation", "0.05..2", "0 = the model's default"]),
    (msg("/beatgan/truncation", -0.5), ["truncation", "0.05..2"]),
    (msg("/beatgan/truncation", math.nan), ["truncation", "finite"]),
    (msg("/beatgan/truncation", "low"), ["truncation", "str"]),
    (msg("/beatgan/slot", 12), ["slot", "0..11"]),
    (msg("/beatgan/play", 2), ["state", "0..1"]),
    (msg("/beatgan/play", 1, 1), ["at most 1"]),
    (msg("/beatgan/status", "x"), ["at most 0"]),
    (msg("/beatgan/ping", 1, 2), ["at most 1"]),
])
def test_bad_arguments_are_answered_naming_the_field(data, words):
    address, message = one_error(data)
    assert address.startswith("/")
    for w in words:
        assert w in message, message


@pytest.mark.parametrize("address", ["/beatgan/nope", "/beatgan", "/", "/BEATGAN/PING",
                                     "/beatgan/generate/", "/../../etc/passwd"])
def test_unknown_address(address):
    echoed, message = one_error(msg(address))
    assert echoed == address
    assert "unknown address" in message


@pytest.mark.parametrize("data", [
    b"", b"\x00", b"hello", b"/beatgan/ping",
    b"#bundle\x00", b"#bundle\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10/x",
    bytes(range(256)), b"\xff" * 1024,
])
def test_garbage_is_answered_not_raised(data):
    address, message = one_error(data)
    assert address == ""
    assert "not an OSC packet" in message


def test_truncated_packets_never_raise():
    full = msg("/beatgan/generate", 42, 120.0, 2)
    for n in range(len(full)):
        rec = feed(full[:n])
        # Either a (shorter) valid message was read, or exactly one error went back.
        assert len(rec.requests) + len(rec.replies) == 1, (n, rec.requests, rec.replies)


def test_random_garbage_never_raises():
    rng = random.Random(0)
    for _ in range(2000):
        n = rng.randrange(0, 200)
        data = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5:
            data = b"/beatgan/generate\x00\x00\x00,"[:rng.randrange(1, 22)] + data
        rec = feed(data)
        assert len(rec.requests) + len(rec.replies) >= 1


def test_64k_packet_is_answered_with_a_bounded_reply():
    address = "/beatgan/" + "x" * 65000
    data = msg(address)
    assert len(data) > 64 * 1000
    echoed, message = one_error(data)
    assert len(echoed) <= 256 and echoed.startswith("/beatgan/xxx")
    long_arg = msg("/beatgan/mode", "y" * 65000)
    _, message = one_error(long_arg)
    assert len(message) < 300


def test_bundle_routes_each_message_in_order():
    b = OscBundleBuilder(IMMEDIATELY)
    for m in (msg("/beatgan/tempo", 100.0), msg("/beatgan/generate", 1), msg("/beatgan/nope")):
        b.add_content(OscMessage(m))
    rec = feed(b.build().dgram)
    assert [r for r, _ in rec.requests] == [Tempo(100.0), Generate(seed=1)]
    assert rec.replies[0][1][0] == "/beatgan/nope"


def test_handler_crash_is_answered_and_contained():
    rec = feed(msg("/beatgan/generate", 1), fail=True)
    assert rec.replies == [("/beatgan/error", ("/beatgan/generate", "internal error "
                                                                    "(RuntimeError: boom)"))]


def test_no_sender_means_log_only():
    OscApi(Recorder().handle).handle_datagram(b"garbage", None, "test", 0.0)


# --- bundles: every element that cannot be read gets its own answer (issue 23) -----------------

def bundle(*elements: bytes, timetag: bytes = b"\x00" * 7 + b"\x01") -> bytes:
    """A bundle from raw element contents, each framed with its int32 size."""
    return b"#bundle\x00" + timetag + b"".join(len(e).to_bytes(4, "big") + e for e in elements)


def test_bundle_element_that_is_not_osc_is_answered_and_the_rest_carried_out():
    rec = feed(bundle(msg("/beatgan/ping", 1), b"garbage!", msg("/beatgan/tempo", 100.0)))
    assert [r for r, _ in rec.requests] == [Ping(1), Tempo(100.0)]
    assert len(rec.replies) == 1
    address, (echo, why) = rec.replies[0]
    assert address == "/beatgan/error" and echo == ""
    assert "bundle element 2 (at byte 44)" in why


def test_bundle_with_an_undecodable_message_element():
    broken = b"/beatgan/ping\x00\x00\x00,i\x00\x00"   # promises an int it does not carry
    rec = feed(bundle(broken, msg("/beatgan/ping", 2)))
    assert [r for r, _ in rec.requests] == [Ping(2)]
    assert len(rec.replies) == 1 and "bundle element 1" in rec.replies[0][1][1]


def test_empty_and_nested_elements():
    inner = bundle(msg("/beatgan/ping", 3), b"")
    rec = feed(bundle(inner, b""))
    assert [r for r, _ in rec.requests] == [Ping(3)]
    whys = [args[1] for _, args in rec.replies]
    assert len(whys) == 2
    assert "bundle element 1.2" in whys[0] and "empty" in whys[0]
    assert "bundle element 2" in whys[1]


def test_deeply_nested_bundles_are_refused_not_recursed():
    data = msg("/beatgan/ping", 4)
    for _ in range(50):
        data = bundle(data)
    rec = feed(data)
    assert rec.requests == [] and len(rec.replies) == 1
    assert "nested deeper" in rec.replies[0][1][1]


@pytest.mark.parametrize("size", [-16, -4, 1 << 30])
def test_bundle_element_size_that_does_not_fit_is_answered_promptly(size):
    """python-osc loops forever on a negative element size; the reader answers instead."""
    import threading
    data = (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + len(msg("/beatgan/ping", 5)).to_bytes(4, "big")
            + msg("/beatgan/ping", 5) + size.to_bytes(4, "big", signed=True) + b"abcd")
    result = []
    t = threading.Thread(target=lambda: result.append(feed(data)), daemon=True)
    t.start()
    t.join(5.0)
    assert result, "the bundle reader did not return"
    rec = result[0]
    assert [r for r, _ in rec.requests] == [Ping(5)]
    assert len(rec.replies) == 1 and f"size {size}" in rec.replies[0][1][1]


def test_bundle_reader_logs_nothing_on_the_root_logger(caplog):
    feed(bundle(b"garbage!", b"\x00\x00\x00\x00"))
    assert not [r for r in caplog.records if r.name == "root"]
