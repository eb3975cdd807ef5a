"""Spare files: hidden files kept ready in the loop folder, so that writing a loop overwrites a
file the OS has already made instead of making a new one.

    spares = SpareFiles(folder)          # the daemon's, one per loop folder
    tmp = spares.take(size)              # a hidden .part of >= size bytes (or None: write anew)
    ...                                  # LoopFolder.write_temp writes it from byte 0, truncates
    spares.hold()                        # a request starts: no spare is made meanwhile
    spares.refill()                      # it is answered: made again once the daemon is idle
    spares.close()                       # at shutdown: the spares are removed

Why: writing a new 530 KB file (a stereo 24-bit bar at 44.1 kHz) makes page-cache pages and
disk blocks for it, and on this project's VM disk that costs 0.2 ms in some minutes and over
1 ms in others; 11 of them (a loop with its stems) took 2-12 ms of system time a request, the
largest share of the latency's spread. Overwriting the same bytes of an existing file of that
size took 1.0-1.9 ms for all 11, in slow minutes too (bench/latency.py, docs/serve.md "Spare
files"). The cost of making a file does not go away: it moves to when the daemon is idle, on a
thread of its own that starts IDLE_S after a reply when no request came meanwhile, and stops
after the file it is making when one comes. (At the lowest priority it made requests sent back
to back up to 1.7x slower: a thread the OS seldom runs held the GIL, or the folder's lock, that
the request was waiting for.)

A spare is made again when it is FRESH_S (20 s) old and the daemon is idle: Linux writes a
file's dirty pages to disk after 30 s, and a spare written back was slower to write over than a
new file (11 of them: 5.7 ms against 2.2 after 45 s; after 25 s 0.9 against 2.3). Replaced
in time, its zeros never reach the disk (a removed file's unwritten pages are dropped), so
keeping spares costs a few ms of CPU every 20 s and no disk writes.

A spare lives in a hidden folder inside the loop folder (".beatgan-spares/.beatgan-spare-
<pid>-<random>.part": the folder a DAW watches sees neither it nor its renewal), holds zeros,
and is taken whole: write_temp writes the loop's bytes from its start and cuts it to their
length, then links it to its name in the loop folder (the same file system) as it does a new
file. Each
holds disk space until taken (the daemon keeps as many as a request writes: about 6 MB with
stems at 44.1 kHz); when the disk is full a spare cannot be made and files are written anew,
which then fails as before. Spares of a daemon that did not exit cleanly are removed by the next
one that opens the folder (on POSIX when their process is gone; elsewhere after a day).
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path

from .ratelimit import LIMITER

log = logging.getLogger(__name__)

SPARE_DIR = ".beatgan-spares"     # the hidden folder in the loop folder that holds them
SPARE_PREFIX = ".beatgan-spare-"   # under LoopFolder's TEMP_PREFIX, so it is hidden the same way
SPARE_SUFFIX = ".part"
MIN_BYTES = 64 * 1024              # smaller files (a .mid) cost little to make: no spare
ROUND_BYTES = 64 * 1024            # spares are made this much larger at a time, bytes
MAX_KEEP = 24                      # most spares kept (a batch of requests may take more)
IDLE_S = 0.02                      # spares are made once no request came for this long, s
FRESH_S = 20.0                     # a spare this old is made again (Linux writes a file's
                                   # pages back after 30 s; then it is slow to write over), s
ORPHAN_AGE_S = 24 * 3600.0         # no pid to ask about (Windows): a spare this old is an orphan
_NAME_RE = re.compile(re.escape(SPARE_PREFIX) + r"(\d+)-[0-9a-f]+" + re.escape(SPARE_SUFFIX) + "$")


class SpareFiles:
    """A pool of hidden zero-filled files in one folder, of one size (the largest recently
    asked for), as many as were asked for between the last two refills (at most MAX_KEEP)."""

    def __init__(self, folder: str | os.PathLike, keep: int = 1):
        """folder: the loop folder; the spares live in its hidden subfolder SPARE_DIR (made
        with the first spare), so the folder a DAW watches sees none of their comings and
        goings."""
        # Resolved like LoopFolder's own temporary files, so that a loop written over a spare
        # is named in the same absolute folder as one written anew (a relative or symlinked
        # --out would otherwise give two spellings of it).
        self.folder = Path(folder).expanduser().resolve() / SPARE_DIR
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._spares: list[tuple[int, Path, float]] = []  # (size, path, made), to take
        self._size = 0                                 # size of the spares to make, bytes
        self._keep = max(1, min(int(keep), MAX_KEEP))
        self._taken = 0                                # takes (and misses) since the last refill
        self._closed = False
        self._held = False
        self._last = 0.0                               # monotonic time of the last hold/refill
        self._asked = self._served = 0                 # refills asked for, and done
        self._thread: threading.Thread | None = None
        self.made = self.hits = self.misses = 0        # for the tests and the bench
        _remove_orphans(self.folder)

    def take(self, size: int) -> Path | None:
        """A spare of at least `size` bytes, now the caller's to write and publish (or
        discard); None when there is none (the caller writes a new file)."""
        if size < MIN_BYTES:
            return None
        with self._lock:
            self._taken += 1
            fits = [s for s in self._spares if s[0] >= size]
            if not fits or self._closed:
                self.misses += 1
                if size > self._size:
                    self._size = -(-size // ROUND_BYTES) * ROUND_BYTES
                return None
            best = min(fits)
            self._spares.remove(best)
            self.hits += 1
            if size < best[0] // 2:           # the loops got much shorter (a faster tempo)
                self._size = -(-size // ROUND_BYTES) * ROUND_BYTES
            return best[1]

    def refill(self) -> None:
        """Make spares again up to what was asked for since the last refill, on the pool's
        own thread (started on first use) once IDLE_S have passed with no hold(); returns at
        once."""
        with self._lock:
            if self._closed or self._size == 0:
                return
            if self._taken:       # as many as the last request (or batch) asked for
                self._keep = max(1, min(self._taken, MAX_KEEP))
            self._taken = 0
            self._asked += 1
            self._held = False
            self._last = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="beatgan-spares",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def hold(self) -> None:
        """A request is being made: a refill that has not started is put off, one that has
        stops after the file it is making (until the next refill())."""
        with self._lock:
            self._held = True
            self._last = time.monotonic()
            self._wake.notify_all()      # a refill waiting for the daemon to be idle gives up

    def ready(self) -> int:
        """How many spares are ready to take."""
        with self._lock:
            return len(self._spares)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until a refill asked for is done (the tests); False on timeout."""
        with self._lock:
            return self._wake.wait_for(lambda: self._served == self._asked or self._closed,
                                      timeout)

    def close(self) -> None:
        """Stop making spares and remove those not taken."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            self._wake.notify_all()
        for spare in spares:
            _unlink(spare[1])
        if self._thread is not None:
            self._thread.join(10.0)   # it removes a spare it was making
        try:
            self.folder.rmdir()       # empty now, unless another daemon's spares are there
        except OSError:
            pass  # not empty, or already gone: either way nothing of ours is left
        if self.hits or self.misses:
            log.info("spare files: %d of %d loop files written over one (%d made)", self.hits,
                     self.hits + self.misses, self.made)

    # ---- the refill thread ----

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wait_for_work()
                if self._closed:
                    self._wake.notify_all()
                    return
                # Only once the daemon has been idle a moment: requests back to back (a flood)
                # leave no time for spares, and making them then would only slow the requests.
                if not self._idle():
                    self._served = self._asked   # put off until the request's own refill()
                    self._wake.notify_all()
                    continue
                size, keep, asked = self._size, self._keep, self._asked
                stale = [s for s in self._spares if s[0] < size or s[0] > 2 * size]
                self._spares = [s for s in self._spares if s not in stale]
                if len(self._spares) > keep:          # stems turned off: fewer files a request
                    stale += self._spares[keep:]
                    self._spares = self._spares[:keep]
                need = keep - len(self._spares)
                now = time.monotonic()
                old = [s for s in self._spares if now - s[2] >= FRESH_S]
            for spare in stale:
                _unlink(spare[1])
            # The missing ones first, then each old one replaced by a new one: a request that
            # comes meanwhile finds as many spares as before.
            for replaced in [None] * max(0, need) + old:
                path = self._make(size)
                if path is None:
                    break
                with self._lock:
                    closed, held = self._closed, self._held
                    if not closed:
                        self._spares.append((size, path, time.monotonic()))
                    gone = not closed and replaced in self._spares
                    if gone:
                        self._spares.remove(replaced)
                if closed:                   # close() already removed the others
                    _unlink(path)
                if gone:
                    _unlink(replaced[1])
                if closed or held:
                    break
            with self._lock:
                self._served = asked        # a refill asked for meanwhile: another round
                self._wake.notify_all()

    def _wait_for_work(self) -> None:
        """Wait (the lock held) for a refill to make, a spare to renew (FRESH_S old, and no
        request being made), or close()."""
        while not self._closed and self._served == self._asked:
            if self._held:
                self._wake.wait()            # until the request's refill()
                continue
            due = [FRESH_S - (time.monotonic() - s[2]) for s in self._spares]
            if due and min(due) <= 0.0:
                return
            self._wake.wait(min(due) if due else None)

    def _idle(self) -> bool:
        """Wait (the lock held) until IDLE_S have passed since the last hold() or refill();
        False when a request is being made meanwhile, or the pool was closed."""
        while not (self._held or self._closed):
            left = IDLE_S - (time.monotonic() - self._last)
            if left <= 0.0:
                return True
            self._wake.wait(left)
        return False

    def _make(self, size: int) -> Path | None:
        """One zero-filled spare of `size` bytes, or None (logged) when the folder cannot take
        it: the disk is full, the folder is gone. Requests then write new files."""
        path = self.folder / f"{SPARE_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{SPARE_SUFFIX}"
        try:
            self.folder.mkdir(exist_ok=True)      # not parents: the loop folder is LoopFolder's
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o644)
        except OSError as e:
            self._cannot_make(e)
            return None
        try:
            with os.fdopen(fd, "wb") as f:
                zeros = memoryview(bytes(min(size, 1 << 20)))
                left = size
                while left > 0:
                    left -= f.write(zeros[:left])
        except OSError as e:
            _unlink(path)
            self._cannot_make(e)
            return None
        self.made += 1
        return path

    def _cannot_make(self, e: OSError) -> None:
        # A full disk fails every spare every time: rate-limited like other floods.
        LIMITER.log(logging.WARNING, "spare files", "cannot make a spare file in %s (%s): "
                    "loops are written as new files", self.folder, e.strerror or e)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass  # already gone: nothing to remove
    except OSError as e:   # hidden, but it holds disk space: say so
        log.warning("could not remove the spare file %s: %s", path, e)


def _remove_orphans(folder: Path) -> None:
    """Remove spares left by a daemon that is no longer running: on POSIX those whose pid is
    gone, elsewhere (no safe way to ask) those older than ORPHAN_AGE_S. Removing a spare that
    is in use costs its daemon nothing but a new file (LoopFolder falls back)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return  # missing or unreadable: the first write reports it clearly, there
    for name in names:
        m = _NAME_RE.match(name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        if not _orphan(folder / name, int(m.group(1))):
            continue
        _unlink(folder / name)


def _orphan(path: Path, pid: int) -> bool:
    if os.name != "posix":
        try:
            return time.time() - path.stat().st_mtime > ORPHAN_AGE_S
        except OSError:
            return False   # gone already
    try:
        os.kill(pid, 0)    # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False       # someone else's running process
    return False
