"""The OSC address space and its routing: datagram bytes in, typed request (or error reply) out.

No sockets here: the transport (osc_server.py) hands in bytes and a `send(address, *args)` for
the sender, so this module is tested by feeding it bytes. Keep ROUTES stable: it is the public
API documented in docs/osc.md.
"""
from __future__ import annotations

import logging
from typing import Callable

from .osc_packet import Unreadable, read_packet
from .requests import (Generate, Midi, Mode, Morph, Origin, Ping, Play, Request, Slot, Status,
                       Stems, Stop, Tempo, Truncation, Variation)

log = logging.getLogger("beatgan.bridge")

ROUTES: dict[str, type[Request]] = {
    "/beatgan/generate": Generate,    # [i seed] [f bpm] [i bars]          -> /beatgan/done
    "/beatgan/variation": Variation,  # i seed f amount [f bpm] [i bars] [i variant] -> done
    "/beatgan/morph": Morph,          # i seed_a i seed_b f t [f bpm] [i bars]       -> done
    "/beatgan/tempo": Tempo,          # f bpm (0 = forget)                  -> /beatgan/tempo
    "/tempo/raw": Tempo,              # Reaper's tempo feedback, f bpm      (no reply)
    "/beatgan/mode": Mode,            # s beats|repitch|stretch             -> /beatgan/mode
    "/beatgan/truncation": Truncation,  # f psi 0.05..2 (0 = model default)  -> /beatgan/truncation
    "/beatgan/stems": Stems,          # i 0|1: one WAV per voice (drum machine) -> /beatgan/stems
    "/beatgan/midi": Midi,            # i 0|1: the pattern as a .mid (drum machine) -> /beatgan/midi
    "/beatgan/play": Play,            #                                     -> /beatgan/playing 1
    "/beatgan/stop": Stop,            #                                     -> /beatgan/playing 0
    "/beatgan/slot": Slot,            # i slot [i seed]                     -> /beatgan/slot
    "/beatgan/ping": Ping,            # [i token]                           -> /beatgan/pong
    "/beatgan/status": Status,        #                                     -> /beatgan/status
}

Send = Callable[..., None]


class OscApi:
    """Parses datagrams, routes each message to `handle(request, origin)`, answers errors."""

    def __init__(self, handle: Callable[[Request, Origin], None]):
        self.handle = handle
        self.bad_packets = 0

    def handle_datagram(self, data: bytes, send: Send | None, who: str, received_s: float) -> None:
        # Each part is answered on its own: the messages that can be read are carried out, and
        # each datagram or bundle element that cannot gets one /beatgan/error.
        for part in read_packet(data):
            if isinstance(part, Unreadable):
                self.bad_packets += 1
                Origin("", who, received_s, send).error(part.why)
            else:
                self.handle_message(part.address, part.params, send, who, received_s)

    def handle_message(self, address: str, args, send: Send | None, who: str,
                       received_s: float) -> None:
        origin = Origin(address, who, received_s, send)
        cls = ROUTES.get(address)
        if cls is None:
            origin.error("unknown address; see docs/osc.md (try /beatgan/ping)")
            return
        try:
            request = cls.from_osc(args)
        except (TypeError, ValueError) as e:
            origin.error(str(e))
            return
        try:
            self.handle(request, origin)
        except Exception as e:  # noqa: BLE001 - the daemon never dies of a message
            log.exception("%s %s failed", who, address)
            origin.error(f"internal error ({type(e).__name__}: {e})")
