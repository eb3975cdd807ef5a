"""Numba where it can be used: the one place that decides whether BeatGAN's few compiled loops
run compiled (`bridge/pcm_pack.py`, `bridge/retime.py`).

Numba is a dependency everywhere but on Intel Macs (pyproject.toml). Without it, or with
BEATGAN_NO_JIT=1 in the environment (to compare the two, e.g. bench/latency.py in one shell and
then the other), each compiled loop's NumPy twin runs instead; the tests hold the two to the
same numbers. A kernel is compiled on its first call (under a second each; the daemon's warm-up
makes every one) and kept in __pycache__, where a later process finds it.
"""
from __future__ import annotations

import os

_OFF = None                          # why the compiled loops do not run, or None
try:
    if os.environ.get("BEATGAN_NO_JIT", "") not in ("", "0"):
        raise ImportError("BEATGAN_NO_JIT set")
    import numba
except ImportError as e:
    numba = None
    _OFF = str(e) if "BEATGAN_NO_JIT" in str(e) else "numba not installed"


def jit_in_use() -> bool:
    """Whether the compiled loops run (Numba importable, BEATGAN_NO_JIT unset)."""
    return numba is not None


def jit_status() -> str:
    """One line for a report: the compiled loops on (with Numba's version), or why not."""
    if numba is not None:
        return f"compiled loops on (numba {numba.__version__})"
    return f"off, NumPy twins ({_OFF})"


def compiled(fn, **options):
    """fn compiled by Numba (nopython; options as numba.njit takes them), or None without it."""
    return numba.njit(**options)(fn) if numba is not None else None
