"""Loop WAV writer: RIFF/WAVE with an `acid` chunk (beats, tempo, loop) and a `smpl` chunk
(loop points), both before `data` because some DAWs only look for them there.

No Python audio library writes `acid` (libsndfile only reads it), so the chunks are packed here
with struct. Layout (all little-endian), in file order:

    RIFF <size> WAVE
    fmt   PCM (tag 1) for 16/24-bit, IEEE float (tag 3) for float; WAVE_FORMAT_EXTENSIBLE
          (tag 0xFFFE) when there are more than 2 channels
    fact  sample frames (float files only; the spec requires it for non-PCM)
    acid  flags u32, root note u16, 0x8000 u16, 0.0 f32, beats u32, meter denominator u16,
          meter numerator u16, tempo f32  (as libsndfile's wav_read_acid_chunk reads it)
    smpl  9 x u32 header (period in ns, unity note 60, one loop), then one loop: cue id,
          type 0 (forward), start 0, end = last frame (inclusive), fraction 0, play count 0
    data  interleaved frames
"""
from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from beatgan.generator.musical_time import exact_frames

from .pcm_pack import SUBTYPES, pack_frames

ACID_ONE_SHOT = 0x01      # off: a loop
ACID_ROOT_NOTE = 0x02     # root note is set
ACID_STRETCH = 0x04       # the host may time-stretch it to the song tempo
ACID_DISK_BASED = 0x08
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # KSDATAFORMAT_SUBTYPE_*


def write_loop_wav(file: str | os.PathLike | BinaryIO, audio: np.ndarray, rate: int,
                   tempo_bpm: float, beats: int, subtype: str = "PCM_24", *,
                   loop: bool = True, meter: tuple[int, int] = (4, 4)) -> int:
    """Write audio (channels, frames) as a tagged loop WAV; returns the bytes written.

    file: a path or a binary file object opened for writing (written from its current position).
    rate: sample rate in Hz. tempo_bpm, beats: what the acid chunk tells the DAW; for a loop they
        must agree with the length (beats * 60 / tempo_bpm * rate frames, to a frame).
    subtype: "PCM_24" (default), "PCM_16" or "FLOAT". PCM clips to [-1, 1).
    loop: False writes a one-shot (acid one-shot flag, no smpl loop).
    """
    header, data = encode_loop_wav(audio, rate, tempo_bpm, beats, subtype, loop=loop, meter=meter)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            f.write(header)
            f.write(data)
    else:
        file.write(header)
        file.write(data)
    return len(header) + len(data)


def encode_loop_wav(audio: np.ndarray, rate: int, tempo_bpm: float, beats: int,
                    subtype: str = "PCM_24", *, loop: bool = True,
                    meter: tuple[int, int] = (4, 4), gains: np.ndarray | None = None
                    ) -> tuple[bytes, bytearray]:
    """(header, data) bytes of a loop WAV; header holds every chunk up to data's payload.

    gains: (C,) for a file of C channels made of one signal (audio (frames,) or (1, frames)):
    channel c is gains[c] * audio, as NumPy multiplies them (a stem: its voice, panned),
    packed without making the channels first."""
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"audio must be (channels, frames) with at least one frame, got shape "
                         f"{np.shape(audio)}")
    channels, frames = x.shape
    if gains is not None:
        if channels != 1:
            raise ValueError(f"gains make the channels of one signal; audio has {channels}")
        channels = int(np.size(gains))
    if channels > 32:
        raise ValueError(f"audio has {channels} channels; expected (channels, frames) with at "
                         "most 32 channels (was it transposed?)")
    if subtype not in SUBTYPES:
        raise ValueError(f"subtype must be one of {sorted(SUBTYPES)}, got {subtype!r}")
    rate = int(rate)
    if not 1000 <= rate <= 768000:
        raise ValueError(f"rate must be 1000..768000 Hz, got {rate}")
    tempo = float(tempo_bpm)
    if not (math.isfinite(tempo) and 1.0 <= tempo <= 999.0):
        raise ValueError(f"tempo_bpm must be 1..999, got {tempo_bpm!r}")
    if isinstance(beats, bool) or int(beats) != beats or not 1 <= beats <= 65535:
        raise ValueError(f"beats must be a whole number 1..65535, got {beats!r}")
    beats = int(beats)
    if loop:
        exact = exact_frames(beats, tempo, rate)
        if abs(frames - exact) > 1.0 + 1e-6 * exact:
            raise ValueError(f"{frames} frames at {rate} Hz are {beats * frames / exact:.3f} "
                             f"beats at {tempo:g} bpm, not {beats}: the DAW would import the "
                             "loop at the wrong tempo")

    width = SUBTYPES[subtype]
    data = pack_frames(x, subtype, gains)      # raises on NaN or infinite samples
    fmt = _fmt_chunk(channels, rate, width, subtype == "FLOAT")
    chunks = [(b"fmt ", fmt)]
    if subtype == "FLOAT":
        chunks.append((b"fact", struct.pack("<I", frames)))
    flags = (ACID_ONE_SHOT if not loop else 0) | ACID_STRETCH
    numerator, denominator = meter
    chunks.append((b"acid", struct.pack("<IHHfIHHf", flags, 60, 0x8000, 0.0, beats,
                                        int(denominator), int(numerator), tempo)))
    period_ns = int(round(1e9 / rate))
    loops = [(0, 0, 0, frames - 1, 0, 0)] if loop else []
    smpl = struct.pack("<9I", 0, 0, period_ns, 60, 0, 0, 0, len(loops), 0)
    for lp in loops:
        smpl += struct.pack("<6I", *lp)
    chunks.append((b"smpl", smpl))

    body = b"".join(_chunk(cid, payload) for cid, payload in chunks)
    pad = len(data) & 1
    riff_size = 4 + len(body) + 8 + len(data) + pad
    if riff_size > 0xFFFFFFFF:
        raise ValueError("audio too long for a WAV file (over 4 GiB)")
    header = (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + body
              + b"data" + struct.pack("<I", len(data)))
    if pad:
        data += b"\x00"
    return header, data


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def _fmt_chunk(channels: int, rate: int, width: int, is_float: bool) -> bytes:
    block = channels * width
    tag = WAVE_FORMAT_IEEE_FLOAT if is_float else WAVE_FORMAT_PCM
    common = struct.pack("<IIHH", rate, rate * block, block, 8 * width)
    if channels > 2:
        sub = struct.pack("<H", tag) + _GUID_TAIL
        return (struct.pack("<HH", WAVE_FORMAT_EXTENSIBLE, channels) + common
                + struct.pack("<HHI", 22, 8 * width, 0) + sub)
    fmt = struct.pack("<HH", tag, channels) + common
    return fmt + struct.pack("<H", 0) if is_float else fmt   # cbSize for non-PCM tags


def read_chunk_ids(path: str | os.PathLike) -> list[tuple[bytes, int, int]]:
    """(id, offset of payload, size) of every top-level chunk; for checks and debugging."""
    out = []
    with open(Path(path), "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        pos = 12
        while True:
            f.seek(pos)
            h = f.read(8)
            if len(h) < 8:
                break
            cid, size = h[:4], struct.unpack("<I", h[4:])[0]
            out.append((cid, pos + 8, size))
            pos += 8 + size + (size & 1)
    return out
