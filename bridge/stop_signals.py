"""Stop a long command between two files, not in the middle of one.

    with StopSignals() as stop:
        for job in jobs:
            if stop.requested:
                break
            do(job)

The first SIGINT (Ctrl-C) or SIGTERM only sets `requested`, so the file being written is
finished and published (nothing partial, no hidden .part left behind); a second one raises
KeyboardInterrupt at once, and the writer's own cleanup still removes its temporary file.
"""
from __future__ import annotations

import signal
import sys
import threading

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)


class StopSignals:
    def __init__(self, announce: str = "stopping after the file in progress "
                                       "(press Ctrl-C again to stop at once)"):
        self.announce = announce
        self.signal_name: str | None = None
        self._old: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (Ctrl-C 130, SIGTERM 143)."""
        return 128 + int(getattr(signal, self.signal_name)) if self.signal_name else 0

    def _on_signal(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        print(f"\n{self.signal_name}: {self.announce}", file=sys.stderr, flush=True)

    def __enter__(self) -> "StopSignals":
        # Signal handlers can only be set from the main thread (a test may call main() from
        # another): elsewhere the default behaviour stays.
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._old[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()
