"""Spare files: loops written over hidden files kept ready are the same bytes as loops written
anew, the pool follows what requests take, and it never loses a loop or leaves files behind."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge.loopfolder import LoopFolder, LoopFolderError
from beatgan.bridge.spare_files import MIN_BYTES, SPARE_DIR, SPARE_PREFIX, SpareFiles
from beatgan.bridge.wavfile import encode_loop_wav


def bar_audio(tempo: float, rate: int = 44100, seed: int = 0) -> np.ndarray:
    n = round(4 * 60 / tempo * rate)
    return (np.random.default_rng(seed).standard_normal((2, n)) * 0.2).astype(np.float32)


def spares_in(folder) -> list[str]:
    """The spares' names, in the loop folder's hidden spares folder."""
    where = os.path.join(folder, SPARE_DIR)
    return sorted(n for n in os.listdir(where) if n.startswith(SPARE_PREFIX)) \
        if os.path.isdir(where) else []


def loops_in(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


@pytest.fixture
def pool(tmp_path):
    p = SpareFiles(tmp_path)
    yield p
    p.close()


def test_a_loop_written_over_a_spare_is_the_loop_written_anew(tmp_path, pool):
    folder = LoopFolder(tmp_path, spares=pool)
    plain = LoopFolder(tmp_path / "plain")
    first = folder.write(bar_audio(128.0), 44100, 128, 1, 1)      # no spare yet: written anew
    assert (pool.hits, pool.misses) == (0, 1)
    pool.refill()
    assert pool.wait_idle() and pool.ready() == 1
    assert len(spares_in(tmp_path)) == 1
    # Slower tempo: the next loop is longer than the spare was made for, so it misses; then a
    # faster one (shorter) goes over a spare and the spare is cut to the loop's length.
    audio = bar_audio(128.0, seed=2)
    second = folder.write(audio, 44100, 128, 1, 2)
    assert (pool.hits, pool.misses) == (1, 1)
    again = plain.write(audio, 44100, 128, 1, 2)
    assert second.read_bytes() == again.read_bytes()               # byte for byte, length too
    y, rate = sf.read(second, dtype="float32", always_2d=True)     # an independent reader
    assert rate == 44100 and y.shape == (audio.shape[1], 2)
    np.testing.assert_allclose(y.T, audio, atol=2.0 ** -22)
    pool.refill()
    assert pool.wait_idle()
    short = bar_audio(174.0, seed=3)
    third = folder.write(short, 44100, 174, 1, 3)
    assert pool.hits == 2
    assert third.read_bytes() == plain.write(short, 44100, 174, 1, 3).read_bytes()
    assert loops_in(tmp_path) == sorted(p.name for p in (first, second, third)) + ["plain"]


def test_a_loop_over_a_spare_and_its_stem_written_anew_share_one_absolute_folder(tmp_path,
                                                                                monkeypatch):
    """A relative, symlinked --out: the loop (over a spare) and a stem (written anew, no spare
    left) are named in the same folder, and both paths are absolute."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    pool = SpareFiles("link")
    try:
        folder = LoopFolder("link", spares=pool)
        folder.write(bar_audio(120.0), 44100, 120, 1, 1)             # learns the size
        pool.refill()
        assert pool.wait_idle() and pool.ready() == 1
        header, data = encode_loop_wav(bar_audio(120.0, seed=4), 44100, 120.0, 4)
        loop_tmp = folder.write_temp((header, data))                 # over the spare
        stem_tmp = folder.write_temp((header, data))                 # none left: anew
        assert pool.hits == 1 and loop_tmp.parent.name == SPARE_DIR
        loop = folder.publish_loop(loop_tmp, 120.0, 1, 2)
        stem = folder.publish_as(stem_tmp, Path(f"{loop.with_suffix('')}_stem0-kick.wav"))
        assert loop.is_absolute() and stem.parent == loop.parent
        assert loop.parent.resolve() == real.resolve()
        visible = [n for n in os.listdir(real) if not n.startswith(".")]
        assert len(visible) == 3 and {loop.name, stem.name} <= set(visible)   # and seed 1's
    finally:
        pool.close()


def test_the_pool_keeps_as_many_as_were_taken_and_follows_the_size(tmp_path, pool):
    for _ in range(5):                            # a loop with four stems: five misses at first
        assert pool.take(300_000) is None
    pool.refill()
    assert pool.wait_idle() and pool.ready() == 5
    sizes = {os.path.getsize(tmp_path / SPARE_DIR / n) for n in spares_in(tmp_path)}
    assert len(sizes) == 1 and 300_000 <= sizes.pop() < 300_000 + 64 * 1024
    taken = [pool.take(300_000) for _ in range(5)]
    assert all(t is not None for t in taken) and pool.take(300_000) is None
    for t in taken:
        t.unlink()                                # published (or discarded) by the caller
    assert pool.take(100) is None and pool.misses == 6   # a small file (a .mid) is no business
    # Longer loops (a slower tempo): the spares are made again at the new size, as many as
    # were asked for since the last refill (5 taken, 2 missed).
    assert pool.take(700_000) is None
    pool.refill()
    assert pool.wait_idle() and pool.ready() == 7
    assert min(os.path.getsize(tmp_path / SPARE_DIR / n) for n in spares_in(tmp_path)) >= 700_000
    # Stems turned off: one file a request, and the pool shrinks to one.
    taken = pool.take(700_000)
    taken.unlink()
    pool.refill()
    assert pool.wait_idle() and pool.ready() == 1 and len(spares_in(tmp_path)) == 1
    assert MIN_BYTES > 20_000                     # a .mid (a few KB) is always written anew


def test_spares_wait_for_the_daemon_to_be_idle_and_a_request_puts_them_off(tmp_path, pool):
    for _ in range(20):
        pool.take(2_000_000)
    pool.refill()                   # a request answered ...
    pool.hold()                     # ... and the next one at once (a flood): nothing is made
    assert pool.wait_idle() and pool.ready() == 0
    pool.refill()                   # answered, and nothing comes for IDLE_S: made now
    assert pool.wait_idle()
    assert pool.ready() == 20
    pool.hold()
    for _ in range(20):
        pool.take(2_000_000)
    with pool._lock:                # a refill asked while a request runs stops after one file
        pool._asked += 1
        pool._keep = 20
        pool._wake.notify()
    assert pool.wait_idle()
    assert pool.ready() <= 1
    pool.refill()
    assert pool.wait_idle() and pool.ready() == 20


def test_spares_are_made_again_before_the_kernel_writes_them_back(tmp_path, monkeypatch):
    from beatgan.bridge import spare_files
    monkeypatch.setattr(spare_files, "FRESH_S", 0.3)
    pool = SpareFiles(tmp_path)
    try:
        for _ in range(3):
            pool.take(200_000)
        pool.refill()
        assert pool.wait_idle() and pool.ready() == 3
        first = set(spares_in(tmp_path))
        deadline = time.monotonic() + 10
        while (set(spares_in(tmp_path)) & first) and time.monotonic() < deadline:
            time.sleep(0.05)                       # idle: renewed one by one, never fewer
            assert pool.ready() >= 3
        assert not set(spares_in(tmp_path)) & first and len(spares_in(tmp_path)) == 3
        pool.hold()                                # a request: no renewal while it is made
        held = set(spares_in(tmp_path))
        time.sleep(0.8)
        assert set(spares_in(tmp_path)) == held
        t = pool.take(200_000)
        assert t is not None and t.name in held
        t.unlink()
        pool.refill()                              # that request wrote one file: one spare
        assert pool.wait_idle() and pool.ready() == 1 and len(spares_in(tmp_path)) == 1
    finally:
        pool.close()
    assert spares_in(tmp_path) == []


def test_close_removes_the_spares_and_says_how_they_were_used(tmp_path, caplog):
    pool = SpareFiles(tmp_path)
    folder = LoopFolder(tmp_path, spares=pool)
    folder.write(bar_audio(120.0), 44100, 120, 1, 1)
    pool.refill()
    assert pool.wait_idle()
    folder.write(bar_audio(120.0), 44100, 120, 1, 2)
    pool.refill()
    assert pool.wait_idle() and spares_in(tmp_path)
    with caplog.at_level(logging.INFO, logger="beatgan.bridge.spare_files"):
        pool.close()
    assert spares_in(tmp_path) == [] and len(loops_in(tmp_path)) == 2
    assert "1 of 2 loop files written over one" in caplog.text
    assert pool.take(600_000) is None              # closed: every file is written anew


def test_spares_of_a_daemon_that_died_are_removed_and_others_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    where = tmp_path / SPARE_DIR
    where.mkdir()
    orphan = where / f"{SPARE_PREFIX}{int(dead.stdout)}-00aa{'.part'}"
    alive = where / f"{SPARE_PREFIX}{os.getppid()}-00bb.part"      # a running process's
    mine = where / f"{SPARE_PREFIX}{os.getpid()}-00cc.part"
    other = where / ".beatgan-0123abcd.part"                          # not a spare: not ours
    for p in (orphan, alive, mine, other):
        p.write_bytes(b"\0" * 10)
    SpareFiles(tmp_path).close()
    left = sorted(p.name for p in where.iterdir())
    if os.name == "posix":
        assert orphan.name not in left
    assert {alive.name, mine.name, other.name} <= set(left)


def test_a_spare_that_vanished_means_a_new_file_not_an_error(tmp_path, pool):
    folder = LoopFolder(tmp_path, spares=pool)
    folder.write(bar_audio(120.0), 44100, 120, 1, 1)
    pool.refill()
    assert pool.wait_idle()
    for n in spares_in(tmp_path):                 # e.g. a drive mounted over the folder
        os.unlink(tmp_path / SPARE_DIR / n)
    path = folder.write(bar_audio(120.0, seed=5), 44100, 120, 1, 2)
    assert pool.hits == 1 and sf.info(str(path)).frames == bar_audio(120.0).shape[1]


def test_a_folder_that_cannot_take_a_spare_is_logged_and_loops_still_fail_clearly(tmp_path,
                                                                                  caplog):
    gone = tmp_path / "gone"
    gone.mkdir()
    pool = SpareFiles(gone)
    folder = LoopFolder(gone, spares=pool)
    folder.write(bar_audio(120.0), 44100, 120, 1, 1)
    gone.rename(tmp_path / "moved")               # the folder went away (an unplugged drive)
    (tmp_path / "gone").write_text("a file where the folder was")
    with caplog.at_level(logging.WARNING):
        pool.refill()
        assert pool.wait_idle()
    assert "cannot make a spare file" in caplog.text and pool.ready() == 0
    with pytest.raises(LoopFolderError, match="not a folder"):
        folder.write(bar_audio(120.0), 44100, 120, 1, 2)
    pool.close()


# ---- in the daemon ----

@pytest.fixture(scope="module")
def dm_model(tmp_path_factory):
    from dm_support import trained_drum_machine
    return trained_drum_machine(tmp_path_factory)


@pytest.mark.parametrize("spares", [True, False])
def test_the_daemon_writes_loops_over_spares_and_removes_them_when_it_stops(dm_model, tmp_path,
                                                                            spares):
    import time

    from serve_support import DaemonProcess
    flags = [] if spares else ["--no-spare-files"]
    d = DaemonProcess(tmp_path / "d", dm_model, "--no-midi", "--no-audio", "--stems", "--midi",
                      *flags).start()
    try:
        with d.client() as c:
            for seed in (1, 2, 3):
                address, args = c.ask("/beatgan/generate", seed, 128.0, 1)
                assert address == "/beatgan/done", args
                wavs = [args[0], *args[6:]]
                deadline = time.monotonic() + 10
                while spares and len(d.spare_files()) < len(wavs) and time.monotonic() < deadline:
                    time.sleep(0.02)          # made between requests, on a low-priority thread
                assert len(d.spare_files()) == (len(wavs) if spares else 0)
                x, _ = sf.read(args[0], always_2d=True)
                total = sum(sf.read(s, always_2d=True)[0] for s in args[6:])
                assert np.abs(total - x).max() < 1e-4           # whole files, the stems' sum
                assert open(args[5], "rb").read(4) == b"MThd"
            assert d.leftovers() == [f for f in d.leftovers() if f.suffix == ".mid"]
    finally:
        assert d.stop() == 0
    assert d.spare_files() == [] and not d.spares_folder_left()
    used = re.search(r"spare files: (\d+) of (\d+) loop files written over one", d.log())
    if spares:
        assert used and int(used.group(1)) == 2 * len(wavs) and int(used.group(2)) == 3 * len(wavs)
    else:
        assert used is None
