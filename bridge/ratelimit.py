"""Log lines that a flood would repeat thousands of times, rate-limited per kind.

    LIMITER.log(logging.WARNING, "queue-full refusals", "%s -> error: %s", who, why)

The first BURST lines of a kind in a window are logged as they come; the rest are counted and
reported as one line when the window ends ("... 1,917 more queue-full refusals in the last
10 s"). A flood of 10,000 refusals then costs a handful of lines instead of 10,000, and you
still see the first ones in full and how many followed. The daemon calls flush_due() once a
second, so the count appears even when the flood has stopped.
"""
from __future__ import annotations

import logging
import threading
import time

WINDOW_S = 10.0   # length of one counting window, s
BURST = 5         # lines of one kind logged in full per window


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, window_s: float = WINDOW_S, burst: int = BURST,
                 clock=time.monotonic):
        self.logger, self.window_s, self.burst, self.clock = logger, window_s, burst, clock
        self._lock = threading.Lock()
        # kind -> [window start, lines seen this window, level]
        self._kinds: dict[str, list] = {}

    def log(self, level: int, kind: str, msg: str, *args) -> None:
        now = self.clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is not None and now - state[0] >= self.window_s:
                self._report(kind, state, now)
                state = None
            if state is None:
                state = self._kinds[kind] = [now, 0, level]
            state[1] += 1
            loud = state[1] <= self.burst
        if loud:
            self.logger.log(level, msg, *args)

    def flush_due(self) -> None:
        """Report every kind whose window has ended (call it periodically)."""
        self._flush(lambda state, now: now - state[0] >= self.window_s)

    def flush(self) -> None:
        """Report every count now (at shutdown)."""
        self._flush(lambda state, now: True)

    def _flush(self, due) -> None:
        now = self.clock()
        with self._lock:
            for kind, state in list(self._kinds.items()):
                if due(state, now):
                    self._report(kind, state, now)

    def _report(self, kind: str, state: list, now: float) -> None:
        # Called with the lock held; the kind's window is over.
        del self._kinds[kind]
        more = state[1] - self.burst
        if more > 0:
            span = min(now - state[0], self.window_s) if now > state[0] else 0.0
            self.logger.log(state[2], "... %s more %s in the last %.0f s", f"{more:,}", kind,
                            max(span, 1.0))


LIMITER = RateLimitedLog(logging.getLogger("beatgan.bridge"))
