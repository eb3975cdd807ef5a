"""Watched-folder writer: loop WAVs appear in a folder atomically, under names a producer scans.

    LoopFolder("~/Music/BeatGAN").write(audio, 44100, 128, bars=1, seed=42)
    -> ~/Music/BeatGAN/beatgan_128bpm_s42_1bar_20250101-120000-123.wav

Each file is written under a hidden temporary name that no DAW browser lists
(".beatgan-<random>.part"), flushed and fsynced, then hard-linked to its final name (which fails
instead of overwriting when the name is taken) and the temporary name removed. A folder watcher
therefore sees either no file or the whole file. Where hard links are not supported (some
network or FAT drives) it falls back to an atomic rename after checking the name is free.

Names are built only from numbers and a checked tag, so nothing in a request can point outside
the folder.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import time
from pathlib import Path

import numpy as np

from .flush import fsync_file
from .spare_files import SPARE_DIR, SpareFiles
from .wavfile import encode_loop_wav

log = logging.getLogger(__name__)

TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
TEMP_PREFIX = ".beatgan-"
TEMP_SUFFIX = ".part"
MAX_TRIES = 10000
# errno values that mean "hard links are not available here", not "the disk is broken"
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
             errno.ENOSYS}


class LoopFolderError(OSError):
    """The loop folder cannot be written (missing rights, disk full, not a folder...)."""

    def __str__(self) -> str:   # one readable line, without OSError's "[Errno 28]" prefix
        return str(self.strerror)


class LoopFolder:
    """A folder that receives finished loop WAVs, one atomic file per write()."""

    def __init__(self, folder: str | os.PathLike, *, subtype: str = "PCM_24",
                 fsync: bool = True, spares: "SpareFiles | None" = None) -> None:
        """folder: created (with parents) on first write if missing; "~" is expanded.
        subtype: "PCM_24" (default), "PCM_16" or "FLOAT".
        fsync: flush the file to disk before it appears (survives a power cut; ~ms on SSDs).
        spares: hidden files kept ready in the folder that write_temp overwrites instead of
        making new ones (bridge/spare_files.py; the daemon's), or None.
        """
        self.folder = Path(folder).expanduser()
        self.subtype = subtype
        self.fsync = fsync
        self.spares = spares

    def file_name(self, tempo_bpm: float, bars: int, seed: int, tag: str | None = None,
                  when: float | None = None, counter: int = 0) -> str:
        """beatgan[_tag]_128bpm_s42_1bar_20250101-120000-123[-2].wav"""
        tempo = float(tempo_bpm)
        if not np.isfinite(tempo) or tempo <= 0:
            raise ValueError(f"tempo_bpm must be a positive number, got {tempo_bpm!r}")
        bars = _whole("bars", bars, 1)
        seed = _whole("seed", seed, 0)
        if tag is not None and not TAG_RE.match(tag):
            raise ValueError(f"tag must be 1-32 letters, digits, '-' or '_' (starting with a "
                             f"letter or digit), got {tag!r}")
        when = time.time() if when is None else when
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        stamp += f"-{int(when * 1000) % 1000:03d}"
        tempo_txt = f"{tempo:.2f}".rstrip("0").rstrip(".")
        parts = ["beatgan", *([tag] if tag else []), f"{tempo_txt}bpm", f"s{seed}", f"{bars}bar", stamp + (f"-{counter + 1}" if counter else "")]
        return "_".join(parts) + ".wav"

    def write(self, audio: np.ndarray, rate: int, tempo_bpm: float, bars: int, seed: int,
              beats_per_bar: int = 4, tag: str | None = None, *,
              subtype: str | None = None) -> Path:
        """Write one loop; returns its final path. Raises ValueError for bad arguments (nothing
        written) and LoopFolderError when the folder cannot take it (nothing left behind).
        subtype: this file's sample format, overriding the folder's ("PCM_24", "FLOAT"...)."""
        self.file_name(tempo_bpm, bars, seed, tag)          # validates before any disk work
        beats = int(bars) * _whole("beats_per_bar", beats_per_bar, 1)
        header, data = encode_loop_wav(audio, rate, tempo_bpm, beats, subtype or self.subtype)
        return self.publish_loop(self.write_temp((header, data)), tempo_bpm, bars, seed, tag)

    def write_temp(self, chunks, *, sync: bool = True) -> Path:
        """Write the byte strings `chunks` (a sequence) one after another to a new hidden
        temporary file in the folder (or over a spare file, when the folder has spares),
        flushed (and fsynced); returns its path, for publish_loop or publish_as.
        sync=False leaves the fsync to a later sync_temp, so that several files' fsyncs can
        overlap (each waits on the disk, not on the CPU).
        Raises LoopFolderError and leaves nothing behind when the folder cannot take it.
        Safe to call from several threads at once (every call makes its own name)."""
        folder = self._ensure_folder()
        size = sum(memoryview(c).nbytes for c in chunks) if self.spares is not None else 0
        fd, spare = self._open_spare(size)
        tmp = spare or folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        if spare is None:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_BINARY", 0), 0o644)
            except OSError as e:
                raise self._error("cannot create a file in", e) from e
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                if spare is not None:
                    f.truncate(size)
                f.flush()
                if self.fsync and sync:
                    os.fsync(f.fileno())
        except OSError as e:
            self.discard(tmp)
            raise self._error("cannot write to", e) from e
        return tmp

    def _open_spare(self, size: int) -> tuple[int, Path | None]:
        """(fd, path) of a spare file of at least `size` bytes opened for writing over from its
        first byte (not truncated: its pages and blocks are what makes it cheap), or (-1,
        None): no spares, none left, or the one taken is gone (a drive mounted over the folder)
        and the file is written anew."""
        spare = self.spares.take(size) if self.spares is not None else None
        if spare is None:
            return -1, None
        try:
            return os.open(spare, os.O_WRONLY | getattr(os, "O_BINARY", 0)), spare
        except OSError:
            self.discard(spare)   # and write a new file, which reports what is wrong, if any
            return -1, None

    def sync_temp(self, tmp: Path) -> None:
        """fsync a file written by write_temp(sync=False) (nothing when the folder does not
        fsync). Raises LoopFolderError; the file stays, for the caller to discard."""
        if not self.fsync:
            return
        try:
            fsync_file(tmp)
        except OSError as e:
            raise self._error("cannot write to", e) from e

    def publish_loop(self, tmp: Path, tempo_bpm: float, bars: int, seed: int,
                     tag: str | None = None, when: float | None = None) -> Path:
        """Give a temporary file from write_temp its loop name (the first free one: `-2`, `-3`
        ... within one millisecond) and return it; the temporary name is gone afterwards,
        whether or not this succeeded. when: the time stamp in the name (default: now)."""
        try:
            folder = _home(tmp)
            when = time.time() if when is None else when
            for counter in range(MAX_TRIES):
                final = folder / self.file_name(tempo_bpm, bars, seed, tag, when, counter)
                if final.parent != folder:   # belt and braces: names never hold a separator
                    raise ValueError(f"{final} is outside {folder}")
                if self._publish(tmp, final):
                    return final
            raise LoopFolderError(errno.EEXIST, f"no free file name in {folder} after "
                                  f"{MAX_TRIES} tries")
        finally:
            self.discard(tmp)

    def publish_as(self, tmp: Path, final: Path) -> Path:
        """Give a temporary file from write_temp the name `final` in the same folder (a stem or
        MIDI file next to its loop), never over an existing file; the temporary name is gone
        afterwards, whether or not this succeeded."""
        try:
            if final.parent != _home(tmp):
                raise ValueError(f"{final} is outside {_home(tmp)}")
            if not self._publish(tmp, final):
                raise LoopFolderError(errno.EEXIST, f"{final} exists already")
            return final
        finally:
            self.discard(tmp)

    def discard(self, tmp: Path) -> None:
        """Remove a temporary file (one already published by rename is simply not there)."""
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass  # published by rename: nothing to clean
        except OSError as e:  # hidden and ignored by DAWs, but say so: it takes disk space
            log.warning("could not remove the temporary file %s: %s", tmp, e)

    def _publish(self, tmp: Path, final: Path) -> bool:
        """Make tmp visible as final without ever replacing a file; False if final is taken."""
        try:
            os.link(tmp, final)
            return True
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise self._error("cannot publish a file in", e) from e
        # No hard links on this file system: rename is atomic too, but replaces silently, so
        # check first (a concurrent writer in the same millisecond is the only race left).
        if final.exists():
            return False
        try:
            os.rename(tmp, final)
        except OSError as e:
            raise self._error("cannot publish a file in", e) from e
        return True

    def _ensure_folder(self) -> Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError as e:
            raise LoopFolderError(errno.ENOTDIR, f"loop folder {self.folder} exists and is not a "
                                  "folder") from e
        except OSError as e:
            raise self._error("cannot create the loop folder", e) from e
        return self.folder.resolve()

    def _error(self, what: str, e: OSError) -> LoopFolderError:
        reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                  errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
                  errno.EFBIG: "the file is too large for this file system or limit"}.get(
                      e.errno, e.strerror or str(e))
        where = self.folder if "folder" in what else f"loop folder {self.folder}"
        return LoopFolderError(e.errno or errno.EIO, f"{what} {where}: {reason}")


def _home(tmp: Path) -> Path:
    """The loop folder a temporary file belongs to: its own folder, or, for a spare file, the
    one above its hidden spares folder."""
    return tmp.parent.parent if tmp.parent.name == SPARE_DIR else tmp.parent


def _whole(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) \
            or value != int(value) or value < lo:
        raise ValueError(f"{name} must be a whole number >= {lo}, got {value!r}")
    return int(value)
