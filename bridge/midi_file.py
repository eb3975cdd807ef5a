"""A drum pattern as a Standard MIDI File: General MIDI drums on channel 10, at the loop's tempo.

    data = pattern_midi(pattern, tempo_bpm=97.3, bars=2)  # the file's bytes
    Path("loop.mid").write_bytes(data)

Type 0 (one track), PPQ 480: a sixteenth is 120 ticks. Each hit is a note_on at
round((bar * steps + step + offset) * ticks_per_step) (its micro-timing kept to the tick; a hit
pushed before the downbeat wraps to the end, as in the audio) on MIDI channel 10 (mido channel 9),
velocity max(1, round(127 * v)), and a note_off NOTE_TICKS later (a 32nd; drum notes ring by
themselves) or at the loop end, whichever is first. The track holds a track name, the tempo
(microseconds per quarter note, rounded to the microsecond: 97.3 bpm is stored as 616,650 us =
97.29993 bpm), the time signature, and ends exactly at the loop end, so a DAW sees a clip of
`bars` bars.
"""
from __future__ import annotations

PPQ = 480
CHANNEL = 9              # mido counts from 0: General MIDI's drum channel 10
NOTE_TICKS = 60          # note length, ticks (a 32nd note)


def velocity_127(v: float) -> int:
    return max(1, min(127, int(round(127.0 * float(v)))))


def note_events(pattern, bars: int = 1, ppq: int = PPQ) -> list[tuple[int, int, int]]:
    """(tick, note, velocity 1..127) of every hit, sorted by tick then note, over `bars` bars.
    Two voices that map to the same note and hit on the same tick make one note, at the
    louder velocity (a DAW would merge or cut the doubled note anyway)."""
    per_step = ppq * pattern.beats_per_bar / pattern.steps
    total = int(round(bars * pattern.steps * per_step))
    loudest: dict[tuple[int, int], int] = {}
    for j in range(bars):
        for voice in pattern.voices:
            for h in voice.hits:
                tick = int(round((j * pattern.steps + h.step + h.offset_steps) * per_step)) % total
                key = (tick, voice.note)
                loudest[key] = max(loudest.get(key, 0), velocity_127(h.velocity))
    return sorted((tick, note, vel) for (tick, note), vel in loudest.items())


def pattern_midi(pattern, tempo_bpm: float, bars: int = 1, name: str = "BeatGAN",
                 ppq: int = PPQ) -> bytes:
    """The pattern repeated `bars` times as the bytes of a type-0 MIDI file at tempo_bpm.

    Written here, not through mido's objects (5 ms for a busy bar, more than the rest of a bar
    with its stems); the tests read every file back with mido."""
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
        raise ValueError(f"bars must be a whole number >= 1, got {bars!r}")
    total = int(round(bars * pattern.beats_per_bar * ppq))
    timed = []                                   # (absolute tick, 0 = off / 1 = on, note, vel)
    for tick, note, vel in note_events(pattern, bars, ppq):
        timed.append((tick, 1, note, vel))
        timed.append((min(tick + NOTE_TICKS, total), 0, note, 0))
    # At one tick, note_offs go first: a note that ends where the same note starts again
    # must not cut the new one.
    timed.sort(key=lambda e: (e[0], e[1]))
    title = name.encode("utf-8", "replace")[:64]
    tempo_us = tempo_microseconds(tempo_bpm)
    beats_log2 = 2                               # the meter's denominator, 4, as a power of 2
    ev = bytearray()
    ev += b"\x00\xff\x03" + _vlq(len(title)) + title
    ev += b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big")
    ev += bytes([0, 0xFF, 0x58, 4, pattern.beats_per_bar, beats_log2, 24, 8])
    now = 0
    for tick, on, note, vel in timed:
        ev += _vlq(tick - now) + bytes([(0x90 if on else 0x80) | CHANNEL, note, vel])
        now = tick
    ev += _vlq(total - now) + b"\xff\x2f\x00"
    head = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") \
        + int(ppq).to_bytes(2, "big")
    return head + b"MTrk" + len(ev).to_bytes(4, "big") + bytes(ev)


def tempo_microseconds(tempo_bpm: float) -> int:
    """Microseconds per quarter note, as a MIDI tempo event stores it (rounded)."""
    us = int(round(60_000_000 / float(tempo_bpm)))
    if not 0 < us < 2 ** 24:
        raise ValueError(f"tempo {tempo_bpm!r} bpm does not fit a MIDI tempo event")
    return us


def _vlq(n: int) -> bytes:
    """A MIDI variable-length quantity (7 bits a byte, high bit = more follows)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))
