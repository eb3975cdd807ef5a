"""OSC datagram -> messages, with one error per part that cannot be read.

python-osc reads a bundle all or nothing, skips an element it cannot identify with only a
warning on the root logger, and loops forever on an element with a negative size. This reader
walks the bundle itself (OSC 1.0: "#bundle\\0", an 8-byte time tag, then elements of int32 size
+ content, each a message or a nested bundle) so every message that can be read is carried out
and every element that cannot is answered on /beatgan/error.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage

BUNDLE = b"#bundle\x00"
HEADER = len(BUNDLE) + 8      # prefix + time tag, bytes
MAX_DEPTH = 8                 # nested bundles deeper than this are refused, not recursed into


@dataclass(frozen=True)
class Unreadable:
    """A datagram or bundle element that is not OSC; `why` is the one-line answer."""
    why: str


def read_packet(data: bytes) -> list[OscMessage | Unreadable]:
    """Every message of the datagram in order (bundle time tags are not honoured: each message
    is carried out on arrival), with an Unreadable in place of each part that is not OSC."""
    if data.startswith(BUNDLE):
        if len(data) < HEADER:
            return [Unreadable(f"not an OSC packet ({len(data)} bytes): a bundle without its "
                               "8-byte time tag")]
        return list(_bundle(data, 0, ""))
    return [_message(data, f"not an OSC packet ({len(data)} bytes)")]


def _message(data: bytes, where: str) -> OscMessage | Unreadable:
    if not data.startswith(b"/"):
        return Unreadable(f"{where}: neither a message (starts with '/') nor a bundle "
                          "(starts with '#bundle')")
    try:
        return OscMessage(data)
    except Exception as e:  # noqa: BLE001 - python-osc raises ParseError and, on some garbage,
        # struct/Unicode/Index errors; all mean "not OSC", answered by the caller.
        return Unreadable(f"{where}: {type(e).__name__}: {str(e)[:200]}")


def _bundle(data: bytes, depth: int, path: str):
    """Yield the messages of one bundle (data starts with #bundle) and its nested bundles."""
    index, n = HEADER, 0
    while index < len(data):
        n += 1
        name = f"bundle element {path}{n} (at byte {index})"
        if len(data) - index < 4:
            yield Unreadable(f"not an OSC packet: {name}: {len(data) - index} stray byte(s) "
                             "where an element size belongs")
            return
        (size,) = struct.unpack(">i", data[index:index + 4])
        index += 4
        if size < 0 or size > len(data) - index:
            # The framing is broken: where the next element starts is unknown, so stop here.
            yield Unreadable(f"not an OSC packet: {name}: size {size} does not fit the "
                             f"{len(data) - index} bytes left; the rest of the bundle is not "
                             "read")
            return
        content, index = data[index:index + size], index + size
        if size == 0:
            yield Unreadable(f"{name}: empty element")
        elif content.startswith(BUNDLE):
            if depth + 1 >= MAX_DEPTH:
                yield Unreadable(f"{name}: bundles nested deeper than {MAX_DEPTH}")
            elif len(content) < HEADER:
                yield Unreadable(f"{name}: a bundle without its 8-byte time tag")
            else:
                yield from _bundle(content, depth + 1, f"{path}{n}.")
        else:
            yield _message(content, name)
