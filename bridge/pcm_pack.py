"""Float frames -> the interleaved little-endian sample bytes of a WAV's data chunk.

    data = pack_frames(x, "PCM_24")      # x: (channels, frames) float; bytearray, frames*ch*3

PCM is scaled by 2**(bits-1), rounded half to even in float32 and clipped to [-1, 1) of full
scale, exactly as NumPy's float32 rint and clip do. Non-finite samples raise ValueError.

Two ways to the same bytes (bridge/jit.py chooses): one compiled pass that reads each sample
once and writes its bytes, a stereo 24-bit bar at 44.1 kHz in 0.03 ms, or the NumPy passes
(scale, round, clip, convert, six byte-plane copies), 0.2-0.3 ms. A loop with its stems is
eleven of them on the daemon's path from request to files. tests/test_pcm_pack.py holds the
two to identical bytes.
"""
from __future__ import annotations

import numpy as np

from .jit import compiled

SUBTYPES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}   # bytes per sample
NOT_FINITE = "audio contains NaN or infinite samples"


def pack_frames(x: np.ndarray, subtype: str, gains: np.ndarray | None = None) -> bytearray:
    """(channels, frames) float -> the data chunk's payload for `subtype` (see the module).

    gains: (C,) to pack C channels of one (1, frames) signal, channel c being gains[c] * x[0]
    as NumPy multiplies them (a stem is its voice, panned), without making those channels
    first."""
    width = SUBTYPES[subtype]
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):      # ints, float16, bools: one kernel for all
        x = x.astype(np.float64)
    if gains is not None:
        g = np.asarray(gains).reshape(-1)
        if x.shape[0] != 1 or g.size < 1:
            raise ValueError(f"gains make channels of one signal: expected (1, frames) audio and "
                             f"at least one gain, got {x.shape} and {g.size}")
        if g.dtype != x.dtype or g.size > 2 or _pack_pcm is None or subtype == "FLOAT":
            x, gains = g[:, None] * x[0], None       # channels made here, packed below
        else:
            with np.errstate(over="ignore"):        # the largest product: any that overflows
                if not np.isfinite(np.max(np.abs(x)) * np.max(np.abs(g))):
                    raise ValueError(NOT_FINITE)
    if gains is None:
        if not np.all(np.isfinite(x)):
            raise ValueError(NOT_FINITE)
        g = np.ones(x.shape[0], x.dtype)             # times 1: exact
    channels, frames = g.size, x.shape[1]
    out = bytearray(frames * channels * width)
    if subtype != "FLOAT" and channels <= 2 and _pack_pcm is not None:
        # Mono and stereo, the files BeatGAN writes; more channels take the NumPy passes.
        # Full scale in the samples' own type: a power of two scales exactly in either, and a
        # float32 product keeps the loop in float32 (twice as fast as through float64).
        full = x.dtype.type(2 ** (8 * width - 1))
        rows = (0, 0) if x.shape[0] == 1 else (0, channels - 1)
        _pack_pcm(x[rows[0]], x[rows[1]], g[0], g[channels - 1], channels, full, width,
                  np.frombuffer(out, np.uint8))
        return out
    _pack_numpy(x, subtype, out)
    return out


def _pack_numpy(x: np.ndarray, subtype: str, out: bytearray) -> None:
    """The NumPy passes, straight into `out`. Channels are scaled contiguously and then
    interleaved with one strided copy per channel (and byte): reading x.T element by element
    costs 5x more. Whole arrays, not blocks: stems may be encoded on two threads, and a loop of
    small NumPy calls would pass the GIL back and forth between them."""
    channels, frames = x.shape
    width = SUBTYPES[subtype]
    dst = np.frombuffer(out, dtype=np.uint8).reshape(frames, channels, width)
    if subtype == "FLOAT":
        dst = dst.view("<f4")[..., 0]                                  # (frames, channels)
        for c in range(channels):
            dst[:, c] = x[c]
        return
    full = float(2 ** (8 * width - 1))
    # float32 holds every 24-bit integer exactly, so scale/round/clip stay in float32 (fast).
    q = np.empty((channels, frames), dtype=np.float32)
    np.multiply(x, full, out=q, casting="unsafe")
    np.rint(q, out=q)
    np.clip(q, -full, full - 1, out=q)
    # A little-endian int32 is the sample's `width` low bytes, low first, then sign bytes.
    b = q.astype("<i4").view(np.uint8).reshape(channels, frames, 4)
    for c in range(channels):
        for j in range(width):
            dst[:, c, j] = b[c, :, j]


def _kernel(a, b, ga, gb, channels, full, width, out):
    """One pass over a mono (a) or stereo (a, b) bar, each row times its gain (ga, gb): scale,
    round to float32 and then to an integer (half to even), clip, and write each sample's
    `width` low bytes, interleaved.
    Unrolled per channel count and width: a loop over a variable number of channels or bytes
    does not vectorise and ran 5x slower (0.14 against 0.03 ms a stereo bar)."""
    lo = np.float32(-full)
    hi = np.float32(full - 1)
    n = a.shape[0]
    if channels == 2 and width == 3:
        for i in range(n):
            _put3(out, 6 * i, _sample(a[i] * ga, full, lo, hi))
            _put3(out, 6 * i + 3, _sample(b[i] * gb, full, lo, hi))
    elif channels == 2:
        for i in range(n):
            _put2(out, 4 * i, _sample(a[i] * ga, full, lo, hi))
            _put2(out, 4 * i + 2, _sample(b[i] * gb, full, lo, hi))
    elif width == 3:
        for i in range(n):
            _put3(out, 3 * i, _sample(a[i] * ga, full, lo, hi))
    else:
        for i in range(n):
            _put2(out, 2 * i, _sample(a[i] * ga, full, lo, hi))


def _bytes3(out, k, s):
    """s's three low bytes at out[k:k + 3], low first (two's complement, so negatives too)."""
    out[k] = s & 255
    out[k + 1] = (s >> 8) & 255
    out[k + 2] = (s >> 16) & 255


def _bytes2(out, k, s):
    out[k] = s & 255
    out[k + 1] = (s >> 8) & 255


def _round(v, full, lo, hi):
    """One sample as NumPy's float32 passes make it: the product rounded to float32 first (for
    a float64 input that can move the last bit), then rint, then clip."""
    q = np.rint(np.float32(v * full))
    if q < lo:
        q = lo
    if q > hi:
        q = hi
    return np.int32(q)


_sample = compiled(_round, inline="always")
_put3 = compiled(_bytes3, inline="always")
_put2 = compiled(_bytes2, inline="always")
_pack_pcm = compiled(_kernel, nogil=True, cache=True)
