"""When a loop's files reach the disk: before `/beatgan/done`, just after it, or when the OS likes.

    FLUSH_MODES                          # ("after", "before", "off"), serve's `flush` setting
    fsync_file(path)                     # one file to disk (raises OSError)
    flusher = Flusher()                  # flush = "after": the worker hands over what it wrote
    flusher.flush([loop, *stems, mid])   # returns at once; fsyncs on SYNC_POOL, errors logged
    flusher.wait(30.0)                   # at shutdown: everything handed over is on disk

Every file appears whole whatever the mode (written under a hidden name, then linked to its
name), so a DAW never reads half a loop. The mode only decides when the file is also safe from
a power cut:

- "after" (serve's default): the reply goes out as soon as the files are in place, and they are
  fsynced right after it, all at once. On this project's 2-core VM disk that takes 4-5 ms off
  every request with stems (bench/latency.py); a power cut in those milliseconds can leave a
  loop that was announced empty, and every loop can be made again from its seed.
- "before": every file is fsynced before it is named and before the reply; `/beatgan/done`
  means "on disk" (`beatgan generate` always works this way).
- "off": the OS writes the files back in its own time (up to ~30 s on Linux).
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from .ratelimit import LIMITER

FLUSH_MODES = ("after", "before", "off")
FLUSH_WORDS = {"after": "right after each reply", "before": "before each reply",
               "off": "when the OS likes"}   # the daemon's start-up summary
# fsync waits on the disk, not on the CPU or the GIL: a thread per file in flight lets a loop's
# files flush together (on this project's virtual disk 11 fsyncs at once took ~5 ms, one after
# another ~44 ms: the disk coalesces them).
SYNC_THREADS = 16       # at most this many fsyncs at once (a pool thread each, made as needed)
SYNC_POOL = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="beatgan-fsync")



def fsync_file(path: str | os.PathLike) -> None:
    """Flush one file's data and size to disk. Raises OSError."""
    # Opened for writing: Windows flushes only a handle with write access.
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Flusher:
    """fsyncs files that are already in place, on SYNC_POOL, without making anyone wait; a
    failure is logged (the file stays where it is: it was announced, and is whole for every
    program that reads it, only not yet safe from a power cut)."""

    def __init__(self, pool: ThreadPoolExecutor = SYNC_POOL):
        self._pool = pool
        self._lock = threading.Lock()
        self._pending: set = set()
        self.failed = 0                     # files whose fsync failed so far

    def flush(self, paths, then=None) -> None:
        """Start fsyncing every file in `paths`; returns at once. then(failed), when given, is
        called (on a pool thread) once all of them are done, with how many failed."""
        paths = [Path(p) for p in paths]
        left = [len(paths), 0]                     # files still in flight, failures

        def one_done(job) -> None:
            with self._lock:
                self._pending.discard(job)
                left[0] -= 1
                left[1] += job.exception() is not None or job.result() is False
                last = left[0] == 0
            if last and then is not None:
                then(left[1])

        for path in paths:
            job = self._pool.submit(self._one, path)
            with self._lock:
                self._pending.add(job)
            job.add_done_callback(one_done)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every file handed over so far is flushed (or failed); False when some
        were still in flight after `timeout` seconds."""
        with self._lock:
            jobs = list(self._pending)
        return not wait(jobs, timeout).not_done

    def _one(self, path: Path) -> bool:
        """fsync one file; False (and logged) when that failed."""
        try:
            fsync_file(path)
        except FileNotFoundError:
            pass  # moved or deleted since it was announced (a DAW took it): nothing to keep
        except OSError as e:
            with self._lock:
                self.failed += 1
            # A failing disk fails every file of every loop: rate-limited like other floods.
            LIMITER.log(logging.ERROR, "failed flushes", "could not flush %s to disk (%s): the "
                        "file is in place and whole, but a power cut could lose it", path,
                        e.strerror or e)
            return False
        return True
