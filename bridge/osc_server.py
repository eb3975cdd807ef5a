"""The OSC transport: one UDP socket, one receive thread, an allow-list, replies on a port.

Routing lives in osc_api.py; this module only moves bytes. Replies go to the sender's host at
`reply_port` (or to the sender's own port when reply_port is 0), from the listening socket.
"""
from __future__ import annotations

import errno
import logging
import socket
import threading
import time

from pythonosc.osc_message_builder import OscMessageBuilder

from .osc_api import OscApi
from .ratelimit import LIMITER

log = logging.getLogger("beatgan.bridge")

MAX_DATAGRAM = 65535
RECV_BUFFER = 4 * 1024 * 1024  # bytes; absorbs bursts while a reply is being sent


def encode(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, bool):
            b.add_arg(int(a), "i")
        elif isinstance(a, int):
            b.add_arg(a, "i" if -2**31 <= a < 2**31 else "h")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


def bind_hint(e: OSError, host: str, port: int) -> str:
    """What to do about a failed bind: each cause has its own fix."""
    if isinstance(e, socket.gaierror):
        return (f"{host!r} is not an IP address or a known host name; use --host 127.0.0.1 "
                "(this computer only) or --host 0.0.0.0 (your LAN)")
    if e.errno == errno.EADDRINUSE:
        return (f"another program holds UDP port {port}: is another beatgan serve running? "
                "stop it or pick another --osc-port")
    if e.errno == errno.EADDRNOTAVAIL:
        return (f"{host} is not an address of this computer; use --host 127.0.0.1 (this "
                "computer only) or --host 0.0.0.0 (your LAN)")
    if e.errno in (errno.EACCES, errno.EPERM):
        return (f"port {port} needs administrator rights or is blocked; pick a port above 1024 "
                "with --osc-port")
    return "check --host and --osc-port"


class OscServer:
    def __init__(self, api: OscApi | None, host: str = "127.0.0.1", port: int = 14700,
                 reply_port: int = 14701, allow: tuple[str, ...] = ()):
        self.api, self.reply_port = api, reply_port
        self.allow = frozenset(allow)
        self.refused: dict[str, int] = {}   # host -> datagrams dropped by the allow-list
        self.received = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        except OSError as e:  # not fatal: the kernel default buffer still works, only smaller
            log.debug("could not enlarge the OSC receive buffer: %s", e)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise OSError(f"cannot listen for OSC on {host}:{port} ({e.strerror or e}); "
                          f"{bind_hint(e, host, port)}") from None
        self.sock.settimeout(0.25)  # so close() is noticed without a wake-up packet
        self.host, self.port = self.sock.getsockname()[:2]
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "OscServer":
        self._thread = threading.Thread(target=self._loop, name="beatgan-osc", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._closing.is_set():
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM)
            except socket.timeout:
                continue
            except (ConnectionResetError, ConnectionRefusedError):
                continue  # an ICMP "port unreachable" for an earlier reply; nothing was received
            except OSError as e:
                if self._closing.is_set():
                    return
                log.error("OSC receive failed (%s); still listening", e)
                time.sleep(0.05)  # a persistent socket error must not spin a core
                continue
            self._dispatch(data, peer, time.perf_counter())

    def _dispatch(self, data: bytes, peer, received_s: float) -> None:
        self.received += 1
        host, port = peer[0], peer[1]
        if self.allow and host not in self.allow:
            self._refuse(host)
            return
        try:
            self.api.handle_datagram(data, self._sender((host, port)), f"osc {host}:{port}",
                                     received_s)
        except Exception:  # noqa: BLE001 - OscApi answers its own errors; this is a bug
            log.exception("OSC datagram from %s:%d crashed the router", host, port)

    def _refuse(self, host: str) -> None:
        n = self.refused.get(host, 0) + 1
        self.refused[host] = n
        LIMITER.log(logging.WARNING, f"datagrams from {host} dropped by the allow-list",
                    "dropped %d OSC datagram(s) from %s: not in the allow-list (%s)", n, host,
                    ", ".join(sorted(self.allow)))

    def _sender(self, peer: tuple[str, int]):
        dest = (peer[0], self.reply_port or peer[1])

        def send(address: str, *args) -> None:
            self.send_to(dest, address, *args)
        return send

    def send_to(self, dest: tuple[str, int], address: str, *args) -> None:
        try:
            self.sock.sendto(encode(address, *args), dest)
        except OSError as e:
            # The request was carried out; only its answer could not be delivered.
            LIMITER.log(logging.WARNING, f"undelivered replies to {dest[0]}:{dest[1]}",
                        "could not send %s to %s:%d (%s)", address, dest[0], dest[1], e)

    def stop(self) -> None:
        """Stop receiving; the socket stays open so queued requests can still be answered."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def drain(self, limit: int = 10_000) -> int:
        """Answer the datagrams waiting in the socket buffer (after stop(), at shutdown), so
        a request that reached us is never left without a reply. Returns how many."""
        self.sock.setblocking(False)
        n = 0
        while n < limit:
            n += 1
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break  # empty: everything received has been answered
            except (ConnectionResetError, ConnectionRefusedError):
                continue  # an ICMP note about an earlier reply; more datagrams may follow
            except OSError:
                break  # the socket is unusable: nothing more can be read or answered
            self._dispatch(data, peer, time.perf_counter())
        return n

    def close(self) -> None:
        self.stop()
        self.sock.close()
