"""The audio sink: loop the latest bar on an audio device, switching bars on the bar line.

`LoopPlayer` is the pure part (no device): it fills output blocks from the current loop, wraps
without a gap, and swaps in a queued loop exactly when the current one wraps. `AudioSink` is the
thin PortAudio edge around it (sounddevice, imported lazily so the daemon starts without
PortAudio and says so).
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np


class AudioUnavailable(Exception):
    """No audio output: no PortAudio, no device, or the device refused to open."""


class LoopPlayer:
    """Loops one (channels, n) float32 buffer; the next buffer starts at the loop's end.

    Thread-safe: `process` runs on the audio thread, the rest on others. The lock is only held
    to swap references and copy one block.
    """

    def __init__(self, channels: int):
        self.channels = channels
        self._current: np.ndarray | None = None   # (n, channels), frame-major like the device
        self._current_beats = 0.0
        self._pending: tuple[np.ndarray, float] | None = None
        self._pos = 0
        self.playing = False
        self.loops_started = 0                    # how many loops began (a switch or a wrap)
        self._lock = threading.Lock()

    def _frames(self, audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        assert audio.ndim == 2 and audio.shape[1] > 0, \
            f"expected audio (channels, samples), got shape {audio.shape}"
        if audio.shape[0] != self.channels:
            # A mono device gets the mix; a stereo device gets a mono bar on both sides.
            audio = (np.repeat(audio, self.channels, axis=0) if audio.shape[0] == 1
                     else np.broadcast_to(audio.mean(axis=0, keepdims=True),
                                          (self.channels, audio.shape[1])))
        return np.ascontiguousarray(audio.T)

    def queue(self, audio: np.ndarray, beats: float) -> None:
        """Make `audio` (channels, n) the loop: now when stopped, at the next wrap when playing.
        A loop queued while another is still waiting replaces it (the latest bar wins)."""
        frames = self._frames(audio)
        with self._lock:
            if self.playing and self._current is not None:
                self._pending = (frames, beats)
            else:
                self._current, self._current_beats, self._pos = frames, beats, 0
                self._pending = None

    def play(self, beat_position: float | None = None, ahead_frames: int = 0) -> None:
        """Start looping. With a known song position (MIDI clock, Link), start at the matching
        point of the loop so the bar lines agree with the host's; `ahead_frames` (the device's
        output latency) is added, since what is written now is heard that much later."""
        with self._lock:
            if self.playing:
                return
            self.playing = True
            self._pos = 0
            if self._current is not None and beat_position is not None and self._current_beats:
                n = len(self._current)
                phase = (beat_position % self._current_beats) / self._current_beats
                self._pos = (int(phase * n) + ahead_frames) % n

    def stop(self) -> None:
        with self._lock:
            self.playing = False
            if self._pending is not None:
                (self._current, self._current_beats), self._pending = self._pending, None
            self._pos = 0

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def process(self, out: np.ndarray) -> None:
        """Fill `out` (frames, channels) in place: the loop, or silence when stopped."""
        with self._lock:
            cur = self._current
            if not self.playing or cur is None:
                out.fill(0.0)
                return
            frames, i, pos = len(out), 0, self._pos
            while i < frames:
                take = min(frames - i, len(cur) - pos)
                out[i:i + take] = cur[pos:pos + take]
                i += take
                pos += take
                if pos == len(cur):
                    pos = 0
                    self.loops_started += 1
                    if self._pending is not None:
                        (cur, self._current_beats), self._pending = self._pending, None
                        self._current = cur
            self._pos = pos


class AudioSink:
    """A PortAudio output stream that plays a LoopPlayer. Opened once at start-up and kept open
    (silent while stopped), so play starts without the latency of opening a device."""

    def __init__(self, device: str = "", channels: int = 2,
                 beat_position: Callable[[], float | None] | None = None):
        self.spec = device
        self.want_channels = channels
        self.beat_position = beat_position or (lambda: None)
        self.rate = 0
        self.name = ""
        self.player: LoopPlayer | None = None
        self.underflows = 0
        self._stream = None

    def open(self) -> "AudioSink":
        try:
            import sounddevice as sd
        except (OSError, ImportError) as e:
            raise AudioUnavailable(f"PortAudio is not available ({e}); install libportaudio2 "
                                   "(Debian/Ubuntu) or portaudio (Homebrew)") from None
        index = self._pick(sd)
        info = sd.query_devices(index)
        channels = min(self.want_channels, int(info["max_output_channels"]))
        rate = int(info["default_samplerate"])
        self.player = LoopPlayer(channels)
        try:
            self._stream = sd.OutputStream(device=index, samplerate=rate, channels=channels,
                                           dtype="float32", callback=self._callback)
            self._stream.start()
        except sd.PortAudioError as e:
            self._stream = None
            raise AudioUnavailable(f"could not open audio device {info['name']!r} at {rate} Hz "
                                   f"({e})") from None
        hostapi = sd.query_hostapis(info["hostapi"])["name"]
        self.rate, self.name = rate, f"{info['name']} [{index}, {hostapi}]"
        return self

    def _pick(self, sd) -> int:
        devices = sd.query_devices()
        outputs = [(i, d["name"]) for i, d in enumerate(devices) if d["max_output_channels"] > 0]
        listing = "; ".join(f"{i}: {n}" for i, n in outputs) or "none"
        if not outputs:
            raise AudioUnavailable("PortAudio sees no audio output device")
        spec = self.spec.strip()
        if not spec:
            index = sd.default.device[1]
            if index is None or index < 0:
                index = outputs[0][0]
            return int(index)
        if spec.lstrip("-").isdigit():
            index = int(spec)
            if index not in dict(outputs):
                raise AudioUnavailable(f"no audio output device {index}; outputs: {listing}")
            return index
        exact = [i for i, n in outputs if n == spec]
        matches = exact or [i for i, n in outputs if spec.lower() in n.lower()]
        if len(matches) != 1:
            what = "no" if not matches else "more than one"
            raise AudioUnavailable(f"{what} audio output device matches {spec!r}; outputs: "
                                   f"{listing}")
        return matches[0]

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.underflows += 1  # counted, reported in /beatgan/status; no logging on this thread
        self.player.process(outdata)

    def show(self, audio: np.ndarray, beats: float) -> None:
        self.player.queue(audio, beats)

    def play(self) -> None:
        latency_s = float(self._stream.latency) if self._stream is not None else 0.0
        self.player.play(self.beat_position(), ahead_frames=int(round(latency_s * self.rate)))

    def stop(self) -> None:
        self.player.stop()

    @property
    def playing(self) -> bool:
        return bool(self.player and self.player.playing)

    def describe(self) -> str:
        state = "playing" if self.playing else "stopped"
        return f"{self.name} at {self.rate} Hz, {state}"

    def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.stop()
            stream.close()
