"""Watched-folder writer: atomic appearance, names, confinement, and real write failures."""
from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from beatgan.bridge import loopfolder as lf_mod
from beatgan.bridge.loopfolder import LoopFolder, LoopFolderError
from beatgan.bridge.wavfile import encode_loop_wav

NAME_RE = re.compile(r"^beatgan_128bpm_s42_1bar_\d{8}-\d{6}-\d{3}(-\d+)?\.wav$")


def bar_audio(tempo: float = 128.0, rate: int = 44100, bars: int = 1) -> np.ndarray:
    n = round(bars * 4 * 60 / tempo * rate)
    t = np.arange(n) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * 110 * t)] * 2).astype(np.float32)


def visible(folder) -> list[str]:
    return sorted(os.listdir(folder))


# ---- names ----

def test_file_name_carries_tempo_seed_bars_and_time(tmp_path):
    path = LoopFolder(tmp_path).write(bar_audio(), 44100, 128, bars=1, seed=42)
    assert NAME_RE.match(path.name), path.name
    assert path.parent == tmp_path.resolve()
    data, rate = sf.read(path)
    assert rate == 44100 and data.shape == (82688, 2)


def test_subtype_per_file_overrides_the_folders(tmp_path):
    folder = LoopFolder(tmp_path)
    assert sf.info(folder.write(bar_audio(), 44100, 128, 1, 1)).subtype == "PCM_24"
    assert sf.info(folder.write(bar_audio(), 44100, 128, 1, 2, subtype="FLOAT")).subtype == "FLOAT"


def test_fractional_tempo_tag_and_bars_in_the_name(tmp_path):
    path = LoopFolder(tmp_path).write(bar_audio(97.3, bars=4), 44100, 97.3, bars=4, seed=7,
                                      tag="morph")
    assert re.match(r"^beatgan_morph_97\.3bpm_s7_4bar_\d{8}-\d{6}-\d{3}\.wav$", path.name)


def test_names_are_unique_within_one_millisecond(tmp_path, monkeypatch):
    frozen = 1_750_000_000.123
    monkeypatch.setattr(lf_mod.time, "time", lambda: frozen)
    folder = LoopFolder(tmp_path, fsync=False)
    paths = [folder.write(bar_audio(), 44100, 128, 1, 42) for _ in range(25)]
    names = [p.name for p in paths]
    assert len(set(names)) == 25 and all(NAME_RE.match(n) for n in names)
    assert visible(tmp_path) == sorted(names)      # nothing overwritten, no temp files left


def test_two_threads_writing_at_once_never_overwrite(tmp_path):
    folder = LoopFolder(tmp_path, fsync=False)
    out: list = []

    def worker():
        for _ in range(40):
            out.append(folder.write(bar_audio(), 44100, 128, 1, 42))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in out}) == 80 and len(visible(tmp_path)) == 80


# ---- confinement and bad input ----

@pytest.mark.parametrize("tag", ["../escape", "a/b", "..", "", ".hidden", "x" * 33, "a b",
                                 "C:\\evil", "ünï"])
def test_a_tag_cannot_leave_the_folder(tmp_path, tag):
    inner = tmp_path / "loops"
    with pytest.raises(ValueError, match="tag"):
        LoopFolder(inner).write(bar_audio(), 44100, 128, 1, 42, tag=tag)
    assert visible(tmp_path) == []                   # not even the folder was made


@pytest.mark.parametrize("kwargs,match", [
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(bars=0), "bars"),
    (dict(tempo_bpm=float("nan")), "tempo"), (dict(beats_per_bar=0), "beats_per_bar"),
])
def test_bad_arguments_write_nothing(tmp_path, kwargs, match):
    args = dict(audio=bar_audio(), rate=44100, tempo_bpm=128, bars=1, seed=42)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LoopFolder(tmp_path / "loops").write(**args)
    assert visible(tmp_path) == []


def test_audio_that_does_not_match_the_tempo_is_refused(tmp_path):
    with pytest.raises(ValueError, match="wrong tempo"):
        LoopFolder(tmp_path).write(bar_audio(128), 44100, 120, 1, 42)
    assert visible(tmp_path) == []


# ---- the folder ----

def test_missing_folder_is_created(tmp_path):
    folder = tmp_path / "a" / "b" / "loops"
    path = LoopFolder(folder).write(bar_audio(), 44100, 128, 1, 42)
    assert path.parent == folder.resolve() and path.is_file()


def test_a_file_where_the_folder_should_be_is_a_clear_error(tmp_path):
    (tmp_path / "loops").write_text("not a folder")
    with pytest.raises(LoopFolderError, match="not a folder"):
        LoopFolder(tmp_path / "loops").write(bar_audio(), 44100, 128, 1, 42)


def test_loop_folder_error_is_an_oserror():
    assert issubclass(LoopFolderError, OSError)


# A write failure is shown for real where this machine allows it: a tiny tmpfs (disk full) or a
# read-only one, mounted in a private mount namespace (`unshare -rm`, no root needed when user
# namespaces are on, as on Debian). The checks run inside that namespace and report as JSON.
_IN_NAMESPACE = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from beatgan.bridge.loopfolder import LoopFolder, LoopFolderError
    mnt, sub = sys.argv[1], sys.argv[2]
    folder = os.path.join(mnt, sub) if sub else mnt
    n = round(4 * 60 / 128 * 44100)
    audio = np.zeros((2, n), np.float32)
    try:
        LoopFolder(folder).write(audio, 44100, 128, 1, 42)
        out = {"raised": None}
    except LoopFolderError as e:
        out = {"raised": "LoopFolderError", "errno": e.errno, "message": str(e),
               "isinstance_oserror": isinstance(e, OSError)}
    out["left"] = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
    print(json.dumps(out))
""")


def _run_on_tmpfs(tmp_path, options: str, sub: str = "") -> dict | None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("unshare") is None:
        return None
    cmd = ["unshare", "-rm", "sh", "-c",
           'mount -t tmpfs -o "$0" tmpfs "$1" || exit 97; exec "$2" -c "$3" "$1" "$4"',
           options, str(mnt), sys.executable, _IN_NAMESPACE, sub]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode in (1, 97) and not r.stdout.strip():
        return None           # no user namespaces / mounts here: the callers fall back
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_disk_full_is_a_clear_error_and_leaves_no_file(tmp_path):
    # 64 KiB tmpfs, a ~500 KB loop: the kernel says ENOSPC half way through the data.
    out = _run_on_tmpfs(tmp_path, "size=64k")
    if out is None:
        # Fallback where mounts are not allowed: a file size limit makes the kernel fail the
        # write (EFBIG instead of ENOSPC) just as a full disk would, part way through.
        script = _IN_NAMESPACE
        r = subprocess.run(
            [sys.executable, "-c", "import resource, sys; "
             "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
             "exec(compile(sys.argv[3], 'ns', 'exec'))", str(tmp_path), "loops", script],
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["errno"] == errno.EFBIG
    else:
        assert out["errno"] == errno.ENOSPC and "disk is full" in out["message"]
    assert out["raised"] == "LoopFolderError" and out["isinstance_oserror"]
    assert out["left"] == []                       # no partial .wav, no temporary file


def test_disk_full_mocked_enospc_leaves_no_file(tmp_path, monkeypatch):
    real_fdopen = os.fdopen

    class FillsUp(io.RawIOBase):
        """Takes 1000 bytes, then the disk is full."""

        def __init__(self, f):
            self.f, self.left = f, 1000

        def write(self, b):
            if len(b) > self.left:
                self.f.write(bytes(b[: self.left]))
                self.f.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= len(b)
            return self.f.write(b)

        def flush(self):
            self.f.flush()

        def fileno(self):
            return self.f.fileno()

        def close(self):
            self.f.close()

    monkeypatch.setattr(lf_mod.os, "fdopen", lambda fd, mode: FillsUp(real_fdopen(fd, mode)))
    with pytest.raises(LoopFolderError, match="disk is full") as e:
        LoopFolder(tmp_path).write(bar_audio(), 44100, 128, 1, 42)
    assert e.value.errno == errno.ENOSPC
    assert visible(tmp_path) == []


def _refuse_writes_without_namespaces(tmp_path, monkeypatch, folder):
    """Where no read-only mount can be made: file permissions (real) when not root, else a
    mocked EACCES from the kernel (permissions do not stop root)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(lf_mod.os, "open", denied)
    monkeypatch.setattr(lf_mod.Path, "mkdir", denied)
    return lambda: None


def test_read_only_folder_is_a_clear_error(tmp_path, monkeypatch):
    out = _run_on_tmpfs(tmp_path, "ro,size=64k")
    if out is not None:
        assert out["raised"] == "LoopFolderError" and out["errno"] == errno.EROFS
        assert str(out["message"]).startswith("cannot create a file in loop folder")
        assert "read-only" in out["message"] and out["left"] == []
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    undo = _refuse_writes_without_namespaces(tmp_path, monkeypatch, ro)
    try:
        with pytest.raises(LoopFolderError, match="permission denied"):
            LoopFolder(ro).write(bar_audio(), 44100, 128, 1, 42)
        assert visible(ro) == []
    finally:
        undo()


def test_missing_subfolder_on_a_read_only_disk_is_a_clear_error(tmp_path, monkeypatch):
    out = _run_on_tmpfs(tmp_path, "ro,size=64k", sub="loops")
    if out is not None:
        assert out["raised"] == "LoopFolderError" and out["errno"] == errno.EROFS
        assert "cannot create the loop folder" in out["message"]
        return
    parent = tmp_path / "ro"
    parent.mkdir()
    undo = _refuse_writes_without_namespaces(tmp_path, monkeypatch, parent)
    try:
        with pytest.raises(LoopFolderError, match="cannot create the loop folder"):
            LoopFolder(parent / "loops").write(bar_audio(), 44100, 128, 1, 42)
    finally:
        undo()


# ---- atomic appearance under a watcher ----

# A folder watcher like a DAW's browser: it lists the folder as fast as it can and reads every
# newly visible .wav fully, the moment it sees it; a file counts as whole when its RIFF size
# matches its length and libsndfile decodes every frame.
_WATCHER = textwrap.dedent("""
    import io, json, os, struct, sys
    import soundfile as sf
    folder, stop, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seen, bad, listings = set(), [], 0
    while True:
        done = os.path.exists(stop)
        listings += 1
        for name in os.listdir(folder):
            if not name.endswith(".wav") or name in seen:
                continue
            seen.add(name)
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            whole = len(data) >= 12 and data[:4] == b"RIFF" and \\
                struct.unpack("<I", data[4:8])[0] + 8 == len(data)
            if whole:
                try:
                    whole = sf.info(io.BytesIO(data)).frames == frames and \\
                        len(sf.read(io.BytesIO(data))[0]) == frames
                except Exception:
                    whole = False
            if not whole:
                bad.append([name, len(data)])
        if done:
            break
    print(json.dumps({"seen": len(seen), "bad": bad, "listings": listings}))
""")


def _watch_while(folder, frames: int, write_all) -> dict:
    stop = folder.parent / (folder.name + ".stop")
    watcher = subprocess.Popen([sys.executable, "-c", _WATCHER, str(folder), str(stop),
                                str(frames)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)                    # let the watcher start listing first
        write_all()
    finally:
        stop.write_text("")
        out, _ = watcher.communicate(timeout=120)
    return json.loads(out)


def test_a_watcher_never_sees_a_partial_file_in_500_writes(tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    audio = bar_audio(300)                 # short loops: many writes per second
    lf = LoopFolder(folder)

    def write_all():
        for k in range(500):
            lf.write(audio, 44100, 300, 1, k)

    report = _watch_while(folder, audio.shape[1], write_all)
    assert report["bad"] == [] and report["seen"] == 500, report
    assert report["listings"] > 50             # it really was watching during the writes
    names = visible(folder)
    assert len(names) == 500 and all(n.endswith(".wav") for n in names)


def test_the_watcher_does_catch_a_non_atomic_writer(tmp_path):
    # The control: the same watcher against a writer that writes in place, as most code does.
    folder = tmp_path / "loops"
    folder.mkdir()
    audio = bar_audio(300)
    header, data = encode_loop_wav(audio, 44100, 300, 4)

    def write_all():
        for k in range(30):
            with open(folder / f"naive_{k}.wav", "wb") as f:
                f.write(header)
                f.flush()
                for i in range(0, len(data), 65536):
                    f.write(data[i:i + 65536])
                    f.flush()
                    time.sleep(0.002)

    report = _watch_while(folder, audio.shape[1], write_all)
    assert report["bad"], report
