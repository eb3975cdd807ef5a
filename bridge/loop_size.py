"""How much disk a batch of loops takes, before any is made: pure arithmetic on the WAV format.

`beatgan generate -n 100000` at 8 bars is tens of GB; the command asks first (see
generate_cmd.confirm_size), and this is the figure it asks with.
"""
from __future__ import annotations

from .wavfile import SUBTYPES

HEADER_BYTES = 256  # RIFF/fmt/acid/smpl chunks, rounded up (the exact size depends on chunks)


def loop_bytes(rate: int, channels: int, subtype: str, bars: int, beats_per_bar: int,
               tempo_bpm: float) -> int:
    """Bytes of one loop WAV: frames x channels x bytes per sample, plus the header."""
    frames = round(bars * beats_per_bar * 60.0 / tempo_bpm * rate)
    return frames * channels * SUBTYPES[subtype] + HEADER_BYTES


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as disks are sold and file browsers show them)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000.0
    raise AssertionError("unreachable")
