"""Ableton Link as a tempo source (optional: `pip install 'beatgan-bridge[link]'`, the aalink package).

aalink needs a running asyncio loop, so the Link session lives on one small thread of its own;
the daemon only reads tempo and beat from it. Link counts as a tempo source only while it has
peers: alone, its tempo is just our own starting value. It also waits SETTLE_S after the first
peer appears: joining a session takes a moment, during which Link still reports our own tempo.
"""
from __future__ import annotations

import asyncio
import threading
import time

SETTLE_S = 1.0


class LinkUnavailable(Exception):
    pass


class LinkClock:
    def __init__(self, start_bpm: float, quantum: float = 4.0):
        self.start_bpm, self.quantum = start_bpm, quantum
        self._link = None
        self._peers_since: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> str:
        try:
            import aalink
        except ImportError as e:
            raise LinkUnavailable(f"aalink is not installed ({e}); pip install 'beatgan-bridge[link]'") \
                from None
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop

            async def make():
                link = aalink.Link(self.start_bpm)
                link.quantum = self.quantum
                link.enabled = True
                return link
            try:
                self._link = loop.run_until_complete(make())
            except Exception as e:  # noqa: BLE001 - handed to open(), which raises it
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="beatgan-link", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        if failure or self._link is None:
            raise LinkUnavailable(f"Ableton Link did not start ({failure[0] if failure else 'timeout'})")
        return "Ableton Link enabled (counts while it has peers)"

    @property
    def peers(self) -> int:
        return int(self._link.num_peers) if self._link is not None else 0

    def _joined(self) -> bool:
        if self._link is None or self._link.num_peers == 0:
            self._peers_since = None
            return False
        now = time.monotonic()
        if self._peers_since is None:
            self._peers_since = now
        return now - self._peers_since >= SETTLE_S

    def tempo_bpm(self) -> float | None:
        return round(float(self._link.tempo), 2) if self._joined() else None

    def beat_position(self) -> float | None:
        return float(self._link.beat) if self._joined() else None

    def close(self) -> None:
        if self._link is not None:
            self._link.enabled = False
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(2.0)
