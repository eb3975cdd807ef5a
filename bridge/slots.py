"""Seed slots: 12 seeds a producer keeps under 12 MIDI notes, saved in a small JSON file."""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from .requests import SLOTS

log = logging.getLogger(__name__)


class SeedSlots:
    """Slot -> seed (or None when empty). Every change is written through, atomically; a file
    that cannot be written is logged and the slots keep working in memory."""

    def __init__(self, path: Path | None):
        self.path = path
        self._seeds: list[int | None] = [None] * SLOTS
        self._lock = threading.Lock()
        if path is not None and path.exists():
            self._seeds = self._read(path)

    @staticmethod
    def _read(path: Path) -> list[int | None]:
        try:
            data = json.loads(path.read_text())
            seeds = data["seeds"]
            if not (isinstance(seeds, list) and len(seeds) == SLOTS and all(
                    s is None or (isinstance(s, int) and not isinstance(s, bool) and s >= 0)
                    for s in seeds)):
                raise ValueError(f"'seeds' must be a list of {SLOTS} seeds or nulls")
            return list(seeds)
        except (OSError, ValueError, KeyError, TypeError) as e:
            # Not fatal: a damaged slots file must not stop the daemon; it is rewritten on save.
            log.warning("%s: ignoring the seed slots file (%s); starting with empty slots", path, e)
            return [None] * SLOTS

    def get(self, slot: int) -> int | None:
        with self._lock:
            return self._seeds[slot]

    def set(self, slot: int, seed: int) -> None:
        with self._lock:
            self._seeds[slot] = seed
            snapshot = list(self._seeds)
        self._write(snapshot)

    def all(self) -> list[int | None]:
        with self._lock:
            return list(self._seeds)

    def _write(self, seeds: list[int | None]) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"seeds": seeds}) + "\n")
            os.replace(tmp, self.path)
        except OSError as e:
            log.error("%s: could not save seed slots (%s); they are kept in memory only",
                      self.path, e)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # the folder is gone or unwritable, so no temporary file was left there
