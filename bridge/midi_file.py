"""A drum pattern as a Standard MIDI File: General MIDI drums on channel 10, at the loop's tempo.

    mid = pattern_midi(pattern, tempo_bpm=97.3, bars=2)   # a mido.MidiFile
    mid.save("loop.mid")

Type 0 (one track), PPQ 480: a sixteenth is 120 ticks. Each hit is a note_on at
round((bar * steps + step + offset) * ticks_per_step) (its micro-timing kept to the tick; a hit
pushed before the downbeat wraps to the end, as in the audio) on MIDI channel 10 (mido channel 9),
velocity max(1, round(127 * v)), and a note_off NOTE_TICKS later (a 32nd; drum notes ring by
themselves) or at the loop end, whichever is first. The track holds a track name, the tempo
(microseconds per quarter note, rounded to the microsecond: 97.3 bpm is stored as 616,650 us =
97.30007 bpm), the time signature, and ends exactly at the loop end, so a DAW sees a clip of
`bars` bars.
"""
from __future__ import annotations

import mido

PPQ = 480
CHANNEL = 9              # mido counts from 0: General MIDI's drum channel 10
NOTE_TICKS = 60          # note length, ticks (a 32nd note)


def velocity_127(v: float) -> int:
    return max(1, min(127, int(round(127.0 * float(v)))))


def note_events(pattern, bars: int = 1, ppq: int = PPQ) -> list[tuple[int, int, int]]:
    """(tick, note, velocity 1..127) of every hit, sorted by tick then note, over `bars` bars."""
    per_step = ppq * pattern.beats_per_bar / pattern.steps
    total = int(round(bars * pattern.steps * per_step))
    out = []
    for j in range(bars):
        for voice in pattern.voices:
            for h in voice.hits:
                tick = int(round((j * pattern.steps + h.step + h.offset_steps) * per_step)) % total
                out.append((tick, voice.note, velocity_127(h.velocity)))
    return sorted(out)


def pattern_midi(pattern, tempo_bpm: float, bars: int = 1, name: str = "BeatGAN",
                 ppq: int = PPQ) -> mido.MidiFile:
    """The pattern repeated `bars` times as a type-0 MIDI file at tempo_bpm."""
    if not 1 <= int(bars) == bars:
        raise ValueError(f"bars must be a whole number >= 1, got {bars!r}")
    total = int(round(bars * pattern.beats_per_bar * ppq))
    timed = []                                   # (absolute tick, order, message)
    for tick, note, vel in note_events(pattern, bars, ppq):
        timed.append((tick, 1, mido.Message("note_on", channel=CHANNEL, note=note, velocity=vel)))
        off = min(tick + NOTE_TICKS, total)
        timed.append((off, 0, mido.Message("note_off", channel=CHANNEL, note=note, velocity=0)))
    # At one tick, note_offs go first: a note that ends where the same note starts again
    # must not cut the new one.
    timed.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name[:64], time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=pattern.beats_per_bar,
                                  denominator=4, clocks_per_click=24,
                                  notated_32nd_notes_per_beat=8, time=0))
    now = 0
    for tick, _, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=total - now))
    mid = mido.MidiFile(type=0, ticks_per_beat=ppq)
    mid.tracks.append(track)
    return mid


def midi_bytes(mid: mido.MidiFile) -> bytes:
    """The file's bytes (for an atomic write)."""
    import io

    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
